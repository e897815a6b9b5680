"""The device's end of a serial cable, as a pseudo-terminal.

``port`` is the path the lane opens exactly as it opens a real serial port;
every chunk the lane writes goes to ``on_data`` on the line's own thread, and
``write`` answers. Closing the line removes the port, as pulling a USB serial
adapter would.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable

POLL_S = 0.02  # how often the serving thread looks at its stop flag


class PseudoSerialLine:
    """A pseudo-terminal pair with a reader thread; ``on_data`` gets what the lane sent."""

    def __init__(self, name: str, on_data: Callable[[bytes], None], *, read_size: int = 4096):
        self._on_data = on_data
        self._read_size = read_size
        self._stop = threading.Event()
        self._closed = False
        self._master, self._slave = os.openpty()
        try:
            # Raw from the start, so nothing is echoed or translated; the slave stays
            # open here so the master keeps working between the lane's openings.
            tty.setraw(self._slave)
            self.port: str = os.ttyname(self._slave)
            self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
            self._thread.start()
        except BaseException:
            self._close_fds()
            raise

    def write(self, data: bytes) -> None:
        """Send ``data`` to the lane; lost silently once the line is closed."""
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], POLL_S)
            if not ready:
                continue
            try:
                data = os.read(self._master, self._read_size)
            except OSError:
                return  # the pseudo-terminal is gone: closing
            self._on_data(data)

    def close(self) -> None:
        """Stop reading and remove the port. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(1.0)
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
