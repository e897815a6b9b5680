"""Cash drawer on GPIO: one output pulses the solenoid, one input reads the open switch.

Wiring (docs/wiring.md, spec/devices.md "Cash drawer on GPIO"):

- **Kick** (``kick_pin``, default GPIO17, header pin 11) drives the gate of a logic-level
  N-MOSFET (gate resistor, pull-down to ground) that switches the low side of the
  solenoid; a flyback diode sits across the coil. The Pi never drives the coil itself:
  it draws about 1 A at 24 V. With ``kick_active_high`` False the gate driver inverts,
  so "on" is the low level.
- **Switch** (``switch_pin``, default GPIO27, header pin 13) is the drawer's contact
  between the pin and ground, read with the internal pull-up: a closed contact reads
  low. Whether the contact is closed or open while the drawer is open depends on the
  drawer; ``open_when_switch`` says which.

The kick is a single pulse of ``pulse_ms`` milliseconds, never longer than
``MAX_PULSE_MS`` whatever the configuration says: a longer pulse can burn the coil.

Kick confirmation (after UnifiedPOS ``openDrawer``): the switch must show the drawer
open within ``confirm_ms`` of the end of the pulse; if it does not, the driver kicks
once more, and if the drawer is still shut after another ``confirm_ms`` it reports
``DeviceState(Device.DRAWER, StateWord.JAMMED, detail)``. That wait runs on a
confirmer thread of the driver: ``kick()`` gives the first pulse and returns a
``KickConfirmation`` at once, so the lane loop is never held for the up to
2 × ``confirm_ms`` a jam takes.
Good and failed opens are counted (``statistics``), as UnifiedPOS's
``DrawerGoodOpenCount`` and ``DrawerFailedOpenCount``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.exc import BadPinFactory, NativePinFactoryFallback, PinFactoryFallback, PinWarning
from gpiozero.pins import Factory

from firmware_app.config import DrawerConfig
from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.errors import DeviceError, DrawerClosed, DrawerError
from firmware_app.drivers.ports import Emit
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, DrawerSwitch

log = logging.getLogger(__name__)

MAX_PULSE_MS = 500  # printers cap their drawer pulse near here; longer can burn the coil
NO_PIN_LIBRARY_ADVICE = (
    "on a Raspberry Pi: sudo apt install python3-lgpio (or pip install lgpio in the "
    "lane's venv); without a drawer: [drawer] enabled = false"
)

_Device = TypeVar("_Device", DigitalInputDevice, DigitalOutputDevice)


def kick_pulse_ms(config: DrawerConfig) -> int:
    """The pulse the driver will give, in ms: ``config.pulse_ms`` capped at ``MAX_PULSE_MS``."""
    if config.pulse_ms <= 0:
        raise DrawerError(f"drawer pulse_ms must be positive, got {config.pulse_ms}")
    if config.pulse_ms > MAX_PULSE_MS:
        log.warning("drawer pulse_ms %d capped at %d ms", config.pulse_ms, MAX_PULSE_MS)
    return min(config.pulse_ms, MAX_PULSE_MS)


def _confirm_s(config: DrawerConfig) -> float:
    if config.confirm_ms <= 0:
        raise DrawerError(f"drawer confirm_ms must be positive, got {config.confirm_ms}")
    return config.confirm_ms / 1000


def _open_when_contact_closed(config: DrawerConfig) -> bool:
    if config.open_when_switch not in ("open", "closed"):
        raise DrawerError(
            f"drawer open_when_switch must be 'open' or 'closed', got {config.open_when_switch!r}"
        )
    return config.open_when_switch == "closed"


def pin_error_text(error: Exception, tried: list[str] | None = None) -> str:
    """gpiozero's error as a technician can act on it. ``BadPinFactory`` ("Unable to
    load any default pin factory!") means no GPIO library could be loaded: say which
    to install, or how to run without the drawer. ``tried`` are gpiozero's fallback
    notes (``lgpio: No module named 'lgpio'``), of which the names are shown."""
    if not isinstance(error, BadPinFactory):
        return str(error) or type(error).__name__
    names = [note.split(":", 1)[0] for note in tried or []]
    if names:
        return f"no GPIO pin library works here (tried {', '.join(names)}); {NO_PIN_LIBRARY_ADVICE}"
    return f"no GPIO pin library could be loaded ({error}); {NO_PIN_LIBRARY_ADVICE}"


class NoPinLibrary(DrawerError):
    """No GPIO pin library could be loaded; ``reason`` says which to install."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def claim(pin: int, role: str, build: Callable[[], _Device]) -> _Device:
    """Build one gpiozero device; any failure means the drawer cannot be driven.

    Every pin factory fails in its own way (GPIOPinInUse, BadPinFactory, lgpio's own
    error, RPi.GPIO's RuntimeError), so all of them become one DrawerError naming the pin.
    gpiozero warns of each pin library it could not load (four ``PinFactoryFallback``
    lines on stderr off a Pi); those notes go into the error, or into one log line
    when a later library worked.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PinWarning)
        try:
            device, error = build(), None
        except Exception as e:
            device, error = None, e
    _pass_on(caught)  # outside the block: passed on there, they would be caught again
    tried = _fallbacks(caught)
    if error is not None:
        if tried:
            log.debug("GPIO pin libraries tried: %s", "; ".join(tried))
        reason = pin_error_text(error, tried)
        message = f"cannot claim GPIO{pin} for the drawer {role}: {reason}"
        if isinstance(error, BadPinFactory):
            raise NoPinLibrary(message, reason) from error
        raise DrawerError(message) from error
    assert device is not None
    if tried:
        factory = type(getattr(device, "pin_factory", None)).__name__
        native = any(issubclass(w.category, NativePinFactoryFallback) for w in caught)
        hint = f"; for the best: {NO_PIN_LIBRARY_ADVICE.split(';')[0]}" if native else ""
        log.info("GPIO: using %s (not loaded: %s)%s", factory, "; ".join(tried), hint)
    return device


def _fallbacks(caught: list[warnings.WarningMessage]) -> list[str]:
    """gpiozero's notes on the pin libraries it passed over: ``lgpio: No module …``."""
    return [
        str(w.message).removeprefix("Falling back from ")
        for w in caught
        if issubclass(w.category, PinFactoryFallback)
    ]


