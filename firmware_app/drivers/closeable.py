"""The life cycle every driver shares, written once (after gpiozero's ``GPIOBase``).

A driver is closed once, however often and from however many threads ``close()``
is called; it is a context manager that closes on the way out; ``closed`` says
whether it was closed; and ``_check_open()`` raises ``DeviceClosed`` when a
closed driver is asked to work (a driver may name a subclass of it that is also
its own error: ``DrawerClosed`` is a ``DrawerError``). A driver's own release
goes in ``_release()``.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Self

from firmware_app.drivers.errors import DeviceClosed


class Closeable:
    """Idempotent ``close()``, ``closed``, ``_check_open()`` and the context manager.

    Subclasses call ``super().__init__()`` before anything that can fail, so that a
    half-built driver can ``close()`` itself before re-raising, and put what closing
    does in ``_release()``: it runs once, on the first ``close()``, outside any lock
    of this class (it may join threads). ``what`` names the driver in errors,
    ``closed_error`` is the error a closed driver raises.
    """

    what = "device"
    closed_error: ClassVar[type[DeviceClosed]] = DeviceClosed

    def __init__(self) -> None:
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called (its release may still be under way in
        another thread)."""
        return self._closed

    def close(self) -> None:
        """Stop the driver and release what it holds. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    def _release(self) -> None:
        """Stop threads, close ports, release pins: once, from the first ``close()``."""

    def _check_open(self) -> None:
        """Raise ``DeviceClosed`` when the driver was closed."""
        if self._closed:
            raise self._closed_error()

    def _closed_error(self) -> DeviceClosed:
        """The error a closed driver raises (for a driver that finds itself closed
        some other way, e.g. a pin already released)."""
        return self.closed_error(f"the {self.what} driver is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
