"""The barcode scanner: a USB HID keyboard wedge read through evdev.

The scanner types each code as key presses (Shift for capitals, Ctrl+] for GS)
a few milliseconds apart and ends it with Enter. ``WedgeDecoder`` turns those
raw key events back into the code; ``Scanner`` runs it on a key source in a
thread and emits ``Scanned(code)``.
"""

from __future__ import annotations

import logging

from evdev import ecodes

from firmware_app.config import ScannerConfig
from firmware_app.drivers import keymaps
from firmware_app.drivers.discovery import InputDiscovery
from firmware_app.drivers.hid import EvdevKeySource, HidInputDevice, KeyEvent, SourceFactory
from firmware_app.drivers.keymaps import GS, Layout, Level
from firmware_app.lane.devices import Device
from firmware_app.lane.events import Scanned

log = logging.getLogger(__name__)

KEY_DOWN, KEY_UP, KEY_REPEAT = 1, 0, 2
ENTER_KEYS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})
SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
CTRL_KEYS = frozenset({ecodes.KEY_LEFTCTRL, ecodes.KEY_RIGHTCTRL})
ALTGR_KEYS = frozenset({ecodes.KEY_RIGHTALT})
ALT_KEYS = frozenset({ecodes.KEY_LEFTALT})
MODIFIER_KEYS = SHIFT_KEYS | CTRL_KEYS | ALTGR_KEYS | ALT_KEYS
KEYPAD_DIGITS = {getattr(ecodes, f"KEY_KP{d}"): str(d) for d in range(10)}
# Alt codes are three or four digits (Alt+029, Alt+0029); a few leading zeros more are
# tolerated. A longer run is garbage, and is never turned into a number (Python refuses
# to read an int of 4,300 digits or more).
MAX_ALT_DIGITS = 6


