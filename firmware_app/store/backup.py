"""Backups of the lane's databases to a second medium, and restoring one.

``backup`` copies ``lane.db`` and ``catalog.db`` with SQLite's online backup API
while the daemon keeps selling: the copy is taken in one step inside one read
transaction, so it is the database as of one commit (never half a sale), and
in WAL mode that reader does not block the lane's writes. A file copy of a live
database could catch the file between two writes, or miss what still sits in
the ``-wal`` file, and is never used. Each copy is written under a temporary
name, switched to the rollback journal (one self-contained file), stamped with
the lane it belongs to, checked with ``PRAGMA integrity_check``, fsynced and
renamed into place; a JSON manifest beside it (written last, so its presence
means the generation is complete) records the seq range, the journal head,
sizes and SHA-256 sums. Then older generations of this lane beyond
``backup.generations`` are deleted (only files named like ours, of this store
and lane). The backup directory must be on a medium of its own: a backup on the
lane's SD card dies with the card, so by default it is refused.

``restore`` puts a backup back in place of ``lane.db``. See its docstring for
what a restore means for the outbox and the store server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_app import __version__, uplink
from firmware_app.config import Config
from firmware_app.errors import StoreError
from firmware_app.lane.effects import AuditEvent
from firmware_app.store import journal, models
from firmware_app.store.lock import LaneLock, LaneLocked
from firmware_app.sync.contract import Topics

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "firmware-lane.backup/1"
STAMP_KEY = "backup.of"  # meta row in each copy: which store and lane it belongs to
RESTORE_KEY = "restore.last"  # meta row written by a restore: what it did
NEXT_SEQ = "outbox.next_seq"  # as in store/outbox.py
ACKED_UPTO = "outbox.acked_upto"
SESSION = "lane.session"  # as in store/sales.py
NEXT_RECEIPT = "receipt.next_no"  # as in store/sales.py
SQLITE_MAGIC = b"SQLite format 3\x00"
KINDS = ("lane", "catalog")

META = '"' + models.Meta._meta.table_name + '"'
OUTBOX = '"' + models.OutboxMessage._meta.table_name + '"'
TRANSACTION = '"' + models.Transaction._meta.table_name + '"'
OPEN_SALE = '"' + models.OpenSale._meta.table_name + '"'
OPEN_LINE = '"' + models.OpenLine._meta.table_name + '"'

# What a database must hold to be a lane database (newer tables may be missing:
# the daemon creates them when it opens the file).
REQUIRED_TABLES = (
    models.Meta,
    models.Transaction,
    models.TransactionLine,
    models.TransactionTender,
    models.JournalEntry,
    models.OutboxMessage,
)


class BackupError(StoreError):
    """A backup could not be taken; nothing of it was left behind."""


class RestoreError(StoreError):
    """A restore was refused or failed; the lane's database is as it was."""


# --- naming -----------------------------------------------------------------------------


def utc_stamp(now: datetime) -> str:
    """``20261128T174200Z``: sorts by time, has no ':' (FAT file systems refuse it)."""
    if now.tzinfo is None:
        raise ValueError("backup times must carry their offset")
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _name_pattern(store: str, lane: str) -> re.Pattern[str]:
    prefix = re.escape(f"{store}-{lane}-")
    return re.compile(rf"^{prefix}(\d{{8}}T\d{{6}}Z)\.(lane\.db|catalog\.db|json)$")


def _file_name(store: str, lane: str, stamp: str, kind: str) -> str:
    suffix = "json" if kind == "manifest" else f"{kind}.db"
    return f"{store}-{lane}-{stamp}.{suffix}"


# --- taking a backup ------------------------------------------------------------------


@dataclass(frozen=True)
class BackupFile:
    kind: str  # lane | catalog
    path: Path
    size: int  # bytes
    sha256: str


@dataclass(frozen=True)
class BackupResult:
    """One generation written: its files, what the lane database held, what was pruned."""

    taken_at: datetime
    manifest: Path
    files: tuple[BackupFile, ...]
    next_seq: int
    acked_upto: int
    journal: journal.JournalReport
    pruned: tuple[Path, ...] = ()

    def summary(self) -> list[str]:
        lines = [
            f"backup {self.manifest.with_suffix('')}: "
            + ", ".join(f"{f.path.name} ({f.size} bytes)" for f in self.files),
            f"seqs up to {self.next_seq - 1} (acknowledged up to {self.acked_upto}); "
            f"{self.journal}",
        ]
        if self.pruned:
            lines.append(f"deleted {len(self.pruned)} files of older backups")
        return lines


