"""SQLite database files as files: private copies, integrity checks, putting one in
place of another without a stale ``-wal`` replayed into it, and durable writes.

Used by backups and restores; nothing here knows what the lane keeps in them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from contextlib import closing, suppress
from pathlib import Path

from firmware_app.errors import StoreError

SQLITE_MAGIC = b"SQLite format 3\x00"


def copy_private(source: Path, staging: Path, error: type[StoreError]) -> None:
    """Copy the backup file (not a live database) to a private name in the data dir:
    checks never write into the backup, and a read-only medium is fine."""
    try:
        with source.open("rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise error(f"{source}: no such file") from None
    except OSError as e:
        raise error(f"{source}: cannot read: {e.strerror}") from e
    if magic != SQLITE_MAGIC:
        raise error(f"{source}: not a SQLite database")
    try:
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging)
        with closing(sqlite3.connect(staging, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as e:
        raise error(f"{source}: not a usable SQLite database: {e}; try an older backup") from e
    except OSError as e:
        raise error(f"{source}: cannot copy to {staging}: {e.strerror}") from e


def require_intact(
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


SIDE_FILES = ("-wal", "-shm", "-journal")


def swap_in(staging: Path, database: Path, stamp: str, error: type[StoreError]) -> Path | None:
    """Put ``staging`` in place of ``database``, keeping the old one (with its -wal)
    as ``<name>.before-restore-<stamp>``.

    Order matters: the old files get their new names by hard links first (a crash
    leaves both names), then the old -wal/-shm/-journal go (a -wal left beside the
    new file would be replayed into it: SQLite cannot tell it belongs to another
    database), and only then does the new file take the name, atomically.
    """
    saved = _free_name(database.with_name(f"{database.name}.before-restore-{stamp}"))
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
        fsync_dir(database.parent)
        os.replace(staging, database)
        fsync_dir(database.parent)
    except OSError as e:
        raise error(f"{database}: cannot put the restored database in place: {e}") from e
    return saved if kept else None


def _free_name(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``… when taken (two restores within one second)."""
    candidate, n = path, 1
    while any(Path(f"{candidate}{s}").exists() for s in ("", *SIDE_FILES)):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes, error: type[StoreError]) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        fsync_dir(path.parent)
    except OSError as e:
        with suppress(OSError):
            temp.unlink()
        raise error(f"{path}: cannot write: {e.strerror}") from e


def fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
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


READ_ONLY = (
    "read-only file system: the lane cannot save sales (after write errors the kernel "
    "remounts a card read-only: see dmesg; check or replace the card)"
)


FULL_BELOW_BYTES = 1 << 20  # less than this free: not even SQLite's WAL index fits


def on_read_only_fs(path: Path) -> bool:
    """True when ``path`` (or, while it does not exist, the nearest directory above it)
    is on a file system mounted read-only: every write there fails, root's too."""
    info = _statvfs(path)
    return info is not None and bool(info.f_flag & os.ST_RDONLY)


def disk_full(path: Path) -> bool:
    """True when the file system of ``path`` has less than ``FULL_BELOW_BYTES`` free
    for the lane's user (root's reserved blocks not counted)."""
    info = _statvfs(path)
    return info is not None and info.f_bavail * info.f_frsize < FULL_BELOW_BYTES


def _statvfs(path: Path) -> os.statvfs_result | None:
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return os.statvfs(probe)
    except OSError:
        return None
