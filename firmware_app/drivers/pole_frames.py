"""What a serial customer display shows, and the exact bytes that make it show it: pure.

Two steps, both pure (no I/O, no clock): a renderer lays the lane's customer view
(``lane.view.CustomerView``) out for the display, an encoder turns that layout
into the display's commands. ``frame_encoder(protocol, columns)`` composes them for
``drivers.pole_display``.

The 2×20 VFD (``vfd_lines``), both lines exactly ``columns`` wide::

    idle      the idle text's ASCII words, centred   |      WELCOME       |
              (WELCOME when none are ASCII)          |                    |
    selling   the last item's ASCII name             |COLA 330ML          |
              quantity × price, the amount right     |2 x 3.50        7.00|
    paying    the total, what is paid so far         |TOTAL           7.70|
                                                     |PAID            5.00|
    done      what was paid, the change              |PAID           10.00|
                                                     |CHANGE          2.30|

Training: the upper line's text starts with ``TEST`` (idle: the lower line says
it). ``TEST`` rather than the lane's word TRAINING: any customer reads it, and
``TEST TOTAL`` leaves a 20-column line room for amounts up to 9 characters.

Only printable ASCII (0x20-0x7E) reaches a display: names come as
``CustomerItem.name_ascii`` (the Latin part of the name, or the item's code when
it has none); any other text goes through ``ascii_text``, which folds compatibility
forms (full-width ``１２`` to ``12``, ``é`` to ``e``), writes ``×`` as ``x`` and
drops every other character: a display shows nothing rather than a wrong or
garbled one (never ``?``, never mojibake).

Amounts are never cut: a text makes room for its amount; an amount wider than
the whole line shows as dashes after its label (``TOTAL -------``), never as a
wrong number. A name too long is cut at the line's end; the lower line's text (a
quantity and unit price, or a label) between words, so that no number in it is
cut either (``0.532 kg x 12.80/kg`` with ``6.81`` shows ``0.532 kg`` and ``6.81``).

The 8-digit LED (``led_frame``): one lamp and one number::

    idle      all lamps off, digits cleared
    selling   PRICE: the last item's amount (TOTAL: the total, when every line is voided)
    paying    TOTAL: the total
    done      CHANGE: the change, or COLLECT: what was paid when there is no change

The number is the amount with its decimal point (the point lights the segment
beside a digit and takes no place of its own) and a leading ``-`` when negative
(it takes one). Eight places at most: a bigger amount shows ``--------``. An LED
shows no training mark: it has no letters.

Command sets. Each frame is whole on its own: the writer may drop frames (latest
wins). After a write that timed out, part of a frame may be waiting in the display;
the next frame then goes after ``RESYNC`` (CR), which ends a string command cut
short (``ESC Q A`` ... of a CD5220 or an LED) and only moves the cursor otherwise.

CD5220 (``cd5220``; Partner Tech CD5220 user's manual, "CD5220 standard mode
command list"; LCDproc's serialPOS_cd5220.c):

    0C                    CLR: clear, leave string mode (the one command the
                          display still obeys in string mode, so it comes first)
    1B 40                 ESC @: initialise
    1B 5F 00              ESC _ 0: cursor off
    1B 51 41 <upper> 0D   ESC Q A ... CR: the upper line (string mode)
    1B 51 42 <lower> 0D   ESC Q B ... CR: the lower line

ESC/POS customer display (``escpos``; Epson DM-D110 specification, 5.4 Command
details; the ESC/POS display command list in POS-X and other manuals; LCDproc's
serialPOS_epson.c):

    0C                    CLR: clear
    1B 40                 ESC @: initialise
    1F 01                 US MD1: overwrite mode (no scrolling)
    1F 43 00              US C 0: cursor off
    1F 24 01 01 <upper>   US $ 1 1: column 1, row 1, then the upper line
    1F 24 01 02 <lower>   US $ 1 2: column 1, row 2, then the lower line

8-digit LED price display (``led8``; the command set of the common Chinese
"price / total / collect / change" LED displays, as POS drivers send it, e.g.
Hisense VC110A: ``ESC s '1'`` lights the price lamp; LED8N manual for ``ESC Q A``):

    0C                    CLR: clear the digits, leave string mode
    1B 40                 ESC @: initialise
    1B 73 n               ESC s n: lamp n = '0' all off, '1' price, '2' total,
                          '3' collect, '4' change (ASCII digits; a few models,
                          e.g. Wintec CD110, want the bytes 0x00-0x04 instead)
    1B 51 41 <digits> 0D  ESC Q A ... CR: the number, 0-9 '.' '-' (left out when idle)
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable

from firmware_app.lane.money import format_money
from firmware_app.lane.view import CustomerView, Phase

PROTOCOLS = ("cd5220", "escpos", "led8")

WELCOME = "WELCOME"
TRAINING_MARK = "TEST"
TOTAL, PAID, CHANGE = "TOTAL", "PAID", "CHANGE"
OVERFLOW = "-"  # fills an amount too wide to show
LED_PLACES = 8
LED_CHARACTERS = frozenset("0123456789.-")

# Characters of the lane's own wording NFKD does not fold to ASCII ("2 × 3.50").
LOOKALIKES = str.maketrans({"×": "x", "–": "-", "—": "-", "·": "."})

CLR = b"\x0c"
CR = b"\x0d"
ESC = b"\x1b"
US = b"\x1f"
INIT = ESC + b"@"
CD5220_CURSOR_OFF = ESC + b"_\x00"
CD5220_UPPER = ESC + b"QA"
CD5220_LOWER = ESC + b"QB"
ESCPOS_OVERWRITE = US + b"\x01"
ESCPOS_CURSOR_OFF = US + b"C\x00"
ESCPOS_MOVE = US + b"$"
RESYNC = CR  # before the first frame after a write that timed out (see above)
LED_LAMP = ESC + b"s"
LED_DIGITS = ESC + b"QA"


class Lamp(enum.Enum):
    """The LED display's lamps; the value is ``n`` of ``ESC s n``."""

    OFF = "0"
    PRICE = "1"
    TOTAL = "2"
    COLLECT = "3"
    CHANGE = "4"


