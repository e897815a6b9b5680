"""The hw_sim script language (spec/lane-input.md), parsed up front.

The whole script is checked before anything runs, so a typo on line 40 stops
the run at once with ``script.txt:40: scale: expected KG, motion, over, under,
unplug or plug, got 'heavy'`` instead of after a half-finished sale.

Comments: a line whose first non-blank character is ``#`` is a comment (the
spec); beyond the spec, a ``#`` after a blank (space or tab) starts a comment
to the end of the line, so ``scan 6921094000018  # water`` scans the code only.
A ``#`` inside a word is data: ``scan AB#12`` scans ``AB#12``.

Beside the spec's commands, hw_sim understands more faults to inject (README,
"hw_sim script extensions"): ``terminal approve|decline`` (what the payment
terminal answers next), ``scale pull|replug`` (the scale's USB adapter),
``printer paper out-after N`` (the roll ends N lines into the next receipt),
``printer cutter jam|ok``, ``scanner unplug|plug``, ``keypad unplug|plug``,
``drawer stick`` (the next kick fails, the retry opens it), ``drawer jam`` (the
kick and its retry fail: the lane reports it jammed), ``drawer unjam`` and
``drawer key`` (opened by hand with its key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from firmware_app.config import KEY_NAMES

MAX_SLEEP_S = 3600
COMMENT = re.compile(r"(^|[ \t])#.*$")  # a '#' at the start or after a blank, to the end
LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_KG = Decimal("99.999")
CLOCK_MARGIN = timedelta(days=366)  # a clock set by a script must run this long either way


class ScriptError(ValueError):
    """A bad script line; the message starts with ``FILE:LINE:``."""


@dataclass(frozen=True)
class Command:
    """One script line: ``verb`` and its parsed arguments, with where it came from."""

    line: int
    verb: str
    args: tuple[str, ...]
    text: str


SCALE_WORDS = ("motion", "over", "under", "unplug", "plug", "pull", "replug")
DRAWER_WORDS = ("close", "jam", "stick", "unjam", "key")
HID_WORDS = ("unplug", "plug")
MAX_PAPER_LINES = 10000
PRINTER_FORMS = {
    ("cutter", "jam"),
    ("cutter", "ok"),
    ("paper", "ok"),
    ("paper", "near-end"),
    ("paper", "out"),
    ("cover", "open"),
    ("cover", "closed"),
    ("unplug",),
    ("plug",),
}


def parse_script(text: str, *, source: str = "script", first_line: int = 1) -> list[Command]:
    commands = []
    # Lines as an editor numbers them: str.splitlines() would also break at a form feed,
    # NEL or U+2028, and every error after one would name the wrong line.
    for number, raw in enumerate(LINE_BREAK.split(text), first_line):
        line = COMMENT.sub("", raw.strip(), count=1).strip()
        if not line:
            continue
        verb, _, rest = line.partition(" ")
        try:
            args = _check(verb, rest.strip())
        except ValueError as e:
            raise ScriptError(f"{source}:{number}: {verb}: {e}") from e
        commands.append(Command(number, verb, args, line))
    return commands


def load_script(path: str | Path) -> list[Command]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScriptError(f"{path}: cannot read: {e}") from e
    return parse_script(text, source=str(path))


def _check(verb: str, rest: str) -> tuple[str, ...]:
    checker = CHECKERS.get(verb)
    if checker is None:
        raise ValueError(f"unknown command (expected one of {', '.join(sorted(CHECKERS))})")
    return checker(rest)


def _scan(rest: str) -> tuple[str, ...]:
    if not rest:
        raise ValueError("expected the code to scan")
    if not rest.isascii() or not rest.isprintable():
        raise ValueError("a scanner types printable ASCII only")
    return (rest,)


def _key(rest: str) -> tuple[str, ...]:
    names = tuple(rest.split())
    if not names:
        raise ValueError("expected one or more key names")
    unknown = [n for n in names if n not in KEY_NAMES]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (keys: {' '.join(sorted(KEY_NAMES))})")
    return names


def _type(rest: str) -> tuple[str, ...]:
    if not rest or any(c not in "0123456789." for c in rest):
        raise ValueError(f"expected digits and '.', got {rest!r}")
    return (rest,)


def _scale(rest: str) -> tuple[str, ...]:
    if rest in SCALE_WORDS:
        return (rest,)
    try:
        kg = Decimal(rest)
    except InvalidOperation:
        kg = None
    if kg is None or not kg.is_finite() or not 0 <= kg <= MAX_KG or kg.as_tuple().exponent < -3:
        raise ValueError(
            f"expected KG (0 to {MAX_KG}, 3 decimals), {', '.join(SCALE_WORDS)}, got {rest!r}"
        )
    return (str(kg),)


def _printer(rest: str) -> tuple[str, ...]:
    words = tuple(rest.split())
    if len(words) == 3 and words[:2] == ("paper", "out-after"):
        if words[2].isascii() and words[2].isdigit() and int(words[2]) <= MAX_PAPER_LINES:
            return words
    elif words in PRINTER_FORMS:
        return words
    raise ValueError(
        "expected paper ok|near-end|out|out-after N, cover open|closed, "
        f"cutter jam|ok, unplug or plug, got {rest!r}"
    )


def _drawer(rest: str) -> tuple[str, ...]:
    if rest not in DRAWER_WORDS:
        raise ValueError(f"expected {', '.join(DRAWER_WORDS)}, got {rest!r}")
    return (rest,)


def _hid(rest: str) -> tuple[str, ...]:
    if rest not in HID_WORDS:
        raise ValueError(f"expected unplug or plug, got {rest!r}")
    return (rest,)


def _sleep(rest: str) -> tuple[str, ...]:
    try:
        seconds = float(rest)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SLEEP_S:
        raise ValueError(f"expected seconds from 0 to {MAX_SLEEP_S}, got {rest!r}")
    return (rest,)


def _wait(rest: str) -> tuple[str, ...]:
    if rest != "idle":
        raise ValueError(f"expected 'wait idle', got {rest!r}")
    return (rest,)


def _clock(rest: str) -> tuple[str, ...]:
    try:
        when = datetime.fromisoformat(rest)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(
            f"expected an ISO 8601 time with its offset (2026-12-24T22:30:00+08:00), got {rest!r}"
        )
    try:  # the clock runs on from TIME, and the lane's times go to UTC: both must exist
        (when - CLOCK_MARGIN).astimezone(UTC)
        (when + CLOCK_MARGIN).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{rest!r} is too near the end of the calendar") from None
    return (rest,)


def _terminal(rest: str) -> tuple[str, ...]:
    if rest not in ("approve", "decline"):
        raise ValueError(f"expected approve or decline, got {rest!r}")
    return (rest,)


CHECKERS = {
    "scan": _scan,
    "key": _key,
    "type": _type,
    "scale": _scale,
    "printer": _printer,
    "drawer": _drawer,
    "scanner": _hid,
    "keypad": _hid,
    "sleep": _sleep,
    "wait": _wait,
    "terminal": _terminal,
    "clock": _clock,
}
