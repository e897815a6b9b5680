"""``python -m hw_sim``: run a whole lane on simulated hardware from a script.

``--script FILE`` runs the file's commands; ``--script -`` (or no ``--script``) reads
them from the console, one per line, as they are typed: a bad line is reported and
the next one read, and the run ends at end of input.

Exit codes: 0 the script ran and the lane handled all of it; 2 a bad script
line or option (``FILE:LINE: reason``); 1 the lane did not do what a line asked.
``python -m hw_sim --doctor [--fault NAME ...]`` runs ``firmware-lane doctor``'s
checks against the simulated devices instead (exit code: the doctor's).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from hw_sim.doctor import FAULTS as DOCTOR_FAULTS
from hw_sim.script import Command, ScriptError, load_script, parse_script

log = logging.getLogger("hw_sim")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hw_sim", description=__doc__.splitlines()[0])
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--script",
        default="-",
        help="script file (see README: The simulated lane); - or none: commands from the console",
    )
    what.add_argument(
        "--doctor", action="store_true", help="run the doctor's checks on the simulated devices"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted(DOCTOR_FAULTS),
        metavar="NAME",
        help=f"with --doctor: a fault to simulate (repeatable): {', '.join(DOCTOR_FAULTS)}",
    )
    p.add_argument("--catalog", type=Path, help="store.catalog/1 file (default: the sample)")
    p.add_argument("--broker", help="mqtt://HOST:PORT (default: a private mosquitto)")
    p.add_argument("--store", default="S001", help="store id (S001)")
    p.add_argument("--lane", default="01", help="lane id (01)")
    p.add_argument("--data-dir", type=Path, help="the lane's data directory (default: temporary)")
    p.add_argument("--out", type=Path, default=Path("out"), help="receipts and logs (./out)")
    p.add_argument("--store-server", action="store_true", help="also run a simulated store server")
    p.add_argument(
        "--members",
        type=Path,
        metavar="FILE",
        help="with --store-server: its members file (e.g. hw_sim/samples/members.json); "
        "without it the store server answers no member requests",
    )
    p.add_argument(
        "--ui",
        type=_port,
        metavar="PORT",
        help="serve the cashier's screen at http://127.0.0.1:PORT/ and the customer display "
        "at /customer while the script runs",
    )
    p.add_argument(
        "--ui-token",
        metavar="TOKEN",
        help="with --ui: serve on every address, as a lane with [ui] listen 0.0.0.0:PORT and "
        "this token does (16+ letters and digits): pages open http://HOST:PORT/?token=TOKEN",
    )
    p.add_argument(
        "--pole",
        default="cd5220",
        choices=("cd5220", "escpos", "led8"),
        help="the customer display's command set (cd5220); what it shows: OUT/customer-display.log",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return p


def console_commands() -> Iterator[Command]:
    """Commands as they are typed on the console (stdin); a bad line is reported, and
    skipped. A prompt only when a person types."""
    prompt = sys.stdin.isatty()
    number = 0
    while True:
        if prompt:
            print("hw_sim> ", end="", flush=True)
        raw = sys.stdin.readline()
        if not raw:
            return
        number += 1
        try:
            parsed = parse_script(raw, source="console", first_line=number)
        except ScriptError as e:
            print(f"hw_sim: {e}", file=sys.stderr, flush=True)
            continue
        yield from parsed


def _ui_overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    if not args.ui_token:
        return {}
    return {"ui": {"listen": f"0.0.0.0:{args.ui}", "token": args.ui_token}}


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


@contextlib.contextmanager
def _broker(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    from hw_sim.broker import MosquittoBroker

    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        print(
            "hw_sim: mosquitto is not installed: the lane runs offline "
            "(apt-get install mosquitto, or pass --broker)"
        )
        yield None
        return
    with MosquittoBroker() as broker:
        print(f"hw_sim: private broker at {broker.url}")
        yield broker.url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.data_dir is not None:  # the lane's config takes absolute paths only
        args.data_dir = args.data_dir.absolute()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.doctor:
        return _doctor(args)
    if args.fault:
        print("hw_sim: --fault goes with --doctor", file=sys.stderr)
        return 2
    if args.ui_token is not None:
        from firmware_app.config import ConfigError, parse

        try:
            ui = {"listen": f"0.0.0.0:{args.ui or 8080}", "token": args.ui_token}
            problem = parse({"lane": {"store": "S1", "lane": "1"}, "ui": ui}).ui_problem
        except ConfigError as e:
            problem = str(e)
        if args.ui is None or problem:
            print(f"hw_sim: --ui-token: {problem or 'goes with --ui PORT'}", file=sys.stderr)
            return 2
    console = args.script == "-"
    try:
        commands: Iterable[Command] = console_commands() if console else load_script(args.script)
    except ScriptError as e:
        print(f"hw_sim: {e}", file=sys.stderr)
        return 2
    if args.catalog is not None:
        problem = _catalog_problem(args.catalog)
        if problem:
            print(f"hw_sim: --catalog {args.catalog}: {problem}", file=sys.stderr)
            return 2

    from firmware_app.errors import CatalogError
    from hw_sim.lane_sim import SimError, SimLane, SimOptions

    with _broker(args.broker) as url:
        try:
            sim = SimLane(
                SimOptions(
                    out=args.out,
                    data_dir=args.data_dir,
                    catalog=args.catalog,
                    broker_url=url,
                    store=args.store,
                    lane=args.lane,
                    ui_port=args.ui,
                    overrides=_ui_overrides(args),
                    pole=args.pole,
                )
            )
        except CatalogError as e:  # a well-formed file the lane refuses (a delta, say)
            print(f"hw_sim: --catalog {args.catalog}: {e}", file=sys.stderr)
            return 2
        # The store server's database lives beside the lane's: a fresh lane (seq from 1)
        # meets a fresh store server, a kept lane the store server that knows it.
        server = (
            _store_server(url, sim.data_dir, args.members, args.catalog)
            if args.store_server and url
            else None
        )
        try:
            if args.ui is not None:
                address = f"http://127.0.0.1:{args.ui}/"
                print(
                    f"hw_sim: cashier's screen at {address} (customer display: {address}customer)",
                    flush=True,
                )
            sim.start()
            if args.ui is not None and (sim.app.screen is None or not sim.app.screen.running()):
                print(
                    f"hw_sim: --ui {args.ui}: the screen could not start (see the log)",
                    file=sys.stderr,
                )
                return 2
            for command in commands:
                try:
                    sim.run(command)
                except SimError as e:
                    where = "console" if console else args.script
                    print(f"hw_sim: {where}:{command.line}: {command.text}: {e}", file=sys.stderr)
                    if not console:
                        return 1
            sim.wait_idle()
            if server is not None:
                _wait_acked(sim)
            _summary(sim, server)
        finally:
            if server is not None:
                server.close()
            sim.close()
    return 0


def _catalog_problem(path: Path) -> str:
    """Why ``path`` is no catalog file (as the lane's ``catalog import`` says it), or ''."""
    from firmware_app.errors import CatalogError
    from firmware_app.store.catalog_doc import parse_catalog

    if not path.is_file():
        return "no such file"
    try:
        parse_catalog(path.read_bytes())
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    except CatalogError as e:
        return str(e)
    return ""


def _doctor(args: argparse.Namespace) -> int:
    from hw_sim import doctor

    with _broker(args.broker) as url:
        return doctor.run(
            faults=args.fault,
            broker_url=url or doctor.OFFLINE_URL,
            data_dir=args.data_dir,
            out=args.out,
            store=args.store,
            lane=args.lane,
        )


def _store_server(
    url: str, data_dir: Path, members_file: Path | None = None, catalog: Path | None = None
):
    """The simulated store server beside the lane: it answers about members (with a
    members file) and prices every sale again from the catalog the lane has."""
    from hw_sim.lane_sim import SAMPLE_CATALOG
    from hw_sim.store_server import StoreServer
    from hw_sim.store_server.members import load_members
    from hw_sim.store_server.recompute import load_price_book

    def show(topic: str, message: dict) -> None:
        import json

        print(f"mqtt: {topic} {json.dumps(message, ensure_ascii=False, separators=(',', ':'))}")

    members = load_members(members_file) if members_file is not None else None  # members
    prices = load_price_book(catalog or SAMPLE_CATALOG)
    server = StoreServer(
        url, data_dir / "store-server.db", on_message=show, members=members, prices=prices
    )
    server.start()
    return server


def _wait_acked(sim, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while sim.app.outbox.stats().pending and time.monotonic() < deadline:
        time.sleep(0.05)
    pending = sim.app.outbox.stats().pending
    if pending:
        print(f"hw_sim: {pending} messages still unacknowledged (the lane keeps them)")


def _summary(sim, server) -> None:
    stats = sim.app.outbox.stats()
    print(
        f"hw_sim: done: {len(sim.printer.receipts)} receipts in {sim.options.out}, "
        f"{stats.next_seq - 1} messages queued, {stats.pending} unacknowledged"
    )
    if server is not None:
        differ = len(server.price_problems)
        print(
            f"hw_sim: store server: {server.sales_checked} sales priced again from the catalog, "
            f"{differ} differ" + ("" if not differ else f": {server.price_problems}")
        )


if __name__ == "__main__":
    sys.exit(main())