def backup(config: Config, now: datetime) -> BackupResult:
    """Take one backup generation of this lane into ``backup.dir``; prune old ones.

    Raises ``BackupError`` naming the reason (no dir configured, dir missing or
    not on a medium of its own, disk full, the copy fails its integrity check).
    A failed backup leaves no file behind and prunes nothing.
    A broken journal does not stop the backup (the data is saved all the same);
    the result's ``journal`` says so and the command line exits non-zero.
    """
    settings = config.backup
    if not settings.dir:
        raise BackupError(f"{config.path}: backup.dir is not set: backups are off")
    target = Path(settings.dir)
    data_dir = Path(config.data_dir)
    check_target(target, data_dir, require_mount=settings.require_mount)
    if not config.database.is_file():
        raise BackupError(f"{config.database}: no lane database to back up")
    stamp = utc_stamp(now)
    store, lane = config.store, config.lane
    identity = {"store": store, "lane": lane, "taken_at": stamp, "version": __version__}
    with _held(LaneLock(data_dir / "backup.lock", "a backup"), BackupError):
        _remove_stale_temps(target, store, lane)
        written: list[Path] = []
        files: list[BackupFile] = []
        try:
            for kind, source in (("lane", config.database), ("catalog", config.catalog_database)):
                if kind == "catalog" and not source.is_file():
                    continue  # a lane set up without a catalog yet
                path = target / _file_name(store, lane, stamp, kind)
                written.append(path)
                files.append(_copy(source, path, kind, identity))
            facts = _lane_facts(files[0].path)
            report = journal.verify_file(files[0].path, key_file=journal.key_path(config.database))
            manifest = target / _file_name(store, lane, stamp, "manifest")
            body = _manifest(identity, files, facts, report)
            _write_atomically(manifest, (json.dumps(body, indent=1) + "\n").encode())
        except BaseException:
            for path in written:
                with suppress(OSError):
                    path.unlink()
            raise
        pruned = prune(target, store, lane, settings.generations)
    if not report.ok:
        log.error("backup %s: %s", manifest.name, report)
    return BackupResult(
        now, manifest, tuple(files), facts["next_seq"], facts["acked_upto"], report, pruned
    )


def _remove_stale_temps(target: Path, store: str, lane: str) -> None:
    """Temporary files of a backup that was killed midway (we hold the backup lock,
    so no other backup of this lane is writing them now)."""
    for path in target.glob(f".{store}-{lane}-*.tmp"):
        if _name_pattern(store, lane).match(path.name[1:-4]):
            with suppress(OSError):
                path.unlink()


def check_target(target: Path, data_dir: Path, *, require_mount: bool) -> None:
    """Refuse a backup dir that is missing, not writable, or (``require_mount``) on the
    lane's own filesystem or the root filesystem: that is the SD card the backup is for."""
    if not target.is_dir():
        raise BackupError(
            f"backup.dir {target}: no such directory (is the backup medium plugged in and mounted?)"
        )
    if not os.access(target, os.W_OK | os.X_OK):
        raise BackupError(f"backup.dir {target}: not writable by this user")
    if not require_mount:
        return
    device = target.stat().st_dev
    own = [Path("/")] + ([data_dir] if data_dir.exists() else [])
    for other in own:
        if other.stat().st_dev == device:
            raise BackupError(
                f"backup.dir {target} is not on a medium of its own: it is on the same "
                f"filesystem as {other} (mounted at {_mount_point(target)}), and a backup "
                "on the lane's own SD card is lost with it. Mount the backup medium at "
                f"{target}, or set backup.require_mount = false"
            )


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return path


def _copy(source: Path, dest: Path, kind: str, identity: dict[str, str]) -> BackupFile:
    """Online copy of ``source`` to ``dest`` via a temporary name; stamped with
    ``identity`` (restore checks whose backup it is), checked, fsynced."""
    temp = dest.with_name(f".{dest.name}.tmp")
    try:
        with closing(journal.open_readonly(source)) as src, closing(sqlite3.connect(temp)) as dst:
            # pages=-1: everything in one step, in one read transaction of the source,
            # so the copy is one consistent state; the lane's writers go on (WAL).
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
            with dst:
                dst.execute(
                    f"INSERT OR REPLACE INTO {META} (key, value) VALUES (?, ?)",
                    (STAMP_KEY, json.dumps(identity, sort_keys=True)),
                )
            _require_intact(dst, f"the copy of {source}", BackupError, hint=_DAMAGED)
        _fsync(temp)
        os.replace(temp, dest)
        _fsync_dir(dest.parent)
    except (sqlite3.Error, OSError) as e:
        with suppress(OSError):
            temp.unlink()
        raise BackupError(f"{dest}: backup of {source} failed: {e}") from e
    except BaseException:
        with suppress(OSError):
            temp.unlink()
        raise
    return BackupFile(kind, dest, dest.stat().st_size, _sha256(dest))


