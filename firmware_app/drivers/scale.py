"""Serial weighing scale: polls the scale and reports its readings, its health and
the outcome of the zero and tare keys.

Wiring: the scale's RS-232 port goes through a USB-serial adapter (or the Pi's
UART and a MAX3232 level shifter) to ``scale.port``, normally the udev link
``/dev/lane-scale``. Serial settings come from ``ScaleConfig`` (9600 baud, 7 data
bits, even parity, 1 stop bit by default); ``scale.protocol`` picks the protocol
(``8217`` Mettler Toledo, ``scp01`` NCI / Weigh-Tronix).

Events (``firmware_app.lane.events``), all from the driver's own thread:

- ``ScaleUpdate(reading)`` when the reading changes, and again at least every
  ``REEMIT_S`` while it does not (the lane counts an old reading as silent; with
  ``poll_ms`` above a second, every poll). ``STABLE`` only after
  ``stable_readings`` equal no-motion answers in a row, ``MOVING`` until then;
  ``SILENT`` when no complete answer arrives within ``timeout_ms``; ``ERROR`` for
  an answer the lane cannot use (its reason is logged once, when it first comes;
  the scale still counts as ``ok``: it answers).
- ``DeviceState(Device.SCALE, state)`` on each change of ``OK`` (answers come),
  ``SILENT`` (the scale stopped answering) and ``MISSING`` (the port cannot be
  opened or went away; it is opened again every ``reopen_s`` until it is back).
  The log says a missing port or a noisy line when it starts, then reminds at
  growing intervals (``Reminder``: 1 min, 2, 4 … up to 1 h), not on every try.
- ``ScaleCommandResult`` once per ``zero()``, ``tare()`` or ``clear_tare()`` the
  scale answered: ``done`` (``ZEROED``, ``TARED``, ``TARE_CLEARED``) when it obeyed,
  ``refused_because`` (``MOVING`` …; the rules are in ``scale_rules``) when not. It
  comes only on an answer, so the scale is ``OK`` by then. A command the scale never
  answered gives no result; the ``SILENT`` or ``MISSING`` state says why.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import serial

from firmware_app.config import ScaleConfig
from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.ports import Emit
from firmware_app.drivers.scale_frames import ScaleAnswer, ScaleProtocol, take_frame
from firmware_app.drivers.scale_protocols import protocol_for
from firmware_app.drivers.scale_rules import CommandWatch, Steadiness
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, ScaleCommandResult, ScaleUpdate
from firmware_app.lane.weighing import ScaleCommand, ScaleReading, ScaleStatus
from firmware_app.reminders import Reminder

logger = logging.getLogger(__name__)

DEVICE = Device.SCALE
REEMIT_S = 1.0  # half the lane's 2 s staleness limit: one lost event is harmless
REOPEN_S = 2.0
READ_SLICE_S = 0.05  # one blocking read at most: bounds how long close() waits
COMMAND_TTL_S = 2.0  # a zero or tare older than this is dropped: the load may have changed
RESULT_WINDOW_S = 0.6  # a scale that obeys a zero or tare shows it within this
JOIN_S = 2.0
SILENT = ScaleReading(ScaleStatus.SILENT)

SerialFactory = Callable[..., Any]  # serial.Serial or anything opened like it


class _Reporter:
    """Turns answers into events: readings on change (and every ``REEMIT_S``),
    device states on transition only, command results as they come."""

    def __init__(self, emit: Emit, clock: Callable[[], float], poll_s: float) -> None:
        self._emit = emit
        self._clock = clock
        # Re-send one poll early, so the gap between two events stays within REEMIT_S.
        self._reemit_s = max(0.0, REEMIT_S - poll_s)
        self._state: StateWord | None = None
        self._last: ScaleReading | None = None
        self._last_at = 0.0
        self._reason = ""

    def answer(self, reading: ScaleReading, silent_detail: str = "") -> None:
        word = health(reading)
        self.state(word, silent_detail if word is StateWord.SILENT else "")
        self.reading(reading)

    def reading(self, reading: ScaleReading) -> None:
        now = self._clock()
        if reading != self._last or now - self._last_at >= self._reemit_s:
            self._emit(ScaleUpdate(reading))
            self._last, self._last_at = reading, now

    def state(self, state: StateWord, detail: str = "") -> None:
        if state is not self._state:
            self._state = state
            self._emit(DeviceState(DEVICE, state, detail))

    def result(self, result: ScaleCommandResult) -> None:
        """A zero or tare was judged; only ever on an answer, so the scale is ok."""
        self.state(StateWord.OK)
        logger.info("scale: %s", result.text)
        self._emit(result)

    def reason(self, answer: ScaleAnswer, frame: bytes) -> None:
        """Log why answers are unusable, once per change: a scale set to lb would
        otherwise fill the log five times a second."""
        if answer.reason != self._reason:
            if answer.reason:
                logger.warning("scale answer %r unusable: %s", frame, answer.reason)
            else:
                logger.info("scale answers usable again")
            self._reason = answer.reason


def health(reading: ScaleReading) -> StateWord:
    """The scale's state word for an answer: ``SILENT`` when none came, else ``OK``
    (a moving, over or unusable answer is still an answer). ``MISSING`` comes from
    the port, not from an answer."""
    return StateWord.SILENT if reading.status is ScaleStatus.SILENT else StateWord.OK


class SerialScale(Closeable):
    """A weighing scale on a serial port, polled from a daemon thread; extends
    ``Closeable`` with polling and the zero and tare keys.

    Every ``poll_ms`` the thread sends the protocol's request and reads the answer
    up to its terminator (it never waits for the line to go quiet), within a budget
    of ``timeout_ms``. ``zero()``, ``tare()`` and ``clear_tare()`` queue a command
    that the thread sends before its next request, one at a time: the next waits
    until the scale has shown the outcome of the last (``result_window_s`` at most).
    """

    what = "scale"

    def __init__(
        self,
        config: ScaleConfig,
        *,
        serial_factory: SerialFactory = serial.Serial,
        clock: Callable[[], float] = time.monotonic,
        reopen_s: float = REOPEN_S,
        result_window_s: float = RESULT_WINDOW_S,
    ) -> None:
        super().__init__()
        self._config = config
        self._protocol: ScaleProtocol = protocol_for(config.protocol)
        self._serial_factory = serial_factory
        self._clock = clock
        self._reopen_s = reopen_s
        self._poll_s = config.poll_ms / 1000
        self._timeout_s = config.timeout_ms / 1000
        self._commands: queue.SimpleQueue[tuple[ScaleCommand, float]] = queue.SimpleQueue()
        self._steady = Steadiness(config.stable_readings)
        self._watch = CommandWatch(result_window_s)
        self._last: ScaleAnswer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port_fault = Reminder(logger, clock)  # missing port, unexpected errors
        self._noise = Reminder(logger, clock)  # answers that are not frames

    # --- the port the daemon uses -------------------------------------------------

    def start(self, emit: Emit) -> None:
        """Start polling; events go to ``emit`` from the driver's thread."""
        self._check_open()
        if self._thread is not None:
            raise DeviceError("scale: already started")
        reporter = _Reporter(emit, self._clock, self._poll_s)
        self._thread = threading.Thread(
            target=self._run, args=(reporter,), name=DEVICE, daemon=True
        )
        self._thread.start()

    def _release(self) -> None:
        """Stop the thread (within about ``READ_SLICE_S``); it closes the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)
            if self._thread.is_alive():
                logger.warning("scale thread did not stop within %.1f s", JOIN_S)

    # --- scale keys ---------------------------------------------------------------

    def zero(self) -> None:
        """Zero the empty platter (the 8217 obeys only when stable, near zero, no tare).
        The outcome comes as a ``ScaleCommandResult`` (``ZEROED``, or refused)."""
        self._queue(ScaleCommand.ZERO)

    def tare(self) -> None:
        """Tare the load on the platter (the 8217 needs gross zero first).
        The outcome comes as a ``ScaleCommandResult`` (``TARED``, or refused)."""
        self._queue(ScaleCommand.TARE)

    def clear_tare(self) -> None:
        """Clear the tare; ``DeviceError`` when the protocol has no such command (SCP-01).
        The outcome comes as a ``ScaleCommandResult`` (``TARE_CLEARED``, or refused)."""
        self._queue(ScaleCommand.CLEAR_TARE)

    def _queue(self, command: ScaleCommand) -> None:
        self._check_open()
        if not self._bytes(command):
            raise DeviceError(
                f"scale: protocol {self._protocol.name} has no {command.value} command"
            )
        self._commands.put((command, self._clock()))

    def _bytes(self, command: ScaleCommand) -> bytes:
        p = self._protocol
        return {
            ScaleCommand.ZERO: p.zero,
            ScaleCommand.TARE: p.tare,
            ScaleCommand.CLEAR_TARE: p.clear_tare,
        }[command]

    # --- the thread ---------------------------------------------------------------

    def _run(self, reporter: _Reporter) -> None:
        while not self._stop.is_set():
            try:
                self._session(reporter)
            except DeviceMissing as e:
                self._port_fault.fault(f"scale missing: {e}")
                reporter.state(StateWord.MISSING, str(e))
                reporter.reading(SILENT)
            except Exception as e:
                # Nothing may end the thread: the lane must get its scale back by itself.
                self._port_fault.fault(
                    f"scale thread: unexpected error ({type(e).__name__}: {e}); "
                    "opening the port again",
                    exc_info=True,
                )
            self._forget()
            self._stop.wait(self._reopen_s)

    def _forget(self) -> None:
        """A new connection starts afresh: no count of equal readings, no command out."""
        self._steady.reset()
        self._last = None
        dropped = self._watch.drop()
        if dropped is not None:
            logger.warning("scale: %s sent, but the scale went away before showing it", dropped)

    def _session(self, reporter: _Reporter) -> None:
        """Poll an opened port until close() or until the port goes away."""
        port = self._open()
        self._port_fault.clear(f"scale: {self._config.port} open again")
        try:
            while not self._stop.is_set():
                started = self._clock()
                self._poll(port, reporter)
                self._stop.wait(max(0.0, started + self._poll_s - self._clock()))
        finally:
            with contextlib.suppress(OSError):  # a port that went away may not close cleanly
                port.close()

    def _poll(self, port: Any, reporter: _Reporter) -> None:
        """One command (if one waits), one weight request, and what they tell."""
        self._send_command(port, reporter)
        frame = self._ask(port, self._protocol.request)
        if self._stop.is_set():
            return  # closing: an unanswered last request says nothing
        if frame is None:
            self._steady.reset()
            dropped = self._watch.drop()
            if dropped is not None:
                logger.warning("scale: %s sent, but the scale stopped answering", dropped)
            reporter.answer(SILENT, f"no answer within {self._config.timeout_ms} ms")
            return
        answer = self._protocol.read(frame)
        reporter.reason(answer, frame)
        result = self._watch.observe(answer, self._clock())
        self._last = answer
        reporter.answer(self._steady.reading(answer))
        if result is not None:
            reporter.result(result)

    def _send_command(self, port: Any, reporter: _Reporter) -> None:
        if self._watch.busy:
            return  # one command at a time: each outcome must be told apart
        command = self._next_command()
        if command is None:
            return
        data = self._bytes(command)
        self._watch.sent(command, self._last, self._clock())
        if not self._protocol.commands_answered:
            self._io(port.write, data)
            return
        # The scale answers the command itself (its status); read that answer now, so
        # it cannot pass for the answer to the weight request after it.
        frame = self._ask(port, data)
        if frame is not None and self._protocol.read(frame).refused:
            result = self._watch.refused_by_scale()
            if result is not None:
                reporter.result(result)

    def _next_command(self) -> ScaleCommand | None:
        while True:
            try:
                command, asked_at = self._commands.get_nowait()
            except queue.Empty:
                return None
            age = self._clock() - asked_at
            if age <= COMMAND_TTL_S:
                return command
            logger.warning("scale: dropped a %s asked %.1f s ago", command.value, age)

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
            raise DeviceMissing(f"cannot open {c.port}: {_reason(e)}") from e

    def _ask(self, port: Any, request: bytes) -> bytes | None:
        """Send one request; the answer frame, or None when none came in time."""
        # A late answer to an earlier request must not pass for this one.
        self._io(port.reset_input_buffer)
        self._io(port.write, request)
        deadline = self._clock() + self._timeout_s
        buffer, noise = b"", 0
        while self._clock() < deadline and not self._stop.is_set():
            # Each read returns at the terminator, or after one serial timeout slice.
            chunk = self._io(port.read_until, self._protocol.terminator, self._protocol.max_frame)
            frame, rest = take_frame(buffer + chunk, self._protocol)
            if frame is not None:
                self._noise.clear("scale: answers complete again")
                return frame
            noise += len(buffer) + len(chunk) - len(rest)
            buffer = rest
        if noise or buffer:
            self._noise.fault(
                f"scale: no complete answer, {noise + len(buffer)} bytes of noise "
                "(check baud rate and parity)",
                key="noise",
            )
        return None

    def _io(self, call: Callable[..., Any], *args: Any) -> Any:
        """One call on the port; a port that went away becomes ``DeviceMissing``."""
        try:
            return call(*args)
        except (serial.SerialException, OSError) as e:
            raise DeviceMissing(f"{self._config.port} went away: {e}") from e


def _reason(error: Exception) -> str:
    """pyserial's open error in words, without its repeated port and errno:
    ``no such file or directory`` rather than ``[Errno 2] could not open port …``."""
    code = getattr(error, "errno", None)
    if isinstance(code, int):
        text = os.strerror(code)
        return text[:1].lower() + text[1:]
    return " ".join(str(error).split())
