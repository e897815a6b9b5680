"""The ``firmware-lane`` command line.

    firmware-lane [--config FILE] run
    firmware-lane [--config FILE] catalog import FILE
    firmware-lane [--config FILE] cashier add ID --role cashier|supervisor
    firmware-lane [--config FILE] config check

PINs are read from a prompt (twice) or, when stdin is not a terminal, from its
first line: never from the command line, where ``ps`` and shell history see them.
Exit codes: 0 done, 1 refused or failed (the reason on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from firmware_app import __version__
from firmware_app import config as config_mod
from firmware_app.errors import LaneError
from firmware_app.lane.ports import Role

DEFAULT_CONFIG = "/etc/firmware-lane/lane.toml"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except LaneError as e:
        print(f"firmware-lane: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firmware-lane", description="Checkout lane controller")
    parser.add_argument("--version", action="version", version=f"firmware-lane {__version__}")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file ({DEFAULT_CONFIG})")
    # --config is accepted after the subcommand too: `firmware-lane run --config FILE`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", dest="config_opt", metavar="FILE", help="config file")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the lane daemon", parents=[common])
    run.set_defaults(func=_run)

    catalog = sub.add_parser("catalog", help="catalog commands").add_subparsers(
        dest="catalog_command", required=True
    )
    imp = catalog.add_parser("import", help="import a store.catalog/1 document", parents=[common])
    imp.add_argument("file")
    imp.set_defaults(func=_catalog_import)

    cashier = sub.add_parser("cashier", help="cashier accounts").add_subparsers(
        dest="cashier_command", required=True
    )
    add = cashier.add_parser(
        "add", help="add or replace a cashier (PIN from prompt or stdin)", parents=[common]
    )
    add.add_argument("id")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.CASHIER.value)
    add.set_defaults(func=_cashier_add)

    cfg = sub.add_parser("config", help="config commands").add_subparsers(
        dest="config_command", required=True
    )
    check = cfg.add_parser("check", help="validate the config file", parents=[common])
    check.set_defaults(func=_config_check)
    return parser


def _config(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load(args.config_opt or args.config)


def _run(args: argparse.Namespace) -> int:
    from firmware_app.bootstrap import run_daemon

    return run_daemon(_config(args))


def _open_db(config: config_mod.Config):
    from firmware_app.store.db import open_database

    return open_database(config.database)


def _catalog_import(args: argparse.Namespace) -> int:
    from firmware_app.store.catalog import StoreCatalog
    from firmware_app.store.catalog_doc import parse_catalog

    config = _config(args)
    try:
        raw = Path(args.file).read_bytes()
    except OSError as e:
        print(f"firmware-lane: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        change = parse_catalog(raw)
    except LaneError as e:
        print(f"firmware-lane: {args.file}: {e}", file=sys.stderr)
        return 1
    from firmware_app.store.db import open_catalog

    catalog = StoreCatalog(open_catalog(config.catalog_database))
    catalog.apply(change)
    print(
        f"catalog version {change.version}: {len(change.items)} items, "
        f"{len(change.removed)} removed; {catalog.count()} items in the lane"
    )
    return 0


def _read_pin() -> str:
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            print("firmware-lane: the PINs differ", file=sys.stderr)
            raise SystemExit(1)
        return pin
    return sys.stdin.readline().strip()


def _cashier_add(args: argparse.Namespace) -> int:
    from firmware_app.store.cashiers import Cashiers

    config = _config(args)
    pin = _read_pin()
    Cashiers(_open_db(config)).add(args.id, Role(args.role), pin, now=datetime.now().astimezone())
    print(f"cashier {args.id} ({args.role}) saved")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    config = _config(args)
    print(f"{config.path}: ok (store {config.store}, lane {config.lane})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