_DAMAGED = "the database itself may be damaged: keep the older backups and call service"


def _lane_facts(path: Path) -> dict[str, Any]:
    with closing(journal.open_readonly(path)) as conn:
        return {
            "next_seq": _meta_int(conn, NEXT_SEQ, 1),
            "acked_upto": _meta_int(conn, ACKED_UPTO, 0),
            "first_seq": conn.execute(f"SELECT MIN(seq) FROM {OUTBOX}").fetchone()[0],
            "pending": conn.execute(
                f"SELECT COUNT(*) FROM {OUTBOX} WHERE acked_at IS NULL"
            ).fetchone()[0],
            "last_receipt_no": _last_receipt(conn),
        }


def _manifest(
    identity: dict[str, str],
    files: list[BackupFile],
    facts: dict[str, Any],
    report: journal.JournalReport,
) -> dict[str, Any]:
    checkpoint = report.checkpoint
    return {
        "schema": MANIFEST_SCHEMA,
        **identity,
        "files": {f.kind: {"name": f.path.name, "size": f.size, "sha256": f.sha256} for f in files},
        "outbox": {
            "first_seq": facts["first_seq"],
            "last_seq": facts["next_seq"] - 1,
            "next_seq": facts["next_seq"],
            "acked_upto": facts["acked_upto"],
            "pending": facts["pending"],
        },
        "journal": {
            "ok": report.ok,
            "records": report.records,
            "head": report.head,
            "checkpoint": {"no": checkpoint.no, "hash": checkpoint.hash} if checkpoint else None,
            "problem": None if report.ok else str(report),
        },
        "last_receipt_no": facts["last_receipt_no"],
    }


def prune(target: Path, store: str, lane: str, keep: int) -> tuple[Path, ...]:
    """Delete this lane's backup files beyond the newest ``keep`` generations.

    Only files named ``{store}-{lane}-{UTC stamp}.(lane.db|catalog.db|json)`` are
    considered, so other lanes' backups and anything else on the medium are safe.
    """
    pattern = _name_pattern(store, lane)
    by_stamp: dict[str, list[Path]] = {}
    for path in target.iterdir():
        match = pattern.match(path.name)
        if match and path.is_file():
            by_stamp.setdefault(match.group(1), []).append(path)
    old = sorted(by_stamp, reverse=True)[keep:]
    removed = []
    for stamp in old:
        # The manifest goes first: a generation without it no longer counts as whole.
        for path in sorted(by_stamp[stamp], key=lambda p: p.suffix != ".json"):
            try:
                path.unlink()
                removed.append(path)
            except OSError as e:
                log.warning("cannot delete old backup %s: %s", path, e.strerror)
    return tuple(removed)


def generations(target: Path, store: str, lane: str) -> list[dict[str, Any]]:
    """This lane's complete generations in ``target`` (their manifests), newest first."""
    pattern = _name_pattern(store, lane)
    found = []
    for path in sorted(target.glob(f"{store}-{lane}-*.json"), reverse=True):
        if not pattern.match(path.name):
            continue
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return found


# --- restoring --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeqPlan:
    """How the restored outbox continues (see ``restore``)."""

    backup_next_seq: int  # the backup's next seq
    next_seq: int  # the restored lane's next seq (before its lane_restored event)
    store_has_upto: int  # seqs the store server is known to hold
    carried: tuple[tuple[int, str, bytes, str], ...] = ()  # (seq, topic, payload, created_at)

    @property
    def lost(self) -> tuple[int, int] | None:
        """Seqs written after the backup, whose sales are no longer in this lane."""
        if self.next_seq > self.backup_next_seq:
            return (self.backup_next_seq, self.next_seq - 1)
        return None


