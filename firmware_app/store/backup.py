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

``store.restore`` puts a backup back in place of ``lane.db``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_app import __version__
from firmware_app.config import Config
from firmware_app.errors import StoreError
from firmware_app.store import journal, models
from firmware_app.store.lock import LaneLock, holding
from firmware_app.store.outbox import Outbox
from firmware_app.store.sales import last_receipt_no
from firmware_app.store.sqlite_files import (
    fsync,
    fsync_dir,
    require_intact,
    sha256,
    write_atomically,
)

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "firmware-lane.backup/1"
STAMP_KEY = "backup.of"  # meta row in each copy: which store and lane it belongs to
META = '"' + models.Meta._meta.table_name + '"'


class BackupError(StoreError):
    """A backup could not be taken; nothing of it was left behind."""


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
    with holding(
        LaneLock(data_dir / "backup.lock", "a backup"),
        BackupError,
        "another backup is running ({holder})",
    ):
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
            write_atomically(manifest, (json.dumps(body, indent=1) + "\n").encode(), BackupError)
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
            require_intact(dst, f"the copy of {source}", BackupError, hint=_DAMAGED)
        fsync(temp)
        os.replace(temp, dest)
        fsync_dir(dest.parent)
    except (sqlite3.Error, OSError) as e:
        with suppress(OSError):
            temp.unlink()
        raise BackupError(f"{dest}: backup of {source} failed: {e}") from e
    except BaseException:
        with suppress(OSError):
            temp.unlink()
        raise
    return BackupFile(kind, dest, dest.stat().st_size, sha256(dest))


_DAMAGED = "the database itself may be damaged: keep the older backups and call service"


def _lane_facts(path: Path) -> dict[str, Any]:
    with closing(journal.open_readonly(path)) as conn:
        outbox = Outbox(conn)
        marks = outbox.stats()
        return {
            "next_seq": marks.next_seq,
            "acked_upto": marks.acked_upto,
            "first_seq": outbox.first_seq(),
            "pending": marks.pending,
            "last_receipt_no": last_receipt_no(conn),
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
