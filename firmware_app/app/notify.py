"""Telling systemd how the lane is doing: the ``sd_notify`` protocol, without a library.

systemd starts the lane as a ``Type=notify`` service and hands it ``NOTIFY_SOCKET``,
the address of an ``AF_UNIX`` datagram socket. Each message is one datagram of
``KEY=value`` lines: ``READY=1`` once the lane sells (systemd counts the start as
done only then), ``STATUS=…`` for ``systemctl status``, ``STOPPING=1`` on the way
out, and ``WATCHDOG=1`` from the lane loop: with ``WatchdogSec=`` set, systemd
passes ``WATCHDOG_USEC`` and kills and restarts a lane whose loop has not pinged
within that time, which is how a hung lane (a device call that never returns, a
deadlock) comes back by itself.

Nothing here may stop the lane: outside systemd (no ``NOTIFY_SOCKET``) every call
is a no-op, and a socket error is logged once and otherwise ignored.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """One service's line to systemd.

    ``address`` is ``NOTIFY_SOCKET`` as systemd gives it: a path (``/run/systemd/notify``)
    or an abstract socket name written with a leading ``@``; ``None`` disables every
    message. ``watchdog_usec`` is ``WATCHDOG_USEC`` (µs), 0 for no watchdog; pings are
    sent at most every half of it, as systemd advises, however often the loop calls
    ``watchdog()``. ``clock`` gives monotonic seconds (injected for tests).

    The methods are called from the lane loop and from the signal handler on the same
    (main) thread, so no lock is taken: a lock held by the interrupted loop would
    deadlock the handler. ``sendto`` of one datagram is atomic anyway.
    """

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = _socket_address(address)
        self.watchdog_usec = max(0, watchdog_usec) if self.address is not None else 0
        self._clock = clock
        self._socket: socket.socket | None = None
        self._last_ping: float | None = None
        self._failed = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, pid: int | None = None
    ) -> Notifier:
        """The notifier systemd set up for this process, or a disabled one.

        ``WATCHDOG_PID``, when set, names the process the watchdog is meant for: a
        child that inherited the environment (a helper started by the lane) must not
        ping on the lane's behalf, so any other pid gets no watchdog.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog_usec = _positive_int(env.get("WATCHDOG_USEC", ""))
        watchdog_pid = env.get("WATCHDOG_PID", "")
        if watchdog_pid and _positive_int(watchdog_pid) != (os.getpid() if pid is None else pid):
            watchdog_usec = 0
        return cls(address, watchdog_usec=watchdog_usec)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to tell things to."""
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float:
        """How often the loop must call ``watchdog()`` at the least (half of WatchdogSec);
        0 when there is no watchdog."""
        return self.watchdog_usec / 2_000_000

    # --- the messages --------------------------------------------------------------

    def ready(self, status: str = "") -> bool:
        """``READY=1``: start-up is over (the database is open, the devices were tried)."""
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        """``STATUS=text``: one line shown by ``systemctl status``."""
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str = "") -> bool:
        """``STOPPING=1``: the lane is shutting down on purpose."""
        return self.send("STOPPING=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def watchdog(self) -> bool:
        """``WATCHDOG=1`` when half the watchdog interval has passed since the last ping.

        Cheap enough to call on every loop iteration; True when a ping was sent.
        """
        if not self.watchdog_usec:
            return False
        now = self._clock()
        if self._last_ping is not None and now - self._last_ping < self.watchdog_interval_s:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def send(self, *fields: str) -> bool:
        """One datagram of ``KEY=value`` lines; False (never an exception) when not sent."""
        if self.address is None or not fields:
            return False
        payload = "\n".join(fields).encode("utf-8")
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(payload, self.address)
        except OSError as e:
            # Once: a lane whose notify socket went away must not fill the journal.
            if not self._failed:
                self._failed = True
                log.warning("cannot notify systemd at %s: %s", os.fsdecode(self.address), e)
            return False
        return True

    def close(self) -> None:
        """Close the socket; later messages open it again. Idempotent."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _socket_address(address: str | None) -> bytes | None:
    """``NOTIFY_SOCKET`` as ``sendto`` takes it: ``@name`` becomes an abstract address."""
    if not address:
        return None
    if address.startswith("@"):
        return b"\0" + os.fsencode(address[1:])
    if address.startswith("/"):
        return os.fsencode(address)
    # Newer systemd may hand a vsock: address (virtual machines); the lane runs on metal.
    log.warning("NOTIFY_SOCKET %r is not a unix socket; systemd will not be notified", address)
    return None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        return 0
    return value if value > 0 else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())
