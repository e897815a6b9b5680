"""A stand-in for systemd's end of the notify protocol: an AF_UNIX datagram socket
that records every message the lane sends, as systemd's manager would receive them."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from types import TracebackType


class NotifySocket:
    """Bound at a short path under /tmp (unix socket paths are limited to 107 bytes), or
    at an abstract address when ``abstract`` is true. ``env`` is what systemd would put
    in the service's environment; ``messages`` holds each datagram as a dict."""

    def __init__(self, *, abstract: bool = False) -> None:
        self._dir: str | None = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"firmware-lane-test-{uuid.uuid4().hex}"
            self.sock.bind(b"\0" + name.encode())
            self.address = "@" + name
        else:
            self._dir = tempfile.mkdtemp(prefix="notify-", dir="/tmp")
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(0.1)
        self.messages: list[dict[str, str]] = []
        self.arrived: list[float] = []  # monotonic time of each message
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.address}

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            with self._lock:
                self.messages.append(fields)
                self.arrived.append(time.monotonic())

    def with_key(self, key: str, value: str = "1") -> list[dict[str, str]]:
        """Messages that set ``key`` to ``value``."""
        with self._lock:
            return [m for m in self.messages if m.get(key) == value]

    def keys(self) -> list[str]:
        """The first ``KEY=1`` of each message, in order (READY, WATCHDOG, STOPPING…)."""
        with self._lock:
            return [next((k for k, v in m.items() if v == "1"), "STATUS") for m in self.messages]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self.sock.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
