"""A small real file system for the lane's data directory: a tmpfs mounted for one test
(root with ``CAP_SYS_ADMIN``, as on the lane's build machines; skipped elsewhere),
filled to the last byte by something else on the disk and freed again, or remounted
read-only (what the kernel does to a card's file system after a write error)."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallDisk:
    """A tmpfs at ``root``; ``fill()`` takes every free block with a ballast file (as a
    runaway log would), ``free()`` deletes it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / "ballast"

    def fill(self) -> int:
        """Write until the file system refuses a single byte; returns the bytes taken."""
        taken = 0
        with self.ballast.open("ab", buffering=0) as f:
            for size in (1 << 20, 1 << 16, 1 << 12, 1):
                while True:
                    try:
                        taken += f.write(b"\0" * size)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        return taken

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def remount(self, mode: str) -> None:
        """``ro`` or ``rw``."""
        _mount("-o", f"remount,{mode}", str(self.root))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def small_disk(root: Path, size: str = "4m") -> Iterator[SmallDisk]:
    root.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "lane-test-disk", str(root))
    except (OSError, subprocess.SubprocessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        pytest.skip(f"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {detail}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True, timeout=30)
