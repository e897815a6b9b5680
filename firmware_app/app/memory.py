"""Giving freed memory back to the operating system after a large job.

CPython frees a parsed 20 MB catalog into its allocator, but glibc keeps the
pages in the process's heap unless asked: on a Pi that shares 1 GB with the
cashier's browser, the lane calls ``malloc_trim`` after each large catalog.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)


def _malloc_trim():  # -> the libc function, or None off glibc
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def give_back_memory() -> None:
    """Collect cycles, then return free heap pages to the system (glibc only)."""
    gc.collect()
    if _TRIM is not None:
        try:
            _TRIM(0)
        except OSError:  # never worth failing a catalog for
            log.debug("malloc_trim failed", exc_info=True)
