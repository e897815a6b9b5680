"""Serial weighing scale: polls the scale and reports its readings and health.

Wiring: the scale's RS-232 port goes through a USB-serial adapter (or the Pi's
UART and a MAX3232 level shifter) to ``scale.port``, normally the udev link
``/dev/lane-scale``. The Mettler Toledo 8217 protocol runs at 9600 baud, 7 data
bits, even parity, 1 stop bit; the settings come from ``ScaleConfig``.

Events (``firmware_app.lane.events``), all from the driver's own thread:

- ``ScaleUpdate(reading)`` when the reading changes, and again at least every
  ``REEMIT_S`` while it does not (the lane counts an old reading as silent; with
  ``poll_ms`` above a second, every poll); ``SILENT`` when no complete answer
  arrives within ``timeout_ms``; ``ERROR`` for an answer the protocol cannot read
  (logged; the scale still counts as ``ok``: it answers).
- ``DeviceState("scale", state)`` on each change of ``ok`` (answers come),
  ``silent`` (the scale stopped answering) and ``missing`` (the port cannot be
  opened or went away; it is opened again every ``reopen_s`` until it is back).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from firmware_app.config import ScaleConfig
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.ports import Emit
from firmware_app.drivers.scale_protocols import ScaleProtocol, protocol_for, take_frame
from firmware_app.lane.events import DeviceState, ScaleUpdate
from firmware_app.lane.weighing import ScaleReading, ScaleStatus

logger = logging.getLogger(__name__)

DEVICE = "scale"
REEMIT_S = 1.0  # half the lane's 2 s staleness limit: one lost event is harmless
REOPEN_S = 2.0
READ_SLICE_S = 0.05  # one blocking read at most: bounds how long close() waits
COMMAND_TTL_S = 2.0  # a zero or tare older than this is dropped: the load may have changed
JOIN_S = 2.0
SILENT = ScaleReading(ScaleStatus.SILENT)

SerialFactory = Callable[..., Any]  # serial.Serial or anything opened like it


class _Reporter:
    """Turns answers into events: readings on change (and every ``REEMIT_S``),
    device states on transition only."""

    def __init__(self, emit: Emit, clock: Callable[[], float], poll_s: float) -> None:
        self._emit = emit
        self._clock = clock
        # Re-send one poll early, so the gap between two events stays within REEMIT_S.
        self._reemit_s = max(0.0, REEMIT_S - poll_s)
        self._state: str | None = None
        self._last: ScaleReading | None = None
        self._last_at = 0.0

    def answer(self, reading: ScaleReading, silent_detail: str = "") -> None:
        if reading.status is ScaleStatus.SILENT:
            self.state("silent", silent_detail)
        else:
            self.state("ok")
        self.reading(reading)

    def reading(self, reading: ScaleReading) -> None:
        now = self._clock()
        if reading != self._last or now - self._last_at >= self._reemit_s:
            self._emit(ScaleUpdate(reading))
            self._last, self._last_at = reading, now

    def state(self, state: str, detail: str = "") -> None:
        if state != self._state:
            self._state = state
            self._emit(DeviceState(DEVICE, state, detail))


class SerialScale:
    """A weighing scale on a serial port, polled from a daemon thread.

    Every ``poll_ms`` the thread sends the protocol's request and reads the answer
    up to its terminator (it never waits for the line to go quiet), within a budget
    of ``timeout_ms``. ``zero()``, ``tare()`` and ``clear_tare()`` queue a command
    that the thread sends before its next request.
    """

    def __init__(
        self,
        config: ScaleConfig,
        *,
        serial_factory: SerialFactory = serial.Serial,
        clock: Callable[[], float] = time.monotonic,
        reopen_s: float = REOPEN_S,
    ) -> None:
        self._config = config
        self._protocol: ScaleProtocol = protocol_for(config.protocol)
        self._serial_factory = serial_factory
        self._clock = clock
        self._reopen_s = reopen_s
        self._poll_s = config.poll_ms / 1000
        self._timeout_s = config.timeout_ms / 1000
        self._commands: queue.SimpleQueue[tuple[bytes, float]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- the port the daemon uses -------------------------------------------------

    def start(self, emit: Emit) -> None:
        """Start polling; events go to ``emit`` from the driver's thread."""
        if self._closed:
            raise DeviceError("scale: start() after close()")
        if self._thread is not None:
            raise DeviceError("scale: already started")
        reporter = _Reporter(emit, self._clock, self._poll_s)
        self._thread = threading.Thread(
            target=self._run, args=(reporter,), name=DEVICE, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (within about ``READ_SLICE_S``) and close the port. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)
            if self._thread.is_alive():
                logger.warning("scale thread did not stop within %.1f s", JOIN_S)

    def __enter__(self) -> SerialScale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scale keys ---------------------------------------------------------------

    def zero(self) -> None:
        """Zero the empty platter (the 8217 obeys only when stable and near zero)."""
        self._queue(self._protocol.zero, "zero")

    def tare(self) -> None:
        """Tare the load on the platter (the 8217 needs gross zero first)."""
        self._queue(self._protocol.tare, "tare")

    def clear_tare(self) -> None:
        """Clear the tare."""
        self._queue(self._protocol.clear_tare, "clear tare")

    def _queue(self, command: bytes, what: str) -> None:
        if self._closed:
            raise DeviceError(f"scale: {what} after close()")
        if not command:
            raise DeviceError(f"scale: protocol {self._protocol.name} has no {what} command")
        self._commands.put((command, self._clock()))

    # --- the thread ---------------------------------------------------------------

    def _run(self, reporter: _Reporter) -> None:
        while not self._stop.is_set():
            try:
                self._session(reporter)
            except DeviceMissing as e:
                logger.warning("scale missing: %s", e)
                reporter.state("missing", str(e))
                reporter.reading(SILENT)
            except Exception:
                # Nothing may end the thread: the lane must get its scale back by itself.
                logger.exception("scale thread: unexpected error; opening the port again")
            self._stop.wait(self._reopen_s)

    def _session(self, reporter: _Reporter) -> None:
        """Poll an opened port until close() or until the port goes away."""
        port = self._open()
        try:
            while not self._stop.is_set():
                started = self._clock()
                self._send_commands(port)
                frame = self._weigh(port)
                if self._stop.is_set():
                    return  # closing: an unanswered last request says nothing
                if frame is None:
                    reporter.answer(SILENT, f"no answer within {self._config.timeout_ms} ms")
                else:
                    reporter.answer(self._protocol.parse(frame))
                self._stop.wait(max(0.0, started + self._poll_s - self._clock()))
        finally:
            with contextlib.suppress(OSError):  # a port that went away may not close cleanly
                port.close()

    def _open(self) -> Any:
        c = self._config
        try:
            return self._serial_factory(
                port=c.port,
                baudrate=c.baudrate,
                bytesize=c.bytesize,
                parity=c.parity,
                stopbits=c.stopbits,
                timeout=min(READ_SLICE_S, self._timeout_s),
                write_timeout=self._timeout_s,
                exclusive=True,  # the lane is the scale's only user
            )
        except (serial.SerialException, OSError, ValueError) as e:
            raise DeviceMissing(f"cannot open {c.port}: {e}") from e

    def _send_commands(self, port: Any) -> None:
        while True:
            try:
                command, asked_at = self._commands.get_nowait()
            except queue.Empty:
                return
            if self._clock() - asked_at > COMMAND_TTL_S:
                logger.warning("scale: dropped stale command %r", command)
                continue
            self._io(port.write, command)

    def _weigh(self, port: Any) -> bytes | None:
        """Send one request; the answer frame, or None when none came in time."""
        # A late answer to an earlier request must not pass for this one.
        self._io(port.reset_input_buffer)
        self._io(port.write, self._protocol.request)
        deadline = self._clock() + self._timeout_s
        buffer, noise = b"", 0
        while self._clock() < deadline and not self._stop.is_set():
            # Each read returns at the terminator, or after one serial timeout slice.
            chunk = self._io(port.read_until, self._protocol.terminator, self._protocol.max_frame)
            frame, rest = take_frame(buffer + chunk, self._protocol)
            if frame is not None:
                return frame
            noise += len(buffer) + len(chunk) - len(rest)
            buffer = rest
        if noise or buffer:
            logger.warning(
                "scale: no complete answer, %d bytes of noise (check baud rate and parity)",
                noise + len(buffer),
            )
        return None

    def _io(self, call: Callable[..., Any], *args: Any) -> Any:
        """One call on the port; a port that went away becomes ``DeviceMissing``."""
        try:
            return call(*args)
        except (serial.SerialException, OSError) as e:
            raise DeviceMissing(f"{self._config.port} went away: {e}") from e