@dataclass(frozen=True)
class ReceiptPlan:
    """How the restored lane's receipt numbers continue (see ``restore``)."""

    backup_last: int  # the backup's highest receipt number (0: none)
    next_no: int  # the restored lane's next receipt number
    estimated_from_upto: int | None = None  # the store seq the estimate rests on (None: exact)

    @property
    def set_aside(self) -> tuple[int, int] | None:
        """Receipt numbers issued (or, estimated, maybe issued) after the backup."""
        if self.next_no - 1 > self.backup_last:
            return (self.backup_last + 1, self.next_no - 1)
        return None

    def summary(self) -> str:
        aside = self.set_aside
        if aside is None:
            return f"receipts continue at {self.next_no}"
        if self.estimated_from_upto is None:
            return (
                f"receipts continue at {self.next_no}: receipts {aside[0]}..{aside[1]} were "
                "issued after the backup and are never given again"
            )
        return (
            f"receipts continue at {self.next_no}: receipts {aside[0]}..{aside[1]} may have "
            f"been issued after the backup (the store server holds seqs up to "
            f"{self.estimated_from_upto}, at most one sale each); restore again with "
            "--store-receipt N, the highest receipt number the store server holds for this "
            "lane, to continue right after it"
        )


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    database: Path
    saved_as: Path | None  # the replaced lane.db, kept
    journal: journal.JournalReport
    plan: SeqPlan
    event_seq: int  # seq of the lane_restored event
    discarded_sale: str | None  # the open sale of backup time, dropped
    catalog: str  # what happened to the catalog
    forced: tuple[str, ...] = ()
    lost_receipts: tuple[int, int] | None = None
    receipts: ReceiptPlan | None = None

    def summary(self) -> list[str]:
        lines = [f"restored {self.database} from {self.source}", str(self.journal)]
        lines += [f"forced: {reason}" for reason in self.forced]
        if self.saved_as is not None:
            lines.append(f"the replaced database is kept as {self.saved_as}")
        lost = self.plan.lost
        if lost is not None:
            receipts = self.lost_receipts
            lines.append(
                f"LOST from this lane: seqs {lost[0]}..{lost[1]}"
                + (f" (receipts {receipts[0]}..{receipts[1]})" if receipts else "")
                + " were written after the backup; their sales and journal entries are gone"
            )
            lines.append(
                f"the store server holds seqs up to {self.plan.store_has_upto}; "
                f"{len(self.plan.carried)} unacknowledged messages were carried over, "
                "so it still gets every message it has not acknowledged"
            )
        lines.append(
            f"the outbox continues at seq {self.event_seq} "
            f"(a lane_restored event for the store server), next seq {self.event_seq + 1}"
        )
        if self.receipts is not None:
            lines.append(self.receipts.summary())
        if self.discarded_sale:
            lines.append(f"the sale open at backup time ({self.discarded_sale}) was discarded")
        lines.append(f"catalog: {self.catalog}")
        return lines


@dataclass
class _Current:
    """What could be read from the lane.db being replaced."""

    readable: bool
    reason: str = ""
    next_seq: int = 1
    acked_upto: int = 0
    last_receipt_no: int | None = None
    unacked: list[tuple[int, str, bytes, str]] = field(default_factory=list)