def _pass_on(caught: list[warnings.WarningMessage]) -> None:
    """Warnings other than the pin library notes go on as usual."""
    for w in caught:
        if not issubclass(w.category, PinWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _pulse(kick: DigitalOutputDevice, seconds: float, sleep: Callable[[float], None]) -> None:
    """One pulse: on, wait, off; off happens whatever interrupts the wait.

    ``on(); sleep(); off()`` rather than ``blink(n=1)``: blink pulses from its own
    thread, so a failure there never reaches the caller, and a second blink (or any
    on/off) stops that thread mid-pulse without driving the pin off, so two kicks
    close together merge into one longer pulse. Here the pulse is in the caller's
    thread, under the driver's kick lock, and ``finally`` always ends it.
    """
    try:
        kick.on()
        sleep(seconds)
    finally:
        _force_off(kick)


def _force_off(kick: DigitalOutputDevice) -> None:
    try:
        kick.off()
    except BaseException:
        # Releasing the line makes it an input; the gate pull-down then holds the
        # MOSFET off, so the coil is not left energised.
        kick.close()
        raise


class DrawerJammed(DrawerError):
    """The drawer did not open after a kick and the one retry."""


class KickOutcome(Enum):
    """How one kick ended."""

    OPENED = "opened"  # the switch showed open after the first pulse
    OPENED_ON_RETRY = "opened_on_retry"  # it took the second pulse
    JAMMED = "jammed"  # still shut a confirm time after the second pulse
    FAILED = "failed"  # the second pulse could not be given (kick line fault)
    ABANDONED = "abandoned"  # the driver was closed before the drawer showed open


@dataclass(frozen=True)
class DrawerStatistics:
    """Counts since the driver was built, after UnifiedPOS's cash drawer statistics."""

    good_open_count: int = 0  # DrawerGoodOpenCount: kicks the switch confirmed
    failed_open_count: int = 0  # DrawerFailedOpenCount: kicks that ended jammed or failed
    retried_open_count: int = 0  # good opens that needed the second pulse
    pulse_count: int = 0  # pulses given or tried, retries included

    def counting(self, outcome: KickOutcome) -> DrawerStatistics:
        """These counts with one more finished kick."""
        good = outcome in (KickOutcome.OPENED, KickOutcome.OPENED_ON_RETRY)
        return replace(
            self,
            good_open_count=self.good_open_count + good,
            failed_open_count=self.failed_open_count
            + (outcome in (KickOutcome.JAMMED, KickOutcome.FAILED)),
            retried_open_count=self.retried_open_count + (outcome is KickOutcome.OPENED_ON_RETRY),
        )


class KickConfirmation:
    """What became of one kick: known once the switch shows open or the retry ran out.

    The lane loop ignores it (the outcome reaches the lane as events); a caller that
    may block, a test or a service tool, waits with ``wait`` or ``result``.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self._outcome: KickOutcome | None = None
        self.detail = ""

    @property
    def outcome(self) -> KickOutcome | None:
        """The outcome, or None while the confirmation is still running."""
        return self._outcome

    def wait(self, timeout: float | None = None) -> KickOutcome | None:
        """The outcome, waiting up to ``timeout`` seconds; None if not known by then."""
        self._done.wait(timeout)
        return self._outcome

    def result(self, timeout: float | None = None) -> KickOutcome:
        """``OPENED`` or ``OPENED_ON_RETRY``; raises ``DrawerJammed`` for a jam,
        ``DrawerError`` for a failed or abandoned kick, ``TimeoutError`` if not known
        within ``timeout`` seconds."""
        outcome = self.wait(timeout)
        if outcome is None:
            raise TimeoutError("the drawer kick is not confirmed yet")
        if outcome is KickOutcome.JAMMED:
            raise DrawerJammed(self.detail)
        if outcome in (KickOutcome.FAILED, KickOutcome.ABANDONED):
            raise DrawerError(self.detail)
        return outcome

    def _finish(self, outcome: KickOutcome, detail: str) -> None:
        self.detail = detail
        self._outcome = outcome
        self._done.set()

    def __repr__(self) -> str:
        return f"<KickConfirmation {self._outcome.value if self._outcome else 'pending'}>"


class _Closing(Exception):
    """The driver is closing: the confirmation ends without a verdict."""


def switch_state(is_open: bool) -> StateWord:
    """The drawer's state word for what its switch says."""
    return StateWord.OPEN if is_open else StateWord.CLOSED


def outcome_state(outcome: KickOutcome) -> StateWord | None:
    """The drawer's state word for how a kick ended; None when the switch says it all
    (the drawer opened) or nothing is to be said (the driver was closed)."""
    return {KickOutcome.JAMMED: StateWord.JAMMED, KickOutcome.FAILED: StateWord.ERROR}.get(outcome)


class GpioDrawer(Closeable):
    """The cash drawer behind the ``CashDrawer`` port, on two GPIO pins; extends
    ``Closeable`` with the kick, its confirmation and the switch.

    ``pin_factory`` is any gpiozero pin factory (``MockFactory`` in tests and hw_sim);
    None means gpiozero's default. Nothing touches a pin before construction; a driver
    that fails half-way releases what it had claimed and raises ``DrawerError``.
    ``clock`` (monotonic seconds) times the confirmation, ``sleep(seconds)`` holds the
    pulse: tests pass their own, so that no test waits on real time for them.

    ``start(emit)`` reports the current state and then every change of the switch,
    each as ``DrawerSwitch(is_open)`` followed by ``DeviceState(Device.DRAWER, OPEN |
    CLOSED)``; a jam as ``DeviceState(Device.DRAWER, JAMMED, detail)``, a kick line
    that fails on the retry as ``DeviceState(Device.DRAWER, ERROR, detail)``. Changes
    arrive on gpiozero's callback thread, jams on the confirmer thread; ``emit``
    must only enqueue.
    """

    what = "drawer"
    closed_error = DrawerClosed

    def __init__(
        self,
        config: DrawerConfig,
        *,
        pin_factory: Factory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self._clock = clock
        self._sleep = sleep
        self._config = config
        self._pulse_ms = kick_pulse_ms(config)
        self._confirm_s = _confirm_s(config)
        self._open_when_contact_closed = _open_when_contact_closed(config)
        # Lock order: kick, then switch, then watch (a pulse can fire a switch edge).
        self._kick_lock = threading.Lock()  # one pulse at a time; close waits for it
        self._switch_lock = threading.Lock()  # orders reports from any thread
        self._watch = threading.Condition()  # guards what the confirmer waits on
        self._emit: Emit | None = None
        self._reported: bool | None = None
        self._seen_open = False  # the switch showed open since the kick being confirmed
        self._closing = False
        self._pending: KickConfirmation | None = None
        self._confirmer: threading.Thread | None = None
        self._statistics = DrawerStatistics()
        self._kick: DigitalOutputDevice | None = None
        self._switch: DigitalInputDevice | None = None
        try:
            self._kick = claim(config.kick_pin, "kick", lambda: self._build_kick(pin_factory))
            self._switch = claim(
                config.switch_pin, "switch", lambda: self._build_switch(pin_factory)
            )
        except BaseException:
            self.close()
            raise
        # Edges are watched from now on, listener or not: a kick confirms on them.
        self._switch.when_activated = self._on_switch_edge
        self._switch.when_deactivated = self._on_switch_edge

    def _build_kick(self, pin_factory: Factory | None) -> DigitalOutputDevice:
        return DigitalOutputDevice(
            self._config.kick_pin,
            active_high=self._config.kick_active_high,
            initial_value=False,
            pin_factory=pin_factory,
        )

    def _build_switch(self, pin_factory: Factory | None) -> DigitalInputDevice:
        # No bounce_time: gpiozero's software debounce (RPi.GPIO, native) can drop the
        # last edge of a burst (gpiozero issues #550, #1039), and a lost "drawer shut"
        # would leave the lane waiting. Each edge instead re-reads the level and only
        # a change is reported, so a bounce is at worst a short burst ending in the truth.
        return DigitalInputDevice(
            self._config.switch_pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
        )

    @property
    def pulse_ms(self) -> int:
        """The kick pulse this driver gives, in ms (configuration capped at 500)."""
        return self._pulse_ms

    @property
    def confirm_ms(self) -> int:
        """How long after a pulse the switch must show open, in ms."""
        return round(self._confirm_s * 1000)

    @property
    def statistics(self) -> DrawerStatistics:
        """Good and failed opens and pulses since the driver was built."""
        with self._watch:
            return self._statistics

    @property
    def is_open(self) -> bool:
        """True when the switch says the drawer is open; read from the pin each time.
        ``DrawerClosed`` after ``close()``."""
        switch = self._switch
        if switch is None or self.closed:
            raise self._closed_error()
        try:
            contact_closed = bool(switch.is_active)  # pull-up: active means low
        except Exception as e:
            raise DrawerError(
                f"cannot read the drawer switch on GPIO{self._config.switch_pin}"
            ) from e
        return contact_closed == self._open_when_contact_closed

    def kick(self) -> KickConfirmation:
        """Pulse the solenoid once for ``pulse_ms``; returns when the pulse has ended,
        with the confirmation of the opening still running on the confirmer thread.

        Raises ``DrawerError`` when the pulse cannot be given (a kick line fault;
        ``DrawerClosed`` after ``close()``). A kick while an earlier one is still being
        confirmed pulses too and returns that earlier confirmation: both wait for the
        same opening.
        """
        with self._kick_lock:
            kick = self._kick
            if kick is None or self.closed:
                raise self._closed_error()
            pending = self._arm()
            self._pulse_or_raise(kick)
            return pending if pending is not None else self._start_confirmer()

    def _arm(self) -> KickConfirmation | None:
        """The confirmation still running, or None after arming a new one (a drawer
        open already counts as opened)."""
        with self._watch:
            if self._pending is not None:
                return self._pending
            self._seen_open = self._open_now()
            return None

    def _open_now(self) -> bool:
        # A switch that cannot be read confirms nothing; the kick still goes out.
        try:
            return self.is_open
        except DeviceError:
            return False

    def _pulse_or_raise(self, kick: DigitalOutputDevice) -> None:
        with self._watch:
            self._statistics = replace(
                self._statistics, pulse_count=self._statistics.pulse_count + 1
            )
        try:
            _pulse(kick, self._pulse_ms / 1000, self._sleep)
        except Exception as e:
            pin = self._config.kick_pin
            raise DrawerError(f"cannot pulse the drawer kick on GPIO{pin}: {e}") from e

    def _start_confirmer(self) -> KickConfirmation:
        confirmation = KickConfirmation()
        with self._watch:
            self._pending = confirmation
        self._confirmer = threading.Thread(
            target=self._confirm, args=(confirmation,), name="drawer-confirm", daemon=True
        )
        self._confirmer.start()
        return confirmation

    # --- the confirmer thread ------------------------------------------------------------

    def _confirm(self, confirmation: KickConfirmation) -> None:
        try:
            outcome, detail = self._await_opening()
        except Exception as e:  # never let the thread die without an answer
            log.exception("drawer confirmation failed")
            outcome, detail = KickOutcome.FAILED, f"confirmation failed: {e}"
        self._conclude(confirmation, outcome, detail)

    def _await_opening(self) -> tuple[KickOutcome, str]:
        ms = self.confirm_ms
        try:
            if self._wait_open():
                return KickOutcome.OPENED, ""
            log.warning("drawer not open %d ms after the kick; kicking once more", ms)
            self._kick_again()
            if self._wait_open():
                return KickOutcome.OPENED_ON_RETRY, ""
        except _Closing:
            return KickOutcome.ABANDONED, "the drawer driver was closed"
        except DrawerError as e:
            return KickOutcome.FAILED, str(e)
        c = self._config
        return KickOutcome.JAMMED, (
            f"not open {ms} ms after each of two kicks "
            f"(kick GPIO{c.kick_pin}, switch GPIO{c.switch_pin})"
        )

    def _wait_open(self) -> bool:
        """True once the switch has shown open; False after ``confirm_ms``."""
        deadline = self._clock() + self._confirm_s
        with self._watch:
            while not self._seen_open:
                remaining = deadline - self._clock()
                if self._closing:
                    raise _Closing
                if remaining <= 0:
                    return False
                self._watch.wait(remaining)
            return True

    def _kick_again(self) -> None:
        with self._kick_lock:
            kick = self._kick
            if kick is None:
                raise _Closing
            with self._watch:
                if self._seen_open:
                    return  # opened meanwhile (another kick, or late): no extra pulse
            self._pulse_or_raise(kick)

    def _conclude(self, confirmation: KickConfirmation, outcome: KickOutcome, detail: str) -> None:
        # Under the switch lock: a jam and an opening at the very deadline are then
        # ordered, so the lane's last word is always the true one.
        with self._switch_lock:
            with self._watch:
                if outcome is KickOutcome.JAMMED and self._seen_open:
                    outcome, detail = KickOutcome.OPENED_ON_RETRY, ""
                self._statistics = self._statistics.counting(outcome)
                self._pending = None
            state = outcome_state(outcome)
            if state is not None:
                log.warning("drawer %s: %s", state.value, detail)
                self._send(DeviceState(Device.DRAWER, state, detail))
        confirmation._finish(outcome, detail)

    def _send(self, event: DeviceState) -> None:
        # The confirmer thread must finish its confirmation whatever the listener does.
        if self._emit is None:
            return
        try:
            self._emit(event)
        except Exception:
            log.exception("drawer: emit failed for %s", event)

    def start(self, emit: Emit) -> None:
        """Report the drawer's state now, then on every change of the switch."""
        self._check_open()
        with self._switch_lock:
            self._emit = emit
            self._reported = None  # a new listener always hears the current state
        self._report()

    def _on_switch_edge(self) -> None:
        # A DeviceError here means close() is under way: nobody is listening any more.
        with contextlib.suppress(DeviceError):
            self._report()

    def _report(self) -> None:
        # Re-read the pin rather than trust the edge, and read it under the lock: late,
        # bouncing or racing edges then still end on the level the pin has now.
        with self._switch_lock:
            is_open = self.is_open
            if is_open:
                self._saw_open()
            if self._emit is None or is_open == self._reported:
                return
            self._reported = is_open
            self._emit(DrawerSwitch(is_open))
            self._emit(DeviceState(Device.DRAWER, switch_state(is_open)))

    def _saw_open(self) -> None:
        with self._watch:
            self._seen_open = True
            self._watch.notify_all()

    def _release(self) -> None:
        """Stop reporting, end a confirmation in progress (``ABANDONED``) and release
        both pins.

        Waits for a pulse in progress to end with its own ``off()`` before releasing
        the kick pin.
        """
        with self._switch_lock:
            self._emit = None
        with self._watch:
            self._closing = True
            self._watch.notify_all()
        with self._kick_lock:
            kick, self._kick = self._kick, None
            confirmer, self._confirmer = self._confirmer, None
        if confirmer is not None and confirmer is not threading.current_thread():
            confirmer.join(timeout=2.0)
        switch, self._switch = self._switch, None
        try:
            if switch is not None:
                switch.close()
        finally:
            if kick is not None:
                kick.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<GpioDrawer closed>"
        c = self._config
        return (
            f"<GpioDrawer kick=GPIO{c.kick_pin} switch=GPIO{c.switch_pin} pulse={self._pulse_ms}ms>"
        )
