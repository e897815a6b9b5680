"""The customer display on a serial port: a 2×20 VFD pole display or an 8-digit LED.

Wiring: the display's RS-232 cable goes through a USB-serial adapter to
``customer_display.port``, normally the udev link ``/dev/lane-pole``; 8N1 at
``customer_display.baudrate`` (9600 for most displays). The lane only sends: a
display answers nothing. ``customer_display.protocol`` picks the command set
(``cd5220``, ``escpos``, ``led8``; the tables are in ``pole_frames``), and
docs/wiring.md has the cable.

``PoleDisplay.show(view)`` is called by the lane loop after each step with the
customer view (``lane.view.customer_view``). It lays the view out and encodes it
(``pole_frames``, pure) and, only when the bytes differ from the last ones asked
for, hands them to the display's own thread. It never waits for the port and
never raises: at 9600 baud a frame takes about 60 ms on the wire, which the lane
must not spend. The thread sends the newest frame only (frames asked for while
one was on its way are skipped: latest wins), and waits until it has left the
port before it takes the next, so a slow port never builds up a backlog.

States, as ``DeviceState(Device.CUSTOMER_DISPLAY, word, detail)`` through ``post``
(from the display's thread), on each change:

- ``OK``: the port is open, and the last frame (if any) left it.
- ``MISSING``: the port is not there (unplugged, no udev link) or went away (a
  write failed, or the check made every ``check_s`` while nothing changes). It is
  opened again every ``reopen_s``; once back, the current content is sent again
  (a display plugged in again is blank).
- ``ERROR``: the port is there but cannot be opened (permission, locked by another
  program), or the display takes no data: a frame did not leave within
  ``write_timeout_s``. The frame is tried again every ``reopen_s``.

The log says a fault when it starts, reminds of it at growing intervals
(``Reminder``) and says when it is over; never once per retry.

Constructing ``PoleDisplay`` opens the port. A port that is no serial port at all
(a directory, a file, a device that is not a terminal) raises ``DeviceError``
naming the port and why: no retry mends that. A port that is not there, or not
usable, does not raise: the display is reported ``MISSING`` or ``ERROR`` and
retried, exactly as when it is unplugged later, so plugging it in is enough.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import termios
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from firmware_app.config import CustomerDisplayConfig
from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.pole_frames import (
    RESYNC,
    Lamp,
    ascii_text,
    cd5220_frame,
    escpos_frame,
    frame_encoder,
    led8_frame,
    led_frame,
    vfd_lines,
)
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event
from firmware_app.lane.view import CustomerView
from firmware_app.reminders import Reminder

__all__ = [
    "Lamp",
    "PoleDisplay",
    "ascii_text",
    "cd5220_frame",
    "escpos_frame",
    "led8_frame",
    "led_frame",
    "open_pole_display",
    "vfd_lines",
]

logger = logging.getLogger(__name__)

DEVICE = Device.CUSTOMER_DISPLAY
REOPEN_S = 2.0  # how often a missing port is opened, or a refused frame sent, again
CHECK_S = 2.0  # how often an open port is checked while nothing changes
WRITE_TIMEOUT_S = 2.0  # beyond a frame's own 60 ms at 9600 baud: the display takes no data
DRAIN_POLL_S = 0.005
JOIN_S = 2.0
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
# termios.error is not an OSError: pyserial lets it through from tcflush and tcsetattr.
PORT_ERRORS = (serial.SerialException, OSError, termios.error)
ABSENT = frozenset([errno.ENOENT, errno.ENODEV, errno.ENXIO])
NO_SERIAL_PORT = frozenset([errno.ENOTTY, errno.EISDIR])
LOCKED = frozenset([errno.EAGAIN, errno.EBUSY])  # pyserial's exclusive lock is taken

Post = Callable[[Event], None]
SerialFactory = Callable[..., Any]  # serial.Serial or anything opened like it


class _NotTakingData(DeviceError):
    """A frame did not leave the port within the write timeout."""


class PoleDisplay(Closeable):
    """A customer display on a serial port, written from its own thread; extends
    ``Closeable`` with ``show``.

    ``post`` gets the display's ``DeviceState`` events (it must be thread-safe: the
    lane's inbox). ``serial_factory``, ``clock`` (monotonic seconds) and the timings
    are there for tests and hw_sim.
    """

    what = "customer display"

    def __init__(
        self,
        config: CustomerDisplayConfig,
        post: Post,
        *,
        serial_factory: SerialFactory = serial.Serial,
        clock: Callable[[], float] = time.monotonic,
        reopen_s: float = REOPEN_S,
        check_s: float = CHECK_S,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self.config = config
        try:
            self._encode = frame_encoder(config.protocol, config.columns)
        except ValueError as e:
            raise DeviceError(f"customer display on {config.port}: {e}") from e
        self._post = post
        self._serial_factory = serial_factory
        self._clock = clock
        self._reopen_s = reopen_s
        self._check_s = check_s
        self._write_timeout_s = write_timeout_s
        self._byte_s = BITS_PER_BYTE / config.baudrate
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._wanted: bytes | None = None  # the newest frame show() asked for
        self._sent: bytes | None = None  # the frame the display has whole (the thread's)
        self._resync = False  # part of a frame may wait in the display (the thread's)
        self._state: StateWord | None = None  # the last word posted (the thread's)
        self._port: Any = None  # the open port, for close() to cut a blocked write short
        self._fault = Reminder(logger, clock)
        self._render_fault = Reminder(logger, clock)
        port = self._first_open()
        try:
            self._thread = threading.Thread(
                target=self._run, args=(port,), name="customer-display", daemon=True
            )
            self._thread.start()
        except BaseException:
            self._drop(port)
            raise

    # --- the port the lane loop uses ----------------------------------------------------

    def show(self, view: CustomerView) -> None:
        """Show ``view`` on the display. Returns at once and never raises: the bytes go
        to the display's thread, and only when they differ from the last ones."""
        try:
            frame = self._encode(view)
        except Exception as e:
            # A view the layout cannot take must not stop the lane: the display keeps
            # what it shows, and the log says why.
            self._render_fault.fault(
                f"customer display: cannot lay the view out ({type(e).__name__}: {e})",
                key="render",
                exc_info=True,
            )
            return
        self._render_fault.clear("customer display: views lay out again")
        with self._changed:
            if self.closed or frame == self._wanted:
                return
            self._wanted = frame
            self._changed.notify_all()

    def _release(self) -> None:
        """Stop the thread; a write blocked on a display that takes no data is cut short."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        port = self._port
        if port is not None:
            with contextlib.suppress(*PORT_ERRORS, AttributeError):
                port.cancel_write()
        self._thread.join(JOIN_S)
        if self._thread.is_alive():
            logger.warning("customer display thread did not stop within %.1f s", JOIN_S)

    # --- opening ------------------------------------------------------------------------

    def _first_open(self) -> Any:
        """The opened port, or None when it is not there or not usable yet (the thread
        reports it and tries again); ``DeviceError`` when it is no serial port at all."""
        try:
            return self._open()
        except DeviceMissing:
            return None
        except DeviceError as e:
            if _errno(e.__cause__) in NO_SERIAL_PORT:
                raise DeviceError(
                    f"customer display: {self.config.port} is not a serial port "
                    f"({_reason(e.__cause__)})"
                ) from e.__cause__
            return None

    def _open(self) -> Any:
        c = self.config
        try:
            return self._serial_factory(
                port=c.port,
                baudrate=c.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0,  # nothing is ever read
                write_timeout=self._write_timeout_s,
                exclusive=True,  # the lane is the display's only user
            )
        except (*PORT_ERRORS, ValueError) as e:
            code = _errno(e)
            if code in ABSENT:
                raise DeviceMissing(f"cannot open {c.port}: {_reason(e)}") from e
            if code in LOCKED:
                raise DeviceError(f"cannot open {c.port}: locked by another program") from e
            raise DeviceError(f"cannot open {c.port}: {_reason(e)}") from e

    # --- the thread ---------------------------------------------------------------------

    def _run(self, port: Any) -> None:
        while not self._stop.is_set():
            try:
                if port is None:
                    port = self._open()
                    # A display plugged in again is blank: it gets the whole frame, and
                    # nothing of the old line is left to end.
                    self._sent, self._resync = None, False
                self._serve(port)
                break  # close()
            except DeviceError as e:
                self._failed(e)
            except Exception as e:
                # Nothing may end the thread: the display must come back by itself.
                self._fault.fault(
                    f"customer display thread: unexpected error ({type(e).__name__}: {e}); "
                    "opening the port again",
                    exc_info=True,
                )
            self._drop(port)
            port = None
            self._stop.wait(self._reopen_s)
        self._drop(port)

    def _serve(self, port: Any) -> None:
        """Send each new frame until close(); raises ``DeviceError`` when the port fails."""
        self._port = port
        self._working()
        while not self._stop.is_set():
            frame = self._next_frame()
            if self._stop.is_set():
                return
            if frame is None:
                self._check(port)
                continue
            try:
                self._send(port, frame)
            except _NotTakingData as e:
                # Part of the frame may be on its way: the next goes after RESYNC, which
                # ends a command cut short. What is queued stays queued: dropping it would
                # make room for the next frame and pass a display that takes nothing as ok.
                self._sent = None
                self._resync = True
                self._failed(e)
                self._stop.wait(self._reopen_s)
                continue
            self._sent = frame
            self._resync = False
            self._working()

    def _next_frame(self) -> bytes | None:
        """The newest frame when the display does not have it yet; None after ``check_s``
        without one."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._stop.is_set() or self._wanted != self._sent, self._check_s
            )
            return self._wanted if self._wanted != self._sent else None

    def _send(self, port: Any, frame: bytes) -> None:
        """Write ``frame`` and wait until it has left the port (``out_waiting`` is 0)."""
        data = RESYNC + frame if self._resync else frame
        deadline = self._clock() + self._write_timeout_s + len(data) * self._byte_s
        not_taking = f"{self.config.port}: the display takes no data (check its cable and power)"
        try:
            port.write(data)
        except serial.SerialTimeoutException as e:
            raise _NotTakingData(not_taking) from e
        except PORT_ERRORS as e:
            raise DeviceMissing(f"{self.config.port} went away: {_reason(e)}") from e
        # Not flush(): tcdrain() waits for ever on a line that does not move.
        while self._io(lambda: port.out_waiting):
            if self._clock() >= deadline:
                raise _NotTakingData(not_taking)
            if self._stop.wait(DRAIN_POLL_S):
                return

    def _check(self, port: Any) -> None:
        """Nothing to send: make sure the port is still there (an unplugged adapter's
        port fails every call), and drop anything the display sent (never read)."""
        if self._io(lambda: port.in_waiting):
            self._io(port.reset_input_buffer)

    def _io(self, call: Callable[[], Any]) -> Any:
        """One call on the port; a port that went away becomes ``DeviceMissing``."""
        try:
            return call()
        except PORT_ERRORS as e:
            raise DeviceMissing(f"{self.config.port} went away: {_reason(e)}") from e

    def _drop(self, port: Any) -> None:
        """Close ``port`` without waiting for bytes a display may never take."""
        self._port = None
        if port is None:
            return
        with contextlib.suppress(*PORT_ERRORS):
            port.reset_output_buffer()
        with contextlib.suppress(*PORT_ERRORS):
            port.close()

    # --- what the lane hears ------------------------------------------------------------

    def _working(self) -> None:
        self._fault.clear(f"customer display on {self.config.port}: working again")
        self._report(StateWord.OK)

    def _failed(self, error: DeviceError) -> None:
        word = StateWord.MISSING if isinstance(error, DeviceMissing) else StateWord.ERROR
        self._fault.fault(f"customer display {word.value}: {error}")
        self._report(word, str(error))

    def _report(self, word: StateWord, detail: str = "") -> None:
        """Post ``word`` when it differs from the last one posted."""
        if word is self._state:
            return
        self._state = word
        try:
            self._post(DeviceState(DEVICE, word, detail))
        except Exception:
            logger.exception("customer display: could not report %s", word.value)


def open_pole_display(config: CustomerDisplayConfig, post: Post) -> PoleDisplay:
    """The customer display for an enabled ``[customer_display]``, its events going to
    ``post`` (the lane's inbox). Raises ``DeviceError`` naming the port when it is no
    serial port at all; a port not there yet is reported ``MISSING`` and retried."""
    return PoleDisplay(config, post)


def _errno(error: BaseException | None) -> int | None:
    """The OS error code behind ``error``: pyserial wraps it, or keeps it as a
    ``termios.error``'s first argument (``Could not configure port: (25, ...)``)."""
    seen = error
    while seen is not None:
        code = getattr(seen, "errno", None)
        if isinstance(code, int):
            return code
        if isinstance(seen, termios.error) and seen.args and isinstance(seen.args[0], int):
            return int(seen.args[0])
        seen = seen.__cause__ or seen.__context__
    return None


def _reason(error: BaseException | None) -> str:
    """A port error in words, without pyserial's repeated port and errno:
    ``no such file or directory`` rather than ``[Errno 2] could not open port …``."""
    code = _errno(error)
    if code is not None:
        text = os.strerror(code)
        return text[:1].lower() + text[1:]
    return " ".join(str(error).split()) or type(error).__name__