def restore(
    config: Config,
    file: str | os.PathLike[str],
    *,
    now: datetime,
    force: bool = False,
    store_seq: int | None = None,
    store_receipt: int | None = None,
) -> RestoreResult:
    """Replace this lane's ``lane.db`` with the backup ``file`` (and, when the lane's
    catalog is missing or damaged, ``catalog.db`` with the backup's).

    Refused, changing nothing, while the lane daemon runs (it holds the lane
    lock), and when ``file`` is not a SQLite database, fails the integrity
    check, does not match its manifest, is not a lane database, belongs to
    another store or lane (unless ``force``), or its journal chain is broken
    (unless ``force``). The replaced database is kept as
    ``lane.db.before-restore-<UTC stamp>`` (with its ``-wal``), and no stale
    ``-wal``/``-shm`` of it is left beside the restored file, where SQLite would
    replay it into the wrong database.

    What a restore means for the outbox: everything the lane committed after
    the backup (sales, journal entries, events) is no longer in this lane, and
    the backup's outbox would hand out seqs from the backup's ``next_seq``
    again. The store server may already hold those seqs with other content; it
    would refuse the new messages as conflicts (and never acknowledge them),
    and it waits forever at any seq it never gets. So the restored lane never
    reuses a seq and leaves no hole the store server cannot fill:

    - the next seq becomes the highest known of: the backup's, the replaced
      database's (when it can still be read), and ``store_seq + 1`` (the store
      server's acknowledged seq for this lane, given by the technician);
    - the replaced database's unacknowledged outbox messages from the backup's
      next seq on are carried over unchanged, so the store server still gets
      every message it has not acknowledged, with the content it may already
      have seen (a resend, not a conflict); the acknowledged ones it has;
    - when neither the replaced database can be read nor ``store_seq`` is
      given, the restore is refused: which seqs the store server holds is
      then unknown, and guessing wrong loses sales at the store.

    Receipt numbers are carried the same way: the sales lost with the newer data
    had receipt numbers the store server may hold (and customers have on paper), so
    the restored lane continues after the highest known of: the backup's, the
    replaced database's, the newest backup manifest's, and ``store_receipt`` (the
    highest receipt number the store server holds for this lane, given by the
    technician). When the replaced database cannot be read and no
    ``store_receipt`` is given, it continues after the most the store server can
    hold: every seq it holds beyond the backup's counted as a sale (each sale takes
    a seq of its own). Numbers set aside this way are never given: a gap in
    receipt numbers is harmless, a number given to two sales is not.

    The lost range is printed; a ``lane_restored`` audit event (the next seq)
    tells the store server which backup the lane went back to, which seqs and
    which journal head, since the lane's journal chain continues from the
    backup's head and so forks from what the store server received. The sale
    that was open at backup time, and the signed-on cashier, are dropped: that
    customer is long gone.
    """
    source = Path(file)
    database = config.database
    data_dir = Path(config.data_dir)
    stamp = utc_stamp(now)
    with _held(LaneLock.for_lane(data_dir, "a restore"), RestoreError):
        staging = data_dir / f".lane.db.restore-{stamp}"
        try:
            forced, report, plan, current, receipts = _prepare(
                config, source, staging, force, store_seq, store_receipt
            )
            discarded, event_seq = _finish_staging(
                config, source, staging, plan, receipts, report, now
            )
            _fsync(staging)
            saved = _swap_in(staging, database, stamp)
            catalog = _restore_catalog(config, source, stamp)
        finally:
            for leftover in (staging, Path(f"{staging}-journal")):
                with suppress(OSError):
                    leftover.unlink()
    lost_receipts = None
    last, kept = current.last_receipt_no, receipts.backup_last
    if plan.lost and last is not None and last > kept:
        lost_receipts = (kept + 1, last)
    result = RestoreResult(
        source,
        database,
        saved,
        report,
        plan,
        event_seq,
        discarded,
        catalog,
        forced,
        lost_receipts,
        receipts,
    )
    log.warning(
        "lane.db restored from %s: next seq %d, lost seqs %s, %d messages carried over, "
        "next receipt %d",
        source,
        event_seq + 1,
        f"{plan.lost[0]}..{plan.lost[1]}" if plan.lost else "none",
        len(plan.carried),
        receipts.next_no,
    )
    return result


def _prepare(
    config: Config,
    source: Path,
    staging: Path,
    force: bool,
    store_seq: int | None,
    store_receipt: int | None,
) -> tuple[tuple[str, ...], journal.JournalReport, SeqPlan, _Current, ReceiptPlan]:
    """Every check, on a private copy of the backup; the lane's files are untouched."""
    _stage(source, staging)
    _check_manifest(source)
    with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
        _require_intact(conn, str(source), RestoreError, hint="try an older backup")
        _check_schema(conn, source)
        forced = _check_identity(conn, source, config, force)
        report = journal.verify_connection(conn)
        backup_next = _meta_int(conn, NEXT_SEQ, 1)
        backup_acked = _meta_int(conn, ACKED_UPTO, 0)
        backup_last_receipt = _last_receipt(conn) or 0
    if not report.ok:
        if not force:
            raise RestoreError(
                f"{source}: {report}; restore an older backup, or use --force to restore "
                "it with its broken journal"
            )
        forced += (f"the journal is broken: {report}",)
    current = _read_current(config.database, backup_next)
    plan = _seq_plan(config, backup_next, backup_acked, current, store_seq)
    receipts = _receipt_plan(config, backup_last_receipt, current, plan, store_receipt)
    return forced, report, plan, current, receipts


def _stage(source: Path, staging: Path) -> None:
    """Copy the backup file (not a live database) to a private name in the data dir:
    checks never write into the backup, and a read-only medium is fine."""
    try:
        with source.open("rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise RestoreError(f"{source}: no such file") from None
    except OSError as e:
        raise RestoreError(f"{source}: cannot read: {e.strerror}") from e
    if magic != SQLITE_MAGIC:
        raise RestoreError(f"{source}: not a SQLite database")
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging)
        with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as e:
        raise RestoreError(f"{source}: not a usable SQLite database: {e}") from e
    except OSError as e:
        raise RestoreError(f"{source}: cannot copy to {staging}: {e.strerror}") from e


