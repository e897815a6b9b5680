"""The lane lock: one process at a time owns the lane's databases for writing.

The daemon holds an exclusive ``flock`` on ``data_dir/lane.lock`` for as long
as it runs; ``firmware-lane restore`` takes the same lock, so it cannot swap
``lane.db`` under a running lane, and a lane cannot start in the middle of a
restore. The kernel drops the lock when the holder exits, however it exits
(even ``kill -9`` or a power cut), so there is never a stale lock to clear by
hand; the file itself stays and only carries the holder's pid for messages.

``flock`` (not POSIX ``fcntl`` record locks) because its locks belong to an
open file, not a process: a second ``LaneLock`` in the same process conflicts
too, which is what tests and a confused caller need.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from firmware_app.errors import StoreError

LOCK_NAME = "lane.lock"


class LaneLocked(StoreError):
    """Another process holds the lock (usually: the lane daemon is running)."""


class LaneLock:
    """An exclusive, non-blocking lock on a file; a context manager.

    ``LaneLock.for_lane(data_dir, "the lane daemon")`` is the lock the daemon
    holds for its lifetime. ``purpose`` is written into the file so that the
    one who is refused learns who holds it.
    """

    def __init__(self, path: str | os.PathLike[str], purpose: str) -> None:
        self.path = Path(path)
        self.purpose = purpose
        self._fd: int | None = None

    @classmethod
    def for_lane(cls, data_dir: str | os.PathLike[str], purpose: str) -> LaneLock:
        return cls(Path(data_dir) / LOCK_NAME, purpose)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> LaneLock:
        """Take the lock now or raise ``LaneLocked`` naming the holder; never waits."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise LaneLocked(f"{self.path}: cannot open the lock file: {e.strerror}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LaneLocked(f"{self.path}: in use by {holder or 'another process'}") from None
        except OSError as e:
            os.close(fd)
            raise LaneLocked(f"{self.path}: cannot lock: {e.strerror}") from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({self.purpose})\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up; idempotent. The file stays (removing it would race a taker)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> LaneLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


@contextmanager
def holding(lock: LaneLock, error: type[StoreError], busy: str) -> Iterator[None]:
    """Hold ``lock`` for the block; when someone else holds it, raise ``error`` saying
    ``busy``, in which ``{holder}`` names who holds it."""
    try:
        lock.acquire()
    except LaneLocked as e:
        raise error(busy.format(holder=e)) from e
    try:
        yield
    finally:
        lock.release()
