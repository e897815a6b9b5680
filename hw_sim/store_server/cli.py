"""The command line: ``python -m hw_sim.store_server`` serves lanes or publishes a catalog.

Run it next to a lane::

    python -m hw_sim.store_server --broker mqtt://127.0.0.1:1883 --db store.db
    python -m hw_sim.store_server --broker mqtt://127.0.0.1:1883 --db store.db \\
        --members hw_sim/samples/members.json --check-prices catalog.json
    python -m hw_sim.store_server --broker mqtt://127.0.0.1:1883 \\
        --publish-catalog catalog.json --store S001

On a store's broker (docs/mosquitto) it logs in like the real one::

    python -m hw_sim.store_server --broker mqtts://broker:8883 --db store.db \\
        --username store-server --password-file pw.txt --ca-file store-ca.crt

Serving, it prints each message it receives as one line, ``TOPIC JSON``, and
stops on SIGTERM or SIGINT; a bad option or an unreachable broker exits 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from firmware_app.sync.contract import ContractError
from hw_sim.store_server.catalog import PART_ITEMS, publish_catalog
from hw_sim.store_server.errors import StoreServerError
from hw_sim.store_server.link import BrokerLogin
from hw_sim.store_server.members import load_members
from hw_sim.store_server.recompute import load_price_book
from hw_sim.store_server.server import StoreServer

log = logging.getLogger(__name__)

DESCRIPTION = (
    "A simulated store server: the other end of the MQTT contract, for tests and the bench."
)


def _print_line(topic: str, message: dict[str, Any]) -> None:
    print(f"{topic} {json.dumps(message, ensure_ascii=False, separators=(',', ':'))}", flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hw_sim.store_server", description=DESCRIPTION)
    p.add_argument("--broker", required=True, help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    p.add_argument("--db", type=Path, help="the server's SQLite file")
    p.add_argument("--root", default="pos", help="topic root (pos)")
    p.add_argument(
        "--publish-catalog",
        type=Path,
        metavar="FILE",
        help="publish a store.catalog/1 file to {root}/{store}/catalog and exit",
    )
    p.add_argument(
        "--members",
        type=Path,
        metavar="FILE",
        help="members file (JSON list of number, name, status, points): answer member "
        "requests and keep points (without it: no answers)",
    )
    p.add_argument(
        "--check-prices",
        type=Path,
        metavar="FILE",
        help="the store.catalog/1 snapshot the lanes were sent: price every sale received "
        "again from it and log each difference",
    )
    p.add_argument("--store", help="store id (with --publish-catalog)")
    p.add_argument(
        "--part-items",
        type=int,
        default=PART_ITEMS,
        metavar="N",
        help=f"with --publish-catalog: parts of at most N items ({PART_ITEMS})",
    )
    p.add_argument("--username", default="", help="the broker's username for the store server")
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="a file whose first line is the password (never on the command line)",
    )
    p.add_argument("--ca-file", default="", metavar="FILE", help="CA of an mqtts:// broker")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.publish_catalog is not None:
            if not args.store:
                raise StoreServerError("--publish-catalog needs --store ID")
            topic = publish_catalog(
                args.broker,
                args.publish_catalog,
                store=args.store,
                root=args.root,
                login=_login(args),
                part_items=max(1, args.part_items),
            )
            print(f"published {args.publish_catalog} to {topic}")
            return 0
        if args.db is None:
            raise StoreServerError("--db FILE is required")
        return _serve(args)
    except (StoreServerError, ContractError, OSError) as e:
        print(f"store_server: {e}", file=sys.stderr)
        return 2


def _login(args: argparse.Namespace) -> BrokerLogin:
    """Username, password (the first line of ``--password-file``) and CA file, if given."""
    password = ""
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    if password and not args.username:
        raise StoreServerError("--password-file needs --username")
    return BrokerLogin(args.username, password, args.ca_file)


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    login = _login(args)
    members = load_members(args.members) if args.members is not None else None  # members
    prices = load_price_book(args.check_prices) if args.check_prices is not None else None
    with StoreServer(
        args.broker,
        args.db,
        on_message=_print_line,
        root=args.root,
        login=login,
        members=members,
        prices=prices,
    ):
        log.info("store server listening on %s", args.broker)
        stop.wait()
    return 0
