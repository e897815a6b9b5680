"""The ``firmware-lane`` command line.

    firmware-lane [--config FILE] run
    firmware-lane [--config FILE] catalog import FILE [--allow-older]
    firmware-lane [--config FILE] cashier add ID --role cashier|supervisor|technician
    firmware-lane [--config FILE] config check
    firmware-lane [--config FILE] backup
    firmware-lane [--config FILE] restore FILE [--force] [--store-seq N] [--store-receipt N]
    firmware-lane [--config FILE] journal verify
    firmware-lane [--config FILE] doctor
    firmware-lane [--config FILE] test-print

PINs are read from a prompt (twice) or, when stdin is not a terminal, from its
first line: never from the command line, where ``ps`` and shell history see them.
Exit codes: 0 done, 1 refused or failed (the reason on stderr), 2 bad usage; ``run``
gives 78 (``EX_CONFIG``) for a config it cannot run with, which systemd does not
restart (the unit's ``RestartPreventExitStatus``): a restart would fail the same way.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import pwd
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from firmware_app import __version__
from firmware_app import config as config_mod
from firmware_app.app.config_check import check_files
from firmware_app.app.logs import reset_logging, setup_logging
from firmware_app.errors import ConfigError, LaneError
from firmware_app.lane.ports import Role

DEFAULT_CONFIG = "/etc/firmware-lane/lane.toml"
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG; systemd/firmware-lane.service does not restart on it

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Logs go to stderr, so that stdout is the command's answer; `run` logs to stdout
    # (the journal) at the config's level once the config is read.
    setup_logging("info", sys.stderr)
    try:
        return int(args.func(args))
    except LaneError as e:
        print(f"firmware-lane: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    finally:
        reset_logging()


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
    imp.add_argument(
        "--allow-older",
        action="store_true",
        help="replace the lane's catalog even with an older version (going back on purpose)",
    )
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

    doctor = sub.add_parser(
        "doctor", help="check devices, broker, databases, disk and clock", parents=[common]
    )
    doctor.set_defaults(func=_doctor)
    test_print = sub.add_parser(
        "test-print", help="print a test receipt with the printer settings", parents=[common]
    )
    test_print.set_defaults(func=_test_print)

    backup = sub.add_parser(
        "backup", help="back up the databases to backup.dir (online)", parents=[common]
    )
    backup.set_defaults(func=_backup)
    restore = sub.add_parser(
        "restore", help="restore lane.db from a backup (the lane stopped)", parents=[common]
    )
    restore.add_argument("file", help="a backup's .lane.db file")
    restore.add_argument(
        "--force", action="store_true", help="restore another lane's backup or a broken journal"
    )
    restore.add_argument(
        "--store-seq",
        type=int,
        metavar="N",
        help="the store server holds this lane's messages up to seq N",
    )
    restore.add_argument(
        "--store-receipt",
        type=int,
        metavar="N",
        help="the highest receipt number the store server holds for this lane",
    )
    restore.set_defaults(func=_restore)
    journal = sub.add_parser("journal", help="journal commands").add_subparsers(
        dest="journal_command", required=True
    )
    verify = journal.add_parser(
        "verify", help="verify the journal's hash chain and the sales", parents=[common]
    )
    verify.set_defaults(func=_journal_verify)
    # Training mode, cash movements, reports:
    report = sub.add_parser(
        "report", help="print a day's X or Z report from the lane's store", parents=[common]
    )
    report.add_argument("kind", choices=("x", "z"), help="x: the day so far; z: a closed day")
    report.add_argument(
        "--date", metavar="YYYY-MM-DD", help="the business date (default: today, lane time)"
    )
    report.set_defaults(func=_report)
    return parser


def _config(args: argparse.Namespace) -> config_mod.Config:
    config = config_mod.load(args.config_opt or args.config)
    _as_data_owner(config)
    return config


def _as_data_owner(config: config_mod.Config) -> None:
    """Under ``sudo``, become the user who owns ``data_dir`` (``lane``) before touching it.

    A technician runs ``sudo firmware-lane restore|backup|doctor|cashier add``; as root,
    SQLite would leave ``lane.db``, its ``-wal``/``-shm`` files or a lock file owned by
    root, and the daemon (user ``lane``) could no longer write its own database. As the
    owner, with the owner's groups (input, dialout, gpio), every command sees and writes
    exactly what the daemon does.
    """
    if os.geteuid() != 0:
        return
    try:
        owner = os.stat(config.data_dir)
    except OSError:
        return  # no data dir yet: nothing of the lane's to keep writable
    if owner.st_uid == 0:
        return
    try:
        user = pwd.getpwuid(owner.st_uid)
        os.initgroups(user.pw_name, user.pw_gid)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    except (KeyError, OSError) as e:
        raise LaneError(
            f"{config.data_dir}: cannot act as its owner (uid {owner.st_uid}): {e}"
        ) from e
    logging.getLogger(__name__).debug(
        "acting as %s, the owner of %s", user.pw_name, config.data_dir
    )


def _run(args: argparse.Namespace) -> int:
    """The daemon. A config it cannot run with is one line on stderr (the journal) and
    ``EXIT_CONFIG``; a problem it can run with (a TLS file: the lane sells offline) is
    logged as an error and the lane starts."""
    from firmware_app.app.bootstrap import run_daemon

    try:
        config = _config(args)
        problems = check_files(config)
        fatal = [p.text for p in problems if p.fatal]
        if fatal:
            raise ConfigError("\n".join(fatal))
    except ConfigError as e:
        print("\n".join(f"firmware-lane: {line}" for line in str(e).splitlines()), file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(config.log_level, sys.stdout, secrets=[config.mqtt.password])
    for problem in problems:
        log.error("%s", problem.text)
    try:
        return run_daemon(config)
    except ConfigError as e:  # found while starting (the display would not open)
        print(f"firmware-lane: {e}", file=sys.stderr)
        return EXIT_CONFIG


def _open_db(config: config_mod.Config):
    from firmware_app.store.db import open_database

    return open_database(config.database)


def _catalog_import(args: argparse.Namespace) -> int:
    from firmware_app.errors import CatalogError, CatalogOlder
    from firmware_app.store.catalog import StoreCatalog
    from firmware_app.store.catalog_doc import parse_catalog
    from firmware_app.store.db import open_catalog

    config = _config(args)
    try:
        raw = Path(args.file).read_bytes()
    except OSError as e:
        print(f"firmware-lane: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        change = parse_catalog(raw)
        catalog = StoreCatalog(open_catalog(config.catalog_database))
        applied = catalog.apply(change, allow_older=args.allow_older)
    except CatalogOlder as e:
        print(f"firmware-lane: {args.file}: {e}; --allow-older imports it", file=sys.stderr)
        return 1
    except CatalogError as e:
        print(f"firmware-lane: {args.file}: {e}", file=sys.stderr)
        return 1
    print(
        f"catalog version {applied.version}: {applied.items} items, "
        f"{applied.removed} removed; {catalog.count()} items in the lane"
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
    """Everything ``run`` checks before it starts: each value, then the files and
    directories the config names (each problem one line on stderr)."""
    config = _config(args)
    problems = check_files(config)
    for problem in problems:
        print(f"firmware-lane: {problem.text}", file=sys.stderr)
    if problems:
        return 1
    print(f"{config.path}: ok (store {config.store}, lane {config.lane})")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from firmware_app.doctor import run_doctor

    config = _config(args)
    # Each line carries its check's error: the drivers' own log lines would repeat them.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        return run_doctor(config)
    finally:
        root.setLevel(level)


def _test_print(args: argparse.Namespace) -> int:
    from firmware_app.doctor import print_test_receipt

    print(print_test_receipt(_config(args)))
    return 0


def _now(config: config_mod.Config) -> datetime:
    if config.timezone:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(config.timezone))
    return datetime.now().astimezone()


def _backup(args: argparse.Namespace) -> int:
    from firmware_app.store.backup import backup

    config = _config(args)
    setup_logging(config.log_level, sys.stderr, secrets=[config.mqtt.password])
    result = backup(config, _now(config))
    for line in result.summary():
        print(line)
    return 0 if result.journal.ok else 1


def _restore(args: argparse.Namespace) -> int:
    from firmware_app.store.restore import restore
    from firmware_app.sync.contract import LaneUplink

    config = _config(args)
    for option, value in (("--store-seq", args.store_seq), ("--store-receipt", args.store_receipt)):
        if value is not None and value < 0:
            print(f"firmware-lane: {option}: expected 0 or more", file=sys.stderr)
            return 2
    result = restore(
        config,
        args.file,
        now=_now(config),
        messages=LaneUplink.of(config),
        force=args.force,
        store_seq=args.store_seq,
        store_receipt=args.store_receipt,
    )
    for line in result.summary():
        print(line)
    return 0


def _journal_verify(args: argparse.Namespace) -> int:
    import sqlite3

    from firmware_app.errors import StoreError
    from firmware_app.store.journal import verify_file

    config = _config(args)
    if not config.database.is_file():
        raise StoreError(f"{config.database}: no lane database")
    try:
        report = verify_file(config.database)
    except sqlite3.Error as e:
        raise StoreError(f"{config.database}: cannot read the journal: {e}") from e
    print(report)
    return 0 if report.ok else 1


def _report(args: argparse.Namespace) -> int:
    """The day's numbers as JSON (the ``details`` of its ``x_report`` / ``z_report``
    event), recomputed from the store; for a Z, checked against the Z as published."""
    import json
    from datetime import date

    from firmware_app.app.bootstrap import report_zone
    from firmware_app.errors import StoreError
    from firmware_app.lane.day_report import details
    from firmware_app.store.reports import StoreReports

    config = _config(args)
    if not config.database.is_file():
        raise StoreError(f"{config.database}: no lane database")
    now = _now(config)
    reports = StoreReports(_open_db(config), report_zone(config))
    try:
        # No date: the Z closes today; the X shows the business date open now (after
        # today's Z, the next one).
        today = reports.period_date(now) if args.kind == "x" else reports.business_date(now)
        day = date.fromisoformat(args.date) if args.date else today
    except ValueError:
        print(f"firmware-lane: --date: expected YYYY-MM-DD, got {args.date!r}", file=sys.stderr)
        return 2
    z = reports.z_of(day) if args.kind == "z" else None
    if args.kind == "z" and z is None:
        print(f"firmware-lane: {day}: no Z report (the day is open: see report x)", file=sys.stderr)
        return 1
    # A Z counts what was there when it closed the day; an X, all of the day so far.
    until = reports.closed_at(day) if z is not None else None
    body = details(reports.day(day, until), z)
    print(json.dumps(body, ensure_ascii=False, indent=2))
    if args.kind == "z" and body != reports.z_details(day):
        print(
            f"firmware-lane: {day}: the store's numbers differ from Z {z.z_no if z else ''} "
            "as published (its sales pruned after sale.keep_days, or the database restored?)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
