"""Restoring a backup of the lane database (and, when needed, its catalog).

See ``restore``'s docstring for what a restore means for the outbox, the
receipt numbers and the store server. Every check runs on a private copy of the
backup first; the lane's own files change only in the final swap.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from firmware_app.config import Config
from firmware_app.errors import StoreError
from firmware_app.lane.effects import AuditEvent
from firmware_app.store import journal, line_adjustments, models, suspended
from firmware_app.store.backup import (
    META,
    STAMP_KEY,
    generations,
    utc_stamp,
)
from firmware_app.store.lock import LaneLock, holding
from firmware_app.store.outbox import Outbox
from firmware_app.store.ports import UplinkMessages
from firmware_app.store.sales import NEXT_RECEIPT, SESSION, last_receipt_no
from firmware_app.store.sqlite_files import copy_private, fsync, require_intact, sha256, swap_in

log = logging.getLogger(__name__)

RESTORE_KEY = "restore.last"  # meta row written by a restore: what it did (journal.RESTORE_KEY)
RUNNING = "the lane is running ({holder}): stop it first (systemctl stop firmware-lane)"
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


class RestoreError(StoreError):
    """A restore was refused or failed; the lane's database is as it was."""


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
    messages: UplinkMessages,
    force: bool = False,
    store_seq: int | None = None,
    store_receipt: int | None = None,
) -> RestoreResult:
    """Replace this lane's ``lane.db`` with the backup ``file`` (and, when the lane's
    catalog is missing or damaged, ``catalog.db`` with the backup's). ``messages``
    builds the ``lane_restored`` event (``sync.contract.LaneUplink``).

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
    with holding(LaneLock.for_lane(data_dir, "a restore"), RestoreError, RUNNING):
        staging = data_dir / f".lane.db.restore-{stamp}"
        try:
            forced, report, plan, current, receipts = _prepare(
                config, source, staging, force, store_seq, store_receipt
            )
            discarded, event_seq = _finish_staging(
                messages, source, staging, plan, receipts, report, now
            )
            fsync(staging)
            saved = swap_in(staging, database, stamp, RestoreError)
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
    copy_private(source, staging, RestoreError)
    _check_manifest(source)
    with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
        require_intact(conn, str(source), RestoreError, hint="try an older backup")
        _check_schema(conn, source)
        forced = _check_identity(conn, source, config, force)
        report = journal.verify_connection(conn)
        marks = Outbox(conn).stats()
        backup_next, backup_acked = marks.next_seq, marks.acked_upto
        backup_last_receipt = last_receipt_no(conn) or 0
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
    if sha256(source) != recorded:
        raise RestoreError(
            f"{source}: does not match {manifest.name} (SHA-256 differs): the file was "
            "damaged or changed after the backup; try an older backup"
        )


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
    texts += [p.decode("utf-8", "replace") for p in Outbox(conn).edge_payloads()]
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
            outbox = Outbox(conn)
            marks = outbox.stats()
            current = _Current(
                True,
                next_seq=marks.next_seq,
                acked_upto=marks.acked_upto,
                last_receipt_no=last_receipt_no(conn),
                unacked=outbox.unacked_rows(from_seq),
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
    messages: UplinkMessages,
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
    with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        outbox = Outbox(conn)
        outbox.restore_marks(
            plan.carried, store_has_upto=plan.store_has_upto, next_seq=plan.next_seq, at=now
        )
        row = conn.execute(f"SELECT id FROM {OPEN_SALE} ORDER BY opened_at DESC").fetchone()
        discarded = row[0] if row else None
        conn.execute(f"DELETE FROM {OPEN_LINE}")
        line_adjustments.drop_all(conn)  # price override and discounts of the open lines
        conn.execute(f"DELETE FROM {OPEN_SALE}")
        # Suspend and resume: a sale parked at backup time may have been resumed and sold
        # since; like the open sale, it is dropped, and its slip resumes nothing.
        parked = suspended.drop_all(conn)
        if parked:
            log.warning("sales parked at backup time were discarded: %s", parked)
        conn.execute(f"DELETE FROM {META} WHERE key IN (?, ?)", (SESSION, STAMP_KEY))
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
        event_seq = outbox.append(
            messages.topic("events"), lambda seq: messages.event(event, seq=seq), now
        )
        carried = _carried_ranges(conn, plan, event_seq)
        for key, value in (
            (journal.CARRIED_KEY, json.dumps(carried)),
            (NEXT_RECEIPT, str(receipts.next_no)),
            (RESTORE_KEY, json.dumps({**details, "at": at, "next_seq": event_seq + 1})),
        ):
            conn.execute(f"INSERT OR REPLACE INTO {META} (key, value) VALUES (?, ?)", (key, value))
        conn.execute("COMMIT")
    return discarded, event_seq


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
                require_intact(conn, str(target), RestoreError, hint="")
            return "kept (the lane's own catalog is intact and not older than the backup's)"
        except (RestoreError, sqlite3.Error):
            pass
    staging = target.with_name(f".catalog.db.restore-{stamp}")
    try:
        copy_private(backup_catalog, staging, RestoreError)
        with closing(sqlite3.connect(staging)) as conn:
            require_intact(conn, str(backup_catalog), RestoreError, hint="")
        fsync(staging)
        swap_in(staging, target, stamp, RestoreError)
    except RestoreError as e:
        log.error("catalog not restored: %s", e)
        return f"not restored ({e}); the store server sends a snapshot when the lane asks"
    finally:
        with suppress(OSError):
            staging.unlink()
    return f"restored from {backup_catalog.name}"


def _carried_ranges(conn: sqlite3.Connection, plan: SeqPlan, event_seq: int) -> list[list[int]]:
    """The seq ranges carried over by every restore this database has been through: the
    backup's own (it may have been taken after an earlier restore) and this one's."""
    carried = [[first, last] for first, last in journal.carried_ranges(conn)]
    if event_seq > plan.backup_next_seq:
        carried.append([plan.backup_next_seq, event_seq - 1])
    return carried