# --- text ----------------------------------------------------------------------------------


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII: compatibility forms folded, ``×`` as ``x``, every
    other character dropped (never replaced by ``?``), spaces collapsed, ends trimmed."""
    folded = unicodedata.normalize("NFKD", text.translate(LOOKALIKES))
    kept = "".join(c if " " <= c <= "~" else " " if c.isspace() else "" for c in folded)
    return " ".join(kept.split())


def _centre(text: str, columns: int) -> str:
    return text[:columns].center(columns)


def _cut(text: str, room: int) -> str:
    return text[: max(room, 0)]


def _cut_words(text: str, room: int) -> str:
    """``text`` cut to ``room`` at a space, a dangling ``x`` dropped: a quantity or a
    price is shown whole or not at all (``0.532 kg x 12.80/kg`` -> ``0.532 kg``)."""
    if len(text) <= room:
        return text
    words = text[: max(room, 0) + 1].split(" ")[:-1]
    while words and words[-1] in ("x", ""):
        words.pop()
    return " ".join(words)


def _fit(left: str, amount: str, columns: int, cut: Callable[[str, int], str] = _cut) -> str:
    """``left`` then ``amount`` flush right, exactly ``columns`` wide: the text makes
    room (``cut`` shortens it), the amount is never cut (dashes after the text when it
    is wider than the whole line)."""
    if not amount:
        return cut(left, columns).ljust(columns)
    if len(amount) > columns:
        left = cut(left, columns - 2)
        return (f"{left} " if left else "").ljust(columns, OVERFLOW)
    room = columns - len(amount) - 1  # one space between the text and the amount
    return cut(left, room).ljust(columns - len(amount)) + amount


# --- the 2×20 VFD --------------------------------------------------------------------------


def vfd_lines(view: CustomerView, columns: int) -> tuple[str, str]:
    """The two lines of a ``columns``-wide character display, each exactly ``columns``
    printable ASCII characters (layout in the module docstring)."""
    if columns < 1:
        raise ValueError(f"columns must be 1 or more, got {columns}")
    if view.phase is Phase.IDLE:
        words = [text for text in (ascii_text(line) for line in view.idle_text) if text]
        upper = words[0] if words else WELCOME
        lower = TRAINING_MARK if view.training else (words[1] if len(words) > 1 else "")
        return _centre(upper, columns), _centre(lower, columns)
    (upper_text, upper_amount), (lower_text, lower_amount) = _pairs(view)
    if view.training:
        upper_text = f"{TRAINING_MARK} {upper_text}"
    # The lower line's text is a quantity or a label: cut between words, never in a number.
    return (
        _fit(upper_text, upper_amount, columns),
        _fit(lower_text, lower_amount, columns, _cut_words),
    )


def _pairs(view: CustomerView) -> tuple[tuple[str, str], tuple[str, str]]:
    """(text, amount) for the upper and the lower line of a sale's phases."""

    def money(amount: int) -> str:
        return format_money(amount, view.minor_digits)

    if view.phase is Phase.SELLING:
        last = view.last
        if last is None:  # every line voided: the (zero) total
            return (TOTAL, money(view.total)), ("", "")
        return (ascii_text(last.name_ascii), ""), (ascii_text(last.qty), money(last.amount))
    if view.phase is Phase.PAYING:
        return (TOTAL, money(view.total)), (PAID, money(view.paid))
    return (PAID, money(view.paid)), (CHANGE, money(view.change))


