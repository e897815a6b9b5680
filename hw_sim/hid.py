"""A simulated HID keyboard (scanner or keypad) writing kernel input events to a pipe.

Where there is no ``/dev/uinput``, the simulated device writes the very bytes
the kernel would (``struct input_event`` records, an ``EV_SYN`` after each key
event) into a pipe, and the real ``Scanner`` or ``Keypad`` reads them through
an ``FdKeySource``::

    sim = SimulatedHidDevice("sim-scanner")
    scanner = Scanner(config, source_factory=lambda path: sim.source())
    sim.type_text("]E06954767410388")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType

from evdev import ecodes

from firmware_app.drivers import keymaps
from firmware_app.drivers.errors import DeviceMissing
from firmware_app.drivers.hid import FdKeySource, encode_input_event
from firmware_app.drivers.keymaps import Keystroke, Layout, Level

KEY_INTERVAL_S = 0.002  # a scanner's keys arrive a few milliseconds apart


class SimulatedHidDevice:
    """A keyboard-like device with hands: ``type_text`` (a scanner), ``press`` and
    ``press_names`` (a keypad), ``unplug`` and ``plug`` (the USB cable).

    Event timestamps start at ``clock()`` (seconds) and advance ``key_interval_s``
    per key event, like a real scanner's burst.
    """

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float] = time.time,
        key_interval_s: float = KEY_INTERVAL_S,
    ) -> None:
        self.name = name
        self._clock = clock
        self._interval = key_interval_s
        self._last_t = 0.0
        self.events_written = 0  # records written, EV_SYN included
        self._pipe: tuple[int, int] | None = os.pipe()
        self._closed = False

    # --- the cable ---------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        return self._pipe is not None

    def source(self) -> FdKeySource:
        """A key source reading this device (a fresh descriptor each call)."""
        if self._pipe is None:
            raise DeviceMissing(f"{self.name}: unplugged")
        return FdKeySource(os.dup(self._pipe[0]), self.name)

    def unplug(self) -> None:
        """Pull the cable: readers see end of file once they have read what was sent."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            os.close(pipe[1])
            os.close(pipe[0])

    def plug(self) -> None:
        """Plug the cable back in; the driver's next retry opens the new pipe."""
        if self._closed:
            raise DeviceMissing(f"{self.name}: closed")
        if self._pipe is None:
            self._pipe = os.pipe()

    def close(self) -> None:
        """Unplug for good. Idempotent."""
        self._closed = True
        self.unplug()

    def __enter__(self) -> SimulatedHidDevice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the hands ---------------------------------------------------------------------

    def type_text(self, text: str, layout: str | Layout = "us", enter: bool = True) -> None:
        """Type ``text`` as a wedge scanner set up for ``layout`` does, then Enter.

        Checks every character first: text the layout cannot type sends nothing.
        """
        keys = keymaps.layout(layout) if isinstance(layout, str) else layout
        strokes = [keys.stroke(ch) for ch in text]
        space = keys.stroke(" ")
        for stroke in strokes:
            self._write(self._stroke_events(stroke))
            if stroke.dead:  # a dead key needs a space to type its own symbol
                self._write(self._stroke_events(space))
        if enter:
            self.press(ecodes.KEY_ENTER)

    def press(self, keycode: int) -> None:
        """Press and release one key."""
        self._write([(keycode, 1), (keycode, 0)])

    def press_names(self, names: Iterable[str], keymap: Mapping[str, str]) -> None:
        """Press lane keys by name (``"7"``, ``"PLU"``) through the config's keymap:
        each name is typed with the first evdev key mapped to it."""
        codes = [self._code_for(name, keymap) for name in names]
        for code in codes:
            self.press(code)

    def send_event(self, type_: int, code: int, value: int) -> None:
        """Put one raw event on the wire, whatever it is (a faulty device's noise)."""
        if self._pipe is None:
            raise DeviceMissing(f"{self.name}: unplugged")
        os.write(self._pipe[1], encode_input_event(type_, code, value, self._next_t()))
        self.events_written += 1

    @staticmethod
    def _code_for(name: str, keymap: Mapping[str, str]) -> int:
        for evdev_name, lane_name in keymap.items():
            if lane_name == name:
                return ecodes.ecodes[evdev_name]
        raise ValueError(f"no key for {name!r} in the keypad map")

    # --- the wire ----------------------------------------------------------------------

    @staticmethod
    def _stroke_events(stroke: Keystroke) -> list[tuple[int, int]]:
        """(key code, value) pairs for one keystroke, modifiers wrapped around it."""
        mods = []
        if stroke.ctrl:
            mods.append(ecodes.KEY_LEFTCTRL)
        if stroke.level in (Level.SHIFT, Level.SHIFT_ALTGR):
            mods.append(ecodes.KEY_LEFTSHIFT)
        if stroke.level in (Level.ALTGR, Level.SHIFT_ALTGR):
            mods.append(ecodes.KEY_RIGHTALT)
        downs = [(m, 1) for m in mods] + [(stroke.code, 1)]
        ups = [(stroke.code, 0)] + [(m, 0) for m in reversed(mods)]
        return downs + ups

    def _write(self, keys: list[tuple[int, int]]) -> None:
        """One write per keystroke; each key event is followed by EV_SYN/SYN_REPORT."""
        if self._pipe is None:
            raise DeviceMissing(f"{self.name}: unplugged")
        records = []
        for code, value in keys:
            t = self._next_t()
            records.append(encode_input_event(ecodes.EV_KEY, code, value, t))
            records.append(encode_input_event(ecodes.EV_SYN, ecodes.SYN_REPORT, 0, t))
        os.write(self._pipe[1], b"".join(records))
        self.events_written += len(records)

    def _next_t(self) -> float:
        """Now, or a key interval after the last event if that is later (a burst
        written faster than real time still reads as a scanner's few-ms rhythm)."""
        self._last_t = max(self._clock(), self._last_t + self._interval)
        return self._last_t
