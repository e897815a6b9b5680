"""Keyboard layouts for keyboard-wedge scanners: which character a key gives.

A wedge scanner types its data as a keyboard of the layout it was set up for,
and evdev reports key *positions* (``KEY_Q`` is the key left of ``KEY_W``
whatever is printed on it). These static tables turn positions back into
characters without an X server, and characters into keystrokes for the
simulator. Tables follow the Linux console / XKB layouts ``us``, ``de``
(QWERTZ) and ``fr`` (AZERTY); ``de`` and ``fr`` reach some ASCII symbols only
with AltGr (``KEY_RIGHTALT``) or through dead keys.

Control characters come from Ctrl with a key, as on a terminal: Ctrl+]
(``KEY_RIGHTBRACE``, in every layout, since that is the key scanners send) is
GS (0x1D, FNC1), Ctrl+D is EOT, Ctrl+Shift+6 (``^`` on US) is RS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from evdev import ecodes

GS = "\x1d"


class Level(IntEnum):
    """Shift level of a keystroke."""

    PLAIN = 0
    SHIFT = 1
    ALTGR = 2
    SHIFT_ALTGR = 3


@dataclass(frozen=True)
class Keystroke:
    """How to type one character: a key code at a level, with Ctrl, maybe a dead key
    (a dead key types its character only when followed by a space)."""

    code: int
    level: Level = Level.PLAIN
    ctrl: bool = False
    dead: bool = False


# Per key: the characters at PLAIN, SHIFT, ALTGR ("" where the key gives none).
_Row = tuple[str, ...]

_US_KEYS: dict[str, _Row] = {
    "KEY_GRAVE": ("`", "~"),
    "KEY_1": ("1", "!"),
    "KEY_2": ("2", "@"),
    "KEY_3": ("3", "#"),
    "KEY_4": ("4", "$"),
    "KEY_5": ("5", "%"),
    "KEY_6": ("6", "^"),
    "KEY_7": ("7", "&"),
    "KEY_8": ("8", "*"),
    "KEY_9": ("9", "("),
    "KEY_0": ("0", ")"),
    "KEY_MINUS": ("-", "_"),
    "KEY_EQUAL": ("=", "+"),
    "KEY_LEFTBRACE": ("[", "{"),
    "KEY_RIGHTBRACE": ("]", "}"),
    "KEY_BACKSLASH": ("\\", "|"),
    "KEY_SEMICOLON": (";", ":"),
    "KEY_APOSTROPHE": ("'", '"'),
    "KEY_COMMA": (",", "<"),
    "KEY_DOT": (".", ">"),
    "KEY_SLASH": ("/", "?"),
}

_DE_KEYS: dict[str, _Row] = {
    "KEY_GRAVE": ("^", "°"),  # ^ is a dead key
    "KEY_1": ("1", "!"),
    "KEY_2": ("2", '"', "²"),
    "KEY_3": ("3", "§", "³"),
    "KEY_4": ("4", "$"),
    "KEY_5": ("5", "%"),
    "KEY_6": ("6", "&"),
    "KEY_7": ("7", "/", "{"),
    "KEY_8": ("8", "(", "["),
    "KEY_9": ("9", ")", "]"),
    "KEY_0": ("0", "=", "}"),
    "KEY_MINUS": ("ß", "?", "\\"),
    "KEY_EQUAL": ("´", "`"),  # both dead
    "KEY_Q": ("q", "Q", "@"),
    "KEY_E": ("e", "E", "€"),
    "KEY_LEFTBRACE": ("ü", "Ü"),
    "KEY_RIGHTBRACE": ("+", "*", "~"),
    "KEY_SEMICOLON": ("ö", "Ö"),
    "KEY_APOSTROPHE": ("ä", "Ä"),
    "KEY_BACKSLASH": ("#", "'"),
    "KEY_102ND": ("<", ">", "|"),
    "KEY_COMMA": (",", ";"),
    "KEY_DOT": (".", ":"),
    "KEY_SLASH": ("-", "_"),
    "KEY_Y": ("z", "Z"),  # QWERTZ: Y and Z change places
    "KEY_Z": ("y", "Y"),
    "KEY_KPDOT": (",", ","),  # the German keypad has a decimal comma
}
_DE_DEAD = {("KEY_GRAVE", Level.PLAIN), ("KEY_EQUAL", Level.PLAIN), ("KEY_EQUAL", Level.SHIFT)}

_FR_KEYS: dict[str, _Row] = {
    "KEY_GRAVE": ("²", "~"),
    "KEY_1": ("&", "1"),  # AZERTY: the digits need Shift
    "KEY_2": ("é", "2", "~"),
    "KEY_3": ('"', "3", "#"),
    "KEY_4": ("'", "4", "{"),
    "KEY_5": ("(", "5", "["),
    "KEY_6": ("-", "6", "|"),
    "KEY_7": ("è", "7", "`"),
    "KEY_8": ("_", "8", "\\"),
    "KEY_9": ("ç", "9", "^"),
    "KEY_0": ("à", "0", "@"),
    "KEY_MINUS": (")", "°", "]"),
    "KEY_EQUAL": ("=", "+", "}"),
    "KEY_Q": ("a", "A"),
    "KEY_W": ("z", "Z"),
    "KEY_E": ("e", "E", "€"),
    "KEY_LEFTBRACE": ("^", "¨"),  # both dead
    "KEY_RIGHTBRACE": ("$", "£", "¤"),
    "KEY_A": ("q", "Q", "@"),
    "KEY_SEMICOLON": ("m", "M"),
    "KEY_APOSTROPHE": ("ù", "%"),
    "KEY_BACKSLASH": ("*", "µ", "`"),  # AltGr ` is dead
    "KEY_102ND": ("<", ">", "|"),
    "KEY_Z": ("w", "W"),
    "KEY_M": (",", "?"),
    "KEY_COMMA": (";", "."),
    "KEY_DOT": (":", "/"),
    "KEY_SLASH": ("!", "§"),
}
_FR_DEAD = {
    ("KEY_LEFTBRACE", Level.PLAIN),
    ("KEY_LEFTBRACE", Level.SHIFT),
    ("KEY_BACKSLASH", Level.ALTGR),
}

# Keys every layout shares: letters (unless a layout moves them), space, the
# keypad with Num Lock on (some scanners type digits there).
_COMMON_KEYS: dict[str, _Row] = {
    **{f"KEY_{c}": (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    "KEY_SPACE": (" ", " "),
    **{f"KEY_KP{d}": (str(d), str(d)) for d in range(10)},
    "KEY_KPDOT": (".", "."),
    "KEY_KPSLASH": ("/", "/"),
    "KEY_KPASTERISK": ("*", "*"),
    "KEY_KPMINUS": ("-", "-"),
    "KEY_KPPLUS": ("+", "+"),
}
# Ctrl with a key gives the control character of the key's character (``D`` -> EOT).
_CONTROL_BASE = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"


@dataclass(frozen=True)
class Layout:
    """One keyboard layout: ``chars`` maps (key code, level) to a character, ``dead``
    holds the dead keys, ``strokes`` maps a character back to its keystroke."""

    name: str
    chars: Mapping[tuple[int, Level], str]
    dead: frozenset[tuple[int, Level]]
    strokes: Mapping[str, Keystroke]

    def char(self, code: int, level: Level, *, ctrl: bool = False) -> str | None:
        """The character typed by ``code`` at ``level`` (with Ctrl held if ``ctrl``)."""
        if ctrl:
            return self._control(code, level)
        return self.chars.get((code, level))

    def is_dead(self, code: int, level: Level) -> bool:
        return (code, level) in self.dead

    def stroke(self, ch: str) -> Keystroke:
        """How to type ``ch``; ``ValueError`` when this layout cannot."""
        try:
            return self.strokes[ch]
        except KeyError:
            raise ValueError(f"layout {self.name} cannot type {ch!r}") from None

    def _control(self, code: int, level: Level) -> str | None:
        if code == ecodes.KEY_RIGHTBRACE:
            return GS  # scanners send FNC1 as the US key for ], whatever the layout
        base = self.chars.get((code, level), "").upper()
        if base and base in _CONTROL_BASE and (code, level) not in self.dead:
            return chr(ord(base) & 0x1F) if base != "@" else None  # NUL is never data
        return None


def _build(name: str, keys: Mapping[str, _Row], dead_names: set[tuple[str, Level]]) -> Layout:
    rows = {**_COMMON_KEYS, **keys}
    chars = {
        (ecodes.ecodes[key], Level(level)): ch
        for key, row in rows.items()
        for level, ch in enumerate(row)
        if ch
    }
    dead = frozenset((ecodes.ecodes[key], level) for key, level in dead_names)
    layout = Layout(name, chars, dead, {})
    return Layout(name, chars, dead, _reverse(layout))


def _reverse(layout: Layout) -> dict[str, Keystroke]:
    """Character -> keystroke, preferring live keys, then the main block over the
    keypad (a French scanner types ``1`` as Shift+``&``), then lower levels."""
    keypad = {ecodes.ecodes[k] for k in _COMMON_KEYS if k.startswith("KEY_KP")}
    ranked = sorted(
        layout.chars.items(),
        key=lambda item: (item[0] in layout.dead, item[0][0] in keypad, item[0][1]),
    )
    strokes: dict[str, Keystroke] = {}
    for (code, level), ch in ranked:
        strokes.setdefault(ch, Keystroke(code, level, dead=(code, level) in layout.dead))
    _add_controls(layout, strokes)
    return strokes


def _add_controls(layout: Layout, strokes: dict[str, Keystroke]) -> None:
    strokes[GS] = Keystroke(ecodes.KEY_RIGHTBRACE, Level.PLAIN, ctrl=True)
    for base in _CONTROL_BASE[1:]:
        ch = chr(ord(base) & 0x1F)
        live = strokes.get(base.lower()) or strokes.get(base)
        if ch in strokes or live is None or live.dead or live.level >= Level.ALTGR:
            continue
        if layout.char(live.code, live.level, ctrl=True) == ch:
            strokes[ch] = Keystroke(live.code, live.level, ctrl=True)


def layout(name: str) -> Layout:
    """The layout called ``name`` (``us``, ``de`` or ``fr``)."""
    builders = {
        "us": lambda: _build("us", _US_KEYS, set()),
        "de": lambda: _build("de", _DE_KEYS, _DE_DEAD),
        "fr": lambda: _build("fr", _FR_KEYS, _FR_DEAD),
    }
    try:
        return builders[name]()
    except KeyError:
        raise ValueError(f"unknown keyboard layout {name!r} (expected us, de or fr)") from None


LAYOUT_NAMES = ("us", "de", "fr")
