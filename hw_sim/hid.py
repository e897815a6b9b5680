"""A simulated HID keyboard (scanner or keypad) writing kernel input events to a pipe.

Where there is no ``/dev/uinput``, the simulated device writes the very bytes
the kernel would (``struct input_event`` records, an ``EV_SYN`` after each key
event) into a pipe, and the real ``Scanner`` or ``Keypad`` reads them through
an ``FdKeySource``::

    sim = SimulatedHidDevice("sim-scanner")
    scanner = Scanner(config, source_factory=lambda path: sim.source())
    sim.type_text("]E06954767410388")

``SimulatedInputBus`` plays the kernel's ``/dev/input`` for device discovery:
simulated devices sit on numbered nodes with a name and USB ids, ``bus.nodes``
lists them for ``InputDiscovery`` and ``bus.open`` is the drivers' source
factory; ``bus.replug`` moves a device to a new ``eventN``, as the kernel does
when a cable is pulled and pushed back::

    bus = SimulatedInputBus()
    bus.attach(sim, vendor=0x0C2E, product=0x0B61)
    discovery = InputDiscovery(lister=bus.nodes)
    scanner = Scanner(ScannerConfig(match="usb:0c2e:0b61"), source_factory=bus.open,
                      discovery=discovery)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from types import TracebackType

from evdev import ecodes

from firmware_app.drivers import keymaps
from firmware_app.drivers.discovery import InputNode
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

    def source(self, path: str = "") -> FdKeySource:
        """A key source reading this device (a fresh descriptor each call), known by
        ``path`` (the device's name when empty)."""
        if self._pipe is None:
            raise DeviceMissing(f"{path or self.name}: unplugged")
        return FdKeySource(os.dup(self._pipe[0]), self.name, path=path)

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


# What a USB keyboard-wedge scanner or a full keyboard can send: every key of the
# layouts, Enter, the modifiers and the keypad.
KEYBOARD_KEYS = frozenset(
    {code for code, _ in keymaps.layout("us").chars}
    | {ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB, ecodes.KEY_BACKSPACE}
    | {ecodes.KEY_ESC, ecodes.KEY_NUMLOCK}
    | {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT, ecodes.KEY_LEFTCTRL}
    | {ecodes.KEY_RIGHTCTRL, ecodes.KEY_LEFTALT, ecodes.KEY_RIGHTALT}
)


class SimulatedInputBus:
    """The kernel's input nodes, for simulated devices: ``/dev/input/eventN`` each.

    ``attach`` puts a device on the next free node with a name, USB ids and the keys
    it can send (``keys=()`` for the second, key-less node some scanners add).
    A device is listed only while plugged. Thread-safe: drivers list and open from
    their reader threads while a test moves cables.
    """

    def __init__(self, *, directory: str = "/dev/input", first: int = 3) -> None:
        self._directory = directory
        self._next = first
        self._lock = threading.Lock()
        self._nodes: dict[str, tuple[SimulatedHidDevice, InputNode]] = {}

    def attach(
        self,
        device: SimulatedHidDevice,
        *,
        vendor: int = 0,
        product: int = 0,
        name: str = "",
        keys: Iterable[int] = KEYBOARD_KEYS,
    ) -> str:
        """Put ``device`` on a new node; returns the node's path."""
        with self._lock:
            path = self._new_path()
            node = InputNode(
                path,
                name or device.name,
                vendor,
                product,
                {ecodes.EV_KEY: frozenset(keys)} if keys else {},
            )
            self._nodes[path] = (device, node)
            return path

    def nodes(self) -> list[InputNode]:
        """The nodes of plugged devices, in node order (an ``InputDiscovery`` lister)."""
        with self._lock:
            return [node for device, node in self._nodes.values() if device.plugged]

    def open(self, path: str) -> FdKeySource:
        """A key source on the node ``path`` (a driver's source factory)."""
        with self._lock:
            entry = self._nodes.get(path)
        if entry is None or not entry[0].plugged:
            raise DeviceMissing(f"{path}: no such device")
        return entry[0].source(path)

    def path_of(self, device: SimulatedHidDevice) -> str:
        """The node ``device`` sits on now (the first, if it has several)."""
        with self._lock:
            for path, (owner, _) in self._nodes.items():
                if owner is device:
                    return path
        raise KeyError(f"{device.name} is not attached")

    def replug(self, device: SimulatedHidDevice) -> str:
        """Pull the cable and push it back: every node of ``device`` gets a new number,
        as the kernel gives a re-plugged device. Returns the first new path."""
        device.unplug()
        with self._lock:
            moved = [(p, n) for p, (owner, n) in self._nodes.items() if owner is device]
            for old, _ in moved:
                del self._nodes[old]
            paths = []
            for _, node in moved:
                path = self._new_path()
                self._nodes[path] = (device, replace(node, path=path))
                paths.append(path)
        device.plug()
        return paths[0]

    def _new_path(self) -> str:
        path = f"{self._directory}/event{self._next}"
        self._next += 1
        return path
