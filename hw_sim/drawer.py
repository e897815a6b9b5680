"""The cash drawer's mechanism, on the far side of gpiozero's mock pins.

The lane's real ``GpioDrawer`` claims the same pins from the same ``MockFactory``;
this module plays the solenoid and the open switch behind them. It must be built
before the driver claims the pins, because ``MockFactory`` creates each pin once,
with the class asked for first.

Being told about the kick: ``KickPin`` is a ``MockPin`` that calls a listener on
every level the driver writes, the way gpiozero's own ``MockTriggerPin`` drives its
echo pin. The alternative, a thread polling ``pin.state``, would need a period short
enough not to miss a 20 ms pulse, would burn CPU for nothing, and would make tests
wait for it; the listener runs at the very write, in the driver's thread, with
nothing to start or stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from gpiozero.pins.mock import MockFactory, MockPin

from firmware_app.config import DrawerConfig

_Pin = TypeVar("_Pin", bound=MockPin)


class KickPin(MockPin):
    """Extends ``MockPin``: tells ``on_level`` of each level change written as an output."""

    on_level: Callable[[bool], None] | None = None

    def _change_state(self, value: Any) -> bool:
        changed: bool = super()._change_state(value)
        listener = self.on_level
        if changed and self._function == "output" and listener is not None:
            listener(bool(value))
        return changed


class SwitchPin(MockPin):
    """Extends ``MockPin`` with the drawer's switch: a contact from the line to ground.

    A closed contact holds the line low whatever the pull; an open contact lets the
    pull (the driver's pull-up) set the level.
    """

    contact_closed = True

    def _change_state(self, value: Any) -> bool:
        if value and self.contact_closed and self._function == "input":
            return False  # shorted to ground: no pull-up can raise it
        changed: bool = super()._change_state(value)
        return changed

    def set_contact(self, closed: bool) -> None:
        """Close or open the contact, moving the line as the wiring would."""
        self.contact_closed = closed
        if closed:
            self.drive_low()
        elif self.pull == "up":
            self.drive_high()


def _install(factory: MockFactory, number: int, pin_class: type[_Pin]) -> _Pin:
    pin = factory.pin(number, pin_class=pin_class)
    if not isinstance(pin, pin_class):
        raise ValueError(
            f"GPIO{number} already exists as a {type(pin).__name__}: "
            "build the SimulatedDrawer before anything claims its pins"
        )
    return pin


class SimulatedDrawer:
    """A cash drawer wired to ``config.kick_pin`` and ``config.switch_pin`` of ``pin_factory``.

    A kick (the kick pin going to its active level, per ``kick_active_high``) springs
    the drawer open, unless it is jammed; the switch then shows "open" with the
    polarity of ``open_when_switch``. The drawer starts shut.

    Verbs, as hands at the lane: ``close_drawer()`` pushes it shut; ``jam()`` makes the
    next kick fail to open it (the jam clears with that kick), ``jam(kicks=2)`` the next
    two (the driver's kick and its one retry: the lane reports "jammed"),
    ``jam(kicks=None)`` every kick until ``unjam()``; ``open_with_key()`` opens it by
    hand, jammed or not. ``kicks`` counts every kick, opened or not. Thread-safe: kicks
    arrive on the driver's thread, verbs on the script's.
    """

    def __init__(self, pin_factory: MockFactory, config: DrawerConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._open = False
        self._jammed_kicks: int | None = 0  # kicks still to swallow; None: all of them
        self._kicks = 0
        self._kick_pin = _install(pin_factory, config.kick_pin, KickPin)
        if self._kick_pin.on_level is not None:
            raise ValueError(f"GPIO{config.kick_pin} already drives another simulated drawer")
        self._switch_pin = _install(pin_factory, config.switch_pin, SwitchPin)
        self._switch_pin.set_contact(self._contact_closed_when(is_open=False))
        self._kick_pin.on_level = self._on_kick_level

    def _contact_closed_when(self, *, is_open: bool) -> bool:
        return (self._config.open_when_switch == "closed") == is_open

    def _on_kick_level(self, level: bool) -> None:
        if level != self._config.kick_active_high:
            return  # the end of a pulse: the latch is already released or not
        with self._lock:
            self._kicks += 1
            if self._jammed_kicks is None:
                return  # jammed for good
            if self._jammed_kicks > 0:
                self._jammed_kicks -= 1
                return
            self._set_open(True)

    def _set_open(self, is_open: bool) -> None:
        self._open = is_open
        self._switch_pin.set_contact(self._contact_closed_when(is_open=is_open))

    def close_drawer(self) -> None:
        """The cashier pushes the drawer shut."""
        with self._lock:
            self._set_open(False)

    def jam(self, kicks: int | None = 1) -> None:
        """The next ``kicks`` kicks will not open the drawer; None: no kick will, until
        ``unjam()``."""
        if kicks is not None and kicks < 1:
            raise ValueError(f"kicks must be at least 1 (or None for a lasting jam), got {kicks}")
        with self._lock:
            self._jammed_kicks = kicks

    def unjam(self) -> None:
        """Free the latch: the next kick opens the drawer again."""
        with self._lock:
            self._jammed_kicks = 0

    def open_with_key(self) -> None:
        """The cashier opens the drawer with its key, jam or no jam."""
        with self._lock:
            self._set_open(True)

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def jammed(self) -> bool:
        """True while a kick would not open the drawer."""
        return self._jammed_kicks != 0

    @property
    def kicks(self) -> int:
        """Kick pulses received since construction, including those a jam swallowed."""
        return self._kicks

    @property
    def kick_pin(self) -> KickPin:
        return self._kick_pin

    @property
    def switch_pin(self) -> SwitchPin:
        return self._switch_pin

    def close(self) -> None:
        """Stop listening to the kick pin. Idempotent."""
        self._kick_pin.on_level = None

    def __enter__(self) -> SimulatedDrawer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