class WedgeDecoder:
    """Raw key events in, complete codes out. Pure: time comes with each event.

    ``timeout_ms``: a longer gap between two key-downs means the partial code
    was a human or a misread, and it is dropped. ``max_length``: a longer code
    is dropped whole and the decoder waits for the next Enter (or gap).
    ``gs_substitute``: a character the scanner sends in place of GS (FNC1).
    Besides the layout's keys, Alt held while typing a decimal code on the
    keypad (Alt+0029) gives that ASCII character, as scanners in "Alt mode" send;
    an Alt code longer than ``MAX_ALT_DIGITS`` drops the scan like an over-long code.
    ``feed`` never raises, whatever the device sends.
    """

    def __init__(
        self,
        layout: str | Layout = "us",
        *,
        timeout_ms: int,
        max_length: int,
        gs_substitute: str = "",
    ) -> None:
        self.layout = keymaps.layout(layout) if isinstance(layout, str) else layout
        self.timeout_s = timeout_ms / 1000
        self.max_length = max_length
        self.gs_substitute = gs_substitute
        self._held: set[int] = set()  # modifier keys down now
        self._last_down: float | None = None
        self._dropping = False  # after SYN_DROPPED, until the next SYN_REPORT
        self._reset_code()

    def reset(self) -> None:
        """Forget everything, held modifiers included (the device was reopened)."""
        self._held.clear()
        self._last_down = None
        self._dropping = False
        self._reset_code()

    def feed(self, type_: int, code: int, value: int, t: float) -> str | None:
        """One raw event (``t`` in seconds); returns a code when Enter completes one."""
        if type_ == ecodes.EV_SYN:
            self._sync(code)
            return None
        if type_ != ecodes.EV_KEY or self._dropping:
            return None  # EV_MSC scan codes, LEDs; events the kernel has half lost
        if code in MODIFIER_KEYS:
            self._modifier(code, value, t)
            return None
        if value != KEY_DOWN:
            return None  # key-up and autorepeat never type a character
        self._key_down(t)
        if code in ENTER_KEYS:
            return self._finish()
        self._add(self._char(code))
        return None

    # --- state -------------------------------------------------------------------------

    def _reset_code(self) -> None:
        self._buffer: list[str] = []
        self._length = 0
        self._overflow = False
        self._dead: str | None = None  # a dead key waiting for the next key
        self._alt_digits = ""

    def _sync(self, code: int) -> None:
        """SYN_DROPPED: the kernel's buffer overflowed and the code in progress has
        holes; drop it, and forget the modifiers (their key-ups may be lost)."""
        if code == ecodes.SYN_DROPPED:
            log.warning("input events lost by the kernel: partial scan dropped")
            self._held.clear()
            self._reset_code()
            self._dropping = True
        elif code == ecodes.SYN_REPORT:
            self._dropping = False

    def _key_down(self, t: float) -> None:
        """A gap longer than the timeout ends whatever was being typed."""
        last, self._last_down = self._last_down, t
        if last is None or t - last <= self.timeout_s:
            return
        if self._length or self._dead or self._alt_digits:
            log.debug(
                "partial scan of %d characters dropped after a %.0f ms gap",
                self._length,
                (t - last) * 1000,
            )
        self._reset_code()

    def _modifier(self, code: int, value: int, t: float) -> None:
        if value == KEY_DOWN:
            self._key_down(t)
            self._held.add(code)
        elif value == KEY_UP:
            self._held.discard(code)
            if code in ALT_KEYS:
                self._end_alt_code()

    # --- characters --------------------------------------------------------------------

    def _level(self) -> Level:
        shift = bool(self._held & SHIFT_KEYS)
        altgr = bool(self._held & ALTGR_KEYS)
        return Level(int(shift) + 2 * int(altgr))

    def _char(self, code: int) -> str:
        """The text one key-down adds (usually one character, or none)."""
        if self._held & ALT_KEYS and code in KEYPAD_DIGITS:
            self._alt_digit(KEYPAD_DIGITS[code])
            return ""
        level = self._level()
        ctrl = bool(self._held & CTRL_KEYS)
        ch = self.layout.char(code, level, ctrl=ctrl)
        if ch is None:
            log.debug("key %s at level %s ignored", ecodes.KEY.get(code, code), level.name)
            return ""
        if not ctrl and self.layout.is_dead(code, level):
            return self._dead_key(ch)
        return self._compose(ch)

    def _dead_key(self, ch: str) -> str:
        # A dead key types nothing until the next key; two in a row type the first.
        before, self._dead = self._dead or "", ch
        return before

    def _compose(self, ch: str) -> str:
        dead, self._dead = self._dead, None
        if dead is None:
            return ch
        return dead if ch == " " else dead + ch  # dead key + space = the key's own symbol

    def _alt_digit(self, digit: str) -> None:
        if self._overflow:
            return  # the scan is dropped already: nothing more to collect
        if len(self._alt_digits) >= MAX_ALT_DIGITS:
            log.warning("over-long Alt code (more than %d digits): scan dropped", MAX_ALT_DIGITS)
            self._drop()
            return
        self._alt_digits += digit

    def _end_alt_code(self) -> None:
        digits, self._alt_digits = self._alt_digits, ""
        if digits and 0 < int(digits) < 128:
            self._add(chr(int(digits)))
        elif digits:
            log.debug("Alt code %s ignored", digits)

    def _add(self, text: str) -> None:
        if not text or self._overflow:
            return
        if self.gs_substitute:
            text = text.replace(self.gs_substitute, GS)
        if self._length + len(text) > self.max_length:
            log.warning("over-long scan dropped (more than %d characters)", self.max_length)
            self._drop()
            return
        self._buffer.append(text)
        self._length += len(text)

    def _drop(self) -> None:
        """Drop the scan in progress; it stays dropped until Enter or a gap ends it."""
        self._buffer.clear()
        self._length = 0
        self._alt_digits = ""
        self._overflow = True

    def _finish(self) -> str | None:
        if self._dead:
            self._add(self._compose(" "))
        code = None if self._overflow else "".join(self._buffer)
        self._reset_code()
        return code or None


class Scanner(HidInputDevice):
    """Extends ``HidInputDevice`` with the wedge decoder: emits ``Scanned(code)``,
    and ``DeviceState(Device.SCANNER, OK | MISSING | AMBIGUOUS | CONFLICT | ERROR,
    detail)`` on changes.

    The scanner is ``config.match`` when set, else ``config.path``; ``discovery``
    is shared with the keypad so the two never read one device.
    ``source_factory(path)`` opens the key source (``EvdevKeySource`` on the Pi;
    hw_sim passes its pipe). While the scanner is missing it is located and
    reopened every ``retry_s`` seconds, so a re-plugged scanner is picked up again.
    """

    device = Device.SCANNER

    def __init__(
        self,
        config: ScannerConfig,
        *,
        source_factory: SourceFactory = EvdevKeySource,
        retry_s: float = 2.0,
        discovery: InputDiscovery | None = None,
    ) -> None:
        self.config = config
        # Built now so a bad layout fails at start-up, not in the thread.
        self.decoder = WedgeDecoder(
            config.layout,
            timeout_ms=config.timeout_ms,
            max_length=config.max_length,
            gs_substitute=config.gs_substitute,
        )
        super().__init__(
            config.path,
            grab=config.grab,
            source_factory=source_factory,
            retry_s=retry_s,
            match=config.match,
            discovery=discovery,
        )

    def _reset(self) -> None:
        self.decoder.reset()

    def _decode(self, event: KeyEvent) -> Scanned | None:
        code = self.decoder.feed(*event)
        return Scanned(code) if code is not None else None