# --- the 8-digit LED -----------------------------------------------------------------------


def led_digits(amount: int, minor_digits: int) -> str:
    """``amount`` (minor units) as the LED shows it, ``"7.70"``; ``"--------"`` when
    it needs more than eight places (a ``-`` takes one, the point none)."""
    text = format_money(amount, minor_digits)
    return text if len(text.replace(".", "")) <= LED_PLACES else OVERFLOW * LED_PLACES


def led_frame(view: CustomerView) -> tuple[Lamp, str]:
    """The lamp and the number of an 8-digit LED display (``""``: digits cleared)."""
    digits = view.minor_digits
    if view.phase is Phase.IDLE:
        return Lamp.OFF, ""
    if view.phase is Phase.SELLING:
        if view.last is None:
            return Lamp.TOTAL, led_digits(view.total, digits)
        return Lamp.PRICE, led_digits(view.last.amount, digits)
    if view.phase is Phase.PAYING:
        return Lamp.TOTAL, led_digits(view.total, digits)
    if view.change > 0:
        return Lamp.CHANGE, led_digits(view.change, digits)
    return Lamp.COLLECT, led_digits(view.paid, digits)


# --- encoders ------------------------------------------------------------------------------


def _line_bytes(line: str) -> bytes:
    """A rendered line as it goes on the wire; ``ValueError`` for anything but printable
    ASCII (a control character in a name would be taken as a command)."""
    if not all(" " <= c <= "~" for c in line):
        raise ValueError(f"not printable ASCII: {line!r}")
    return line.encode("ascii")


def cd5220_frame(lines: tuple[str, str]) -> bytes:
    """CLR, ESC @, cursor off, then each line in string mode (ESC Q A / ESC Q B ... CR)."""
    upper, lower = (_line_bytes(line) for line in lines)
    return CLR + INIT + CD5220_CURSOR_OFF + CD5220_UPPER + upper + CR + CD5220_LOWER + lower + CR


def escpos_frame(lines: tuple[str, str]) -> bytes:
    """CLR, ESC @, overwrite mode, cursor off, then each line at its row (US $ 1 row)."""
    upper, lower = (_line_bytes(line) for line in lines)
    return (
        CLR
        + INIT
        + ESCPOS_OVERWRITE
        + ESCPOS_CURSOR_OFF
        + ESCPOS_MOVE
        + b"\x01\x01"
        + upper
        + ESCPOS_MOVE
        + b"\x01\x02"
        + lower
    )


def led8_frame(lamp: Lamp, digits: str) -> bytes:
    """CLR, ESC @, the lamp (ESC s n), then the number (ESC Q A ... CR) unless cleared."""
    if not set(digits) <= LED_CHARACTERS:
        raise ValueError(f"not an LED number: {digits!r}")
    frame = CLR + INIT + LED_LAMP + lamp.value.encode("ascii")
    if digits:
        frame += LED_DIGITS + digits.encode("ascii") + CR
    return frame


Encoder = Callable[[CustomerView], bytes]


def frame_encoder(protocol: str, columns: int) -> Encoder:
    """The view-to-bytes function for ``protocol`` (``cd5220``, ``escpos``, ``led8``);
    ``ValueError`` for another."""
    if protocol == "cd5220":
        return lambda view: cd5220_frame(vfd_lines(view, columns))
    if protocol == "escpos":
        return lambda view: escpos_frame(vfd_lines(view, columns))
    if protocol == "led8":
        return lambda view: led8_frame(*led_frame(view))
    raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")


LED_TEST = "88888888"  # every segment of every digit


def test_frame(protocol: str, lines: tuple[str, str], columns: int) -> bytes:
    """A technician's test in ``protocol``'s commands: ``lines`` centred (ASCII), or on
    an LED every segment lit (``88888888``, no lamp)."""
    if protocol == "led8":
        return led8_frame(Lamp.OFF, LED_TEST)
    upper, lower = (_centre(ascii_text(line), columns) for line in lines)
    if protocol == "escpos":
        return escpos_frame((upper, lower))
    if protocol == "cd5220":
        return cd5220_frame((upper, lower))
    raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")


test_frame.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test
