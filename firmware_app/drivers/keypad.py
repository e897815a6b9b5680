"""The POS keypad: a USB HID keyboard or numeric keypad read through evdev.

Keys are known to the lane by name (spec/lane-input.md: ``"7"``, ``"PLU"``,
``"CASH"``); the config's keymap says which evdev key is which lane key.
"""

from __future__ import annotations

from collections.abc import Mapping

from evdev import ecodes

from firmware_app.config import KeypadConfig
from firmware_app.drivers.discovery import InputDiscovery
from firmware_app.drivers.hid import EvdevKeySource, HidInputDevice, KeyEvent, SourceFactory
from firmware_app.lane.devices import Device
from firmware_app.lane.events import KeyPressed

KEY_DOWN = 1


def key_code(name: str) -> int:
    """The evdev code of a key name like ``KEY_KP7``; ``ValueError`` naming it if unknown."""
    code = ecodes.ecodes.get(name)
    if code is None or not name.startswith(("KEY_", "BTN_")):
        raise ValueError(f"unknown evdev key name {name!r} in the keypad map")
    return code


class KeypadDecoder:
    """Key-downs in, lane key names out; key-up, autorepeat and unmapped keys give None.

    ``keymap`` maps evdev key names to lane key names (``{"KEY_KP7": "7"}``).
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        self.keys: dict[int, str] = {key_code(name): lane for name, lane in keymap.items()}

    def feed(self, type_: int, code: int, value: int, t: float) -> str | None:
        """One raw event; ``t`` (seconds) is not needed: a keypress is its own unit."""
        if type_ != ecodes.EV_KEY or value != KEY_DOWN:
            return None  # holding a key must not repeat it: a cashier keying 0 0 sees 00
        return self.keys.get(code)


class Keypad(HidInputDevice):
    """Extends ``HidInputDevice`` with the keymap: emits ``KeyPressed(name)``, and
    ``DeviceState(Device.KEYPAD, OK | MISSING | AMBIGUOUS | CONFLICT | ERROR,
    detail)`` on changes.

    The keypad is ``config.match`` when set, else ``config.path``; ``discovery`` is
    shared with the scanner so the two never read one device. ``source_factory(path)``
    opens the key source; a missing keypad is located again every ``retry_s`` seconds.
    """

    device = Device.KEYPAD

    def __init__(
        self,
        config: KeypadConfig,
        *,
        source_factory: SourceFactory = EvdevKeySource,
        retry_s: float = 2.0,
        discovery: InputDiscovery | None = None,
    ) -> None:
        self.config = config
        self.decoder = KeypadDecoder(config.keymap)  # a bad map fails here, not in the thread
        super().__init__(
            config.path,
            grab=config.grab,
            source_factory=source_factory,
            retry_s=retry_s,
            match=config.match,
            keys=frozenset(self.decoder.keys),
            discovery=discovery,
        )

    def _decode(self, event: KeyEvent) -> KeyPressed | None:
        name = self.decoder.feed(*event)
        return KeyPressed(name) if name is not None else None
