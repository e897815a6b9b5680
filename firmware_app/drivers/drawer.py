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
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from time import sleep
from types import TracebackType
from typing import TypeVar

from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.pins import Factory

from firmware_app.config import DrawerConfig
from firmware_app.drivers.errors import DrawerError
from firmware_app.drivers.ports import Emit
from firmware_app.lane.events import DeviceState, DrawerSwitch

log = logging.getLogger(__name__)

MAX_PULSE_MS = 500  # printers cap their drawer pulse near here; longer can burn the coil

_Device = TypeVar("_Device", DigitalInputDevice, DigitalOutputDevice)


def kick_pulse_ms(config: DrawerConfig) -> int:
    """The pulse the driver will give, in ms: ``config.pulse_ms`` capped at ``MAX_PULSE_MS``."""
    if config.pulse_ms <= 0:
        raise DrawerError(f"drawer pulse_ms must be positive, got {config.pulse_ms}")
    if config.pulse_ms > MAX_PULSE_MS:
        log.warning("drawer pulse_ms %d capped at %d ms", config.pulse_ms, MAX_PULSE_MS)
    return min(config.pulse_ms, MAX_PULSE_MS)


def _open_when_contact_closed(config: DrawerConfig) -> bool:
    if config.open_when_switch not in ("open", "closed"):
        raise DrawerError(
            f"drawer open_when_switch must be 'open' or 'closed', got {config.open_when_switch!r}"
        )
    return config.open_when_switch == "closed"


def _claim(pin: int, role: str, build: Callable[[], _Device]) -> _Device:
    """Build one gpiozero device; any failure means the drawer cannot be driven.

    Every pin factory fails in its own way (GPIOPinInUse, BadPinFactory, lgpio's own
    error, RPi.GPIO's RuntimeError), so all of them become one DrawerError naming the pin.
    """
    try:
        return build()
    except Exception as e:
        raise DrawerError(f"cannot claim GPIO{pin} for the drawer {role}: {e}") from e


def _pulse(kick: DigitalOutputDevice, seconds: float) -> None:
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


class GpioDrawer:
    """The cash drawer behind the ``CashDrawer`` port, on two GPIO pins.

    ``pin_factory`` is any gpiozero pin factory (``MockFactory`` in tests and hw_sim);
    None means gpiozero's default. Nothing touches a pin before construction; a driver
    that fails half-way releases what it had claimed and raises ``DrawerError``.

    ``start(emit)`` reports the current state and then every change, each as
    ``DrawerSwitch(is_open)`` followed by ``DeviceState("drawer", "open" | "closed")``.
    Changes arrive on gpiozero's callback thread; ``emit`` must only enqueue.
    """

    def __init__(self, config: DrawerConfig, *, pin_factory: Factory | None = None) -> None:
        self._config = config
        self._pulse_ms = kick_pulse_ms(config)
        self._open_when_contact_closed = _open_when_contact_closed(config)
        self._kick_lock = threading.Lock()  # one pulse at a time; close waits for it
        self._switch_lock = threading.Lock()  # orders reports from any thread
        self._emit: Emit | None = None
        self._reported: bool | None = None
        self._kick: DigitalOutputDevice | None = None
        self._switch: DigitalInputDevice | None = None
        try:
            self._kick = _claim(config.kick_pin, "kick", lambda: self._build_kick(pin_factory))
            self._switch = _claim(
                config.switch_pin, "switch", lambda: self._build_switch(pin_factory)
            )
        except BaseException:
            self.close()
            raise

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
    def closed(self) -> bool:
        """True once ``close()`` has released the pins."""
        return self._kick is None and self._switch is None

    @property
    def is_open(self) -> bool:
        """True when the switch says the drawer is open; read from the pin each time."""
        switch = self._switch
        if switch is None:
            raise DrawerError("the drawer driver is closed")
        try:
            contact_closed = bool(switch.is_active)  # pull-up: active means low
        except Exception as e:
            raise DrawerError(
                f"cannot read the drawer switch on GPIO{self._config.switch_pin}"
            ) from e
        return contact_closed == self._open_when_contact_closed

    def kick(self) -> None:
        """Pulse the solenoid once for ``pulse_ms``; returns when the pulse has ended."""
        with self._kick_lock:
            kick = self._kick
            if kick is None:
                raise DrawerError("the drawer driver is closed")
            try:
                _pulse(kick, self._pulse_ms / 1000)
            except Exception as e:
                pin = self._config.kick_pin
                raise DrawerError(f"cannot pulse the drawer kick on GPIO{pin}: {e}") from e

    def start(self, emit: Emit) -> None:
        """Report the drawer's state now, then on every change of the switch."""
        switch = self._switch
        if switch is None:
            raise DrawerError("the drawer driver is closed")
        with self._switch_lock:
            self._emit = emit
            self._reported = None  # a new listener always hears the current state
        switch.when_activated = self._on_switch_edge
        switch.when_deactivated = self._on_switch_edge
        self._report()

    def _on_switch_edge(self) -> None:
        # A DrawerError here means close() is under way: nobody is listening any more.
        with contextlib.suppress(DrawerError):
            self._report()

    def _report(self) -> None:
        # Re-read the pin rather than trust the edge, and read it under the lock: late,
        # bouncing or racing edges then still end on the level the pin has now.
        with self._switch_lock:
            if self._emit is None:
                return
            is_open = self.is_open
            if is_open == self._reported:
                return
            self._reported = is_open
            self._emit(DrawerSwitch(is_open))
            self._emit(DeviceState("drawer", "open" if is_open else "closed"))

    def close(self) -> None:
        """Stop reporting and release both pins. Idempotent.

        Waits for a pulse in progress to end with its own ``off()`` before releasing
        the kick pin.
        """
        with self._switch_lock:
            self._emit = None
        with self._kick_lock:
            kick, self._kick = self._kick, None
        switch, self._switch = self._switch, None
        try:
            if switch is not None:
                switch.close()
        finally:
            if kick is not None:
                kick.close()

    def __enter__(self) -> GpioDrawer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<GpioDrawer closed>"
        c = self._config
        return (
            f"<GpioDrawer kick=GPIO{c.kick_pin} switch=GPIO{c.switch_pin} pulse={self._pulse_ms}ms>"
        )