def _check_manifest(source: Path) -> None:
    """A backup with a manifest beside it must match its recorded SHA-256."""
    name = source.name
    if not name.endswith(".lane.db"):
        return
    manifest = source.with_name(name[: -len(".lane.db")] + ".json")
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["files"]["lane"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no usable manifest: the integrity check and the journal decide
    if _sha256(source) != recorded:
        raise RestoreError(
            f"{source}: does not match {manifest.name} (SHA-256 differs): the file was "
            "damaged or changed after the backup; try an older backup"
        )


def _require_intact(
    conn: sqlite3.Connection, what: str, error: type[StoreError], *, hint: str
) -> None:
    advice = f"; {hint}" if hint else ""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.Error as e:
        raise error(f"{what}: fails SQLite's integrity check: {e}{advice}") from e
    if rows != ["ok"]:
        lines = [line for row in rows for line in str(row).splitlines() if "***" not in line]
        raise error(f"{what}: fails SQLite's integrity check: {'; '.join(lines[:3])}{advice}")


def _check_schema(conn: sqlite3.Connection, source: Path) -> None:
    for model in REQUIRED_TABLES:
        table = model._meta.table_name
        columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        if not columns:
            raise RestoreError(f"{source}: not a lane database (no {table} table)")
        missing = [f.column_name for f in model._meta.sorted_fields if f.column_name not in columns]
        if missing:
            raise RestoreError(f"{source}: not a lane database ({table} has no {missing[0]})")


def _check_identity(
    conn: sqlite3.Connection, source: Path, config: Config, force: bool
) -> tuple[str, ...]:
    """The backup must be of this store and lane: its stamp, its journal and its
    outbox say whose it is. ``force`` restores another lane's backup (or one that
    says nothing) all the same, and says so."""
    seen = _identities(conn)
    ours = (config.store, config.lane)
    others = sorted(seen - {ours})
    if others:
        store, lane = others[0]
        reason = f"it is a backup of lane {store}/{lane}, not of this lane {ours[0]}/{ours[1]}"
    elif not seen:
        reason = "it does not say which lane it belongs to (no backup stamp, sales or messages)"
    else:
        return ()
    if not force:
        raise RestoreError(f"{source}: {reason} (see {config.path}); --force restores it anyway")
    return (reason,)


def _identities(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    texts = []
    row = conn.execute(f"SELECT value FROM {META} WHERE key = ?", (STAMP_KEY,)).fetchone()
    if row:
        texts.append(row[0])
    journal_table = '"' + models.JournalEntry._meta.table_name + '"'
    for order in ("ASC", "DESC"):
        row = conn.execute(f"SELECT record FROM {journal_table} ORDER BY no {order} LIMIT 1")
        texts += [r[0] for r in row]
        row = conn.execute(f"SELECT payload FROM {OUTBOX} ORDER BY seq {order} LIMIT 1")
        texts += [bytes(r[0]).decode("utf-8", "replace") for r in row]
    for text in texts:
        try:
            data = json.loads(text)
            found.add((str(data["store"]), str(data["lane"])))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _read_current(database: Path, from_seq: int) -> _Current:
    """Read what the lane database being replaced still knows about its outbox."""
    if not database.exists():
        return _Current(False, f"there is no {database}")
    try:
        with closing(journal.open_readonly(database)) as conn:
            conn.execute("BEGIN")
            current = _Current(
                True,
                next_seq=_meta_int(conn, NEXT_SEQ, 1),
                acked_upto=_meta_int(conn, ACKED_UPTO, 0),
                last_receipt_no=_last_receipt(conn),
                unacked=[
                    (seq, topic, bytes(payload), created_at)
                    for seq, topic, payload, created_at in conn.execute(
                        f"SELECT seq, topic, payload, created_at FROM {OUTBOX} "
                        "WHERE acked_at IS NULL AND seq >= ? ORDER BY seq",
                        (from_seq,),
                    )
                ],
            )
            conn.execute("ROLLBACK")
            return current
    except (sqlite3.Error, ValueError) as e:
        return _Current(False, f"{database} cannot be read: {e}")


def _seq_plan(
    config: Config,
    backup_next: int,
    backup_acked: int,
    current: _Current,
    store_seq: int | None,
) -> SeqPlan:
    if not current.readable and store_seq is None:
        raise RestoreError(
            f"cannot tell which seqs the store server already holds for lane "
            f"{config.store}/{config.lane}: {current.reason}. Messages written after this "
            f"backup (seq {backup_next} on) may have reached the store server, and reusing "
            "their seqs would make it refuse the lane's new sales. Look up the last seq the "
            "store server acknowledged for this lane and run again with --store-seq N "
            "(--store-seq 0 for a lane that never reached a store server)"
        )
    candidates = [backup_next]
    store_has = backup_acked
    carried: tuple[tuple[int, str, bytes, str], ...] = ()
    if current.readable:
        candidates.append(current.next_seq)
        store_has = max(store_has, current.acked_upto)
        carried = tuple(current.unacked)
    if store_seq is not None:
        candidates.append(store_seq + 1)
        store_has = max(store_has, store_seq)
    if config.backup.dir:
        # A newer backup of this lane is a witness too (the replaced database may be gone).
        with suppress(OSError):
            for manifest in generations(Path(config.backup.dir), config.store, config.lane)[:1]:
                with suppress(KeyError, TypeError):
                    candidates.append(int(manifest["outbox"]["next_seq"]))
    next_seq = max(candidates)
    return SeqPlan(backup_next, next_seq, min(store_has, next_seq - 1), carried)


def _receipt_plan(
    config: Config,
    backup_last: int,
    current: _Current,
    plan: SeqPlan,
    store_receipt: int | None,
) -> ReceiptPlan:
    known = [backup_last]
    if current.readable and current.last_receipt_no is not None:
        known.append(current.last_receipt_no)  # every receipt this lane ever issued
    if store_receipt is not None:
        known.append(store_receipt)
    if config.backup.dir:
        # A newer backup of this lane is a witness too (the replaced database may be gone).
        with suppress(OSError):
            for manifest in generations(Path(config.backup.dir), config.store, config.lane)[:1]:
                with suppress(KeyError, TypeError, ValueError):
                    known.append(int(manifest["last_receipt_no"] or 0))
    estimated_from = None
    if not current.readable and store_receipt is None:
        # The sales behind the store server's seqs are gone with the old database. Each
        # sale went out with a seq of its own, so it holds at most that many receipts
        # issued after the backup.
        reached = max(0, plan.store_has_upto - (plan.backup_next_seq - 1))
        if reached and backup_last + reached > max(known):
            known.append(backup_last + reached)
            estimated_from = plan.store_has_upto
    return ReceiptPlan(backup_last, max(known) + 1, estimated_from)


def _finish_staging(
    config: Config,
    source: Path,
    staging: Path,
    plan: SeqPlan,
    receipts: ReceiptPlan,
    report: journal.JournalReport,
    now: datetime,
) -> tuple[str | None, int]:
    """Apply the seq and receipt plans to the staged copy in one transaction; returns
    the discarded open sale and the seq of the lane_restored event."""
    at = now.isoformat(timespec="milliseconds")
    topics = Topics(config.mqtt.topic_root, config.store, config.lane)
    with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT OR REPLACE INTO {OUTBOX} (seq, topic, payload, created_at, acked_at) "
            "VALUES (?, ?, ?, ?, NULL)",
            plan.carried,
        )
        # The store server has these: mark them, or the lane would send them forever
        # (an ack at or below the recorded mark is ignored as old).
        conn.execute(
            f"UPDATE {OUTBOX} SET acked_at = ? WHERE seq <= ? AND acked_at IS NULL",
            (at, plan.store_has_upto),
        )
        row = conn.execute(f"SELECT id FROM {OPEN_SALE} ORDER BY opened_at DESC").fetchone()
        discarded = row[0] if row else None
        conn.execute(f"DELETE FROM {OPEN_LINE}")
        conn.execute(f"DELETE FROM {OPEN_SALE}")
        conn.execute(f"DELETE FROM {META} WHERE key IN (?, ?)", (SESSION, STAMP_KEY))
        event_seq = plan.next_seq
        lost = plan.lost
        details = {
            "backup": source.name,
            "journal_head": report.head,
            "backup_next_seq": str(plan.backup_next_seq),
            "lost_seqs": f"{lost[0]}-{lost[1]}" if lost else "",
            "carried_messages": str(len(plan.carried)),
            "next_receipt_no": str(receipts.next_no),
        }
        event = AuditEvent("lane_restored", now, None, None, tuple(details.items()))
        body = uplink.event_message(event, config.store, config.lane, seq=event_seq)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        conn.execute(
            f"INSERT INTO {OUTBOX} (seq, topic, payload, created_at) VALUES (?, ?, ?, ?)",
            (event_seq, topics.uplink("events"), payload, at),
        )
        for key, value in (
            (NEXT_SEQ, str(event_seq + 1)),
            (ACKED_UPTO, str(plan.store_has_upto)),
            (NEXT_RECEIPT, str(receipts.next_no)),
            (RESTORE_KEY, json.dumps({**details, "at": at, "next_seq": event_seq + 1})),
        ):
            conn.execute(f"INSERT OR REPLACE INTO {META} (key, value) VALUES (?, ?)", (key, value))
        conn.execute("COMMIT")
    return discarded, event_seq


SIDE_FILES = ("-wal", "-shm", "-journal")


def _swap_in(staging: Path, database: Path, stamp: str) -> Path | None:
    """Put ``staging`` in place of ``database``, keeping the old one (with its -wal)
    as ``<name>.before-restore-<stamp>``.

    Order matters: the old files get their new names by hard links first (a crash
    leaves both names), then the old -wal/-shm/-journal go (a -wal left beside the
    new file would be replayed into it: SQLite cannot tell it belongs to another
    database), and only then does the new file take the name, atomically.
    """
    saved = database.with_name(f"{database.name}.before-restore-{stamp}")
    kept = False
    try:
        for suffix in ("", *SIDE_FILES):
            old = Path(f"{database}{suffix}")
            if old.exists():
                os.link(old, f"{saved}{suffix}")
                kept = True
        for suffix in SIDE_FILES:
            with suppress(FileNotFoundError):
                Path(f"{database}{suffix}").unlink()
        _fsync_dir(database.parent)
        os.replace(staging, database)
        _fsync_dir(database.parent)
    except OSError as e:
        raise RestoreError(f"{database}: cannot put the restored database in place: {e}") from e
    return saved if kept else None


def _restore_catalog(config: Config, source: Path, stamp: str) -> str:
    """The catalog comes back from the backup only when the lane's own is missing or
    damaged: it is never older than the backup's, and the store server can send a
    snapshot anyway. Problems here never undo the lane database's restore."""
    if not source.name.endswith(".lane.db"):
        return "kept (no catalog backup beside the file)"
    backup_catalog = source.with_name(source.name[: -len(".lane.db")] + ".catalog.db")
    if not backup_catalog.is_file():
        return "kept (no catalog backup beside the file)"
    target = config.catalog_database
    if target.exists():
        try:
            with closing(journal.open_readonly(target)) as conn:
                _require_intact(conn, str(target), RestoreError, hint="")
            return "kept (the lane's own catalog is intact and not older than the backup's)"
        except (RestoreError, sqlite3.Error):
            pass
    staging = target.with_name(f".catalog.db.restore-{stamp}")
    try:
        _stage(backup_catalog, staging)
        with closing(sqlite3.connect(staging)) as conn:
            _require_intact(conn, str(backup_catalog), RestoreError, hint="")
        _fsync(staging)
        _swap_in(staging, target, stamp)
    except RestoreError as e:
        log.error("catalog not restored: %s", e)
        return f"not restored ({e}); the store server sends a snapshot when the lane asks"
    finally:
        with suppress(OSError):
            staging.unlink()
    return f"restored from {backup_catalog.name}"


# --- small helpers ----------------------------------------------------------------------


@contextmanager
def _held(lock: LaneLock, error: type[StoreError]) -> Iterator[None]:
    try:
        lock.acquire()
    except LaneLocked as e:
        if error is RestoreError:
            raise RestoreError(
                f"the lane is running ({e}): stop it first (systemctl stop firmware-lane)"
            ) from e
        raise error(f"another backup is running ({e})") from e
    try:
        yield
    finally:
        lock.release()


def _last_receipt(conn: sqlite3.Connection) -> int | None:
    """The highest receipt number a lane database has issued or set aside (a restore's
    ``receipt.next_no``); None for a lane that has issued none."""
    last = conn.execute(f"SELECT MAX(receipt_no) FROM {TRANSACTION}").fetchone()[0]
    floor = _meta_int(conn, NEXT_RECEIPT, 0) - 1
    if last is None and floor < 1:
        return None
    return max(last or 0, floor)


def _meta_int(conn: sqlite3.Connection, key: str, default: int) -> int:
    row = conn.execute(f"SELECT value FROM {META} WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else default


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        with suppress(OSError):
            temp.unlink()
        raise BackupError(f"{path}: cannot write: {e.strerror}") from e


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename durable; some file systems (FAT on a stick) cannot fsync a
    directory, and their rename is as durable as it gets."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
