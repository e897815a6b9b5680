"""What a customer display makes of the bytes it is sent: CD5220, ESC/POS and 8-digit LED.

Each decoder takes bytes in any chunks (``feed``) and keeps what the display shows
(``shown``): the rows of a character display, or the lit lamp and the number of an
LED one. A command it does not know, or one the display would ignore, goes to
``unknown`` (the bytes as sent), so a test sees a driver's mistake instead of a
display quietly showing something else. Written from the displays' manuals, not
from the lane's driver (``firmware_app.drivers.pole_frames`` cites the same
tables), so the two check each other.

CD5220: ``ESC Q A``/``ESC Q B`` ... CR write the upper/lower line in string mode;
in string mode only ``CLR`` and ``CAN`` (which leave it) and further ``ESC Q``
lines are obeyed, as the manual says, everything else lands in ``unknown``.
ESC/POS: text is written at the cursor in overwrite mode (``US $ x y`` moves it,
1-based). LED: ``ESC s n`` lights lamp ``n`` (``'0'``-``'4'``, or the bytes 0-4),
``ESC Q A`` ... CR sets the number (0-9, ``.``, ``-``; at most 8 places).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

ESC, US, CR, LF, CLR, CAN, BS, HT, HOM = 0x1B, 0x1F, 0x0D, 0x0A, 0x0C, 0x18, 0x08, 0x09, 0x0B
MAX_STRING = 64  # a string command longer than this without its CR is noise
LAMPS = {"0": "off", "1": "price", "2": "total", "3": "collect", "4": "change"}
LED_PLACES = 8
LED_CHARACTERS = frozenset("0123456789.-")

# How many parameter bytes follow each command byte (after ESC, or US).
CD5220_ARGS: Mapping[int, int] = {
    **dict.fromkeys(b"_*=fc%?[", 1),  # cursor, brightness, device, fonts, ESC [ x moves
    ord("l"): 2,  # ESC l x y
    ord("W"): 4,  # ESC W s x1 x2 y
    **dict.fromkeys((0x11, 0x12, 0x13), 0),  # overwrite, vertical, horizontal scroll mode
}
ESCPOS_ESC_ARGS: Mapping[int, int] = {ord("@"): 0, **dict.fromkeys(b"tR=%?", 1)}
ESCPOS_US_ARGS: Mapping[int, int] = {
    **dict.fromkeys((0x01, 0x02, 0x03), 0),  # US MD1, MD2, MD3
    **dict.fromkeys((LF, CR, ord("B"), ord("@")), 0),  # cursor up, right end, bottom; self test
    **dict.fromkeys(b"CXEr.,;", 1),  # cursor, brightness, blink, reverse, period, comma
    ord("$"): 2,  # US $ x y
    ord("#"): 2,  # US # n m annunciator
}


class Decoder(Protocol):
    unknown: list[bytes]
    non_ascii: int

    def feed(self, data: bytes) -> None: ...

    @property
    def shown(self) -> tuple[str, ...]: ...

    @property
    def busy(self) -> bool:
        """True while a command is only partly received."""
        ...


class _Stream:
    """The byte buffer and the loop over its commands; ``_step`` handles one command at
    the start of the buffer and says how many bytes it took (0: it is not all here)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.unknown: list[bytes] = []
        self.non_ascii = 0  # bytes >= 0x80 received as text

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            taken = self._step(self._buffer)
            if taken == 0:
                return
            del self._buffer[:taken]

    @property
    def busy(self) -> bool:
        return bool(self._buffer)

    def _step(self, buf: bytearray) -> int:
        raise NotImplementedError

    def _ignore(self, buf: bytearray, n: int) -> int:
        self.unknown.append(bytes(buf[:n]))
        return n

    def _string(self, buf: bytearray, start: int) -> tuple[int, str | None]:
        """The text from ``start`` up to CR: (bytes taken, text); (0, None) while the CR
        has not come; noise past ``MAX_STRING`` is taken as unknown. A CR further on
        does not make it a string: what a display shows must not depend on whether
        the CR came in the same read."""
        end = buf.find(CR, start, start + MAX_STRING + 1)
        if end < 0:
            if len(buf) - start <= MAX_STRING:
                return 0, None
            return self._ignore(buf, start), None
        raw = bytes(buf[start:end])
        self.non_ascii += sum(1 for b in raw if b >= 0x80)
        return end + 1, raw.decode("latin-1")


class _Screen:
    """Rows of characters and a cursor, written in overwrite mode."""

    def __init__(self, rows: int, columns: int) -> None:
        self.rows, self.columns = rows, columns
        self.cells = [[" "] * columns for _ in range(rows)]
        self.row = self.col = 0

    def clear(self) -> None:
        self.cells = [[" "] * self.columns for _ in range(self.rows)]
        self.row = self.col = 0

    def clear_row(self) -> None:
        self.cells[self.row] = [" "] * self.columns
        self.col = 0

    def put(self, ch: str) -> None:
        self.cells[self.row][self.col] = ch
        self.col += 1
        if self.col == self.columns:  # overwrite mode: on to the next row, the last to the first
            self.col = 0
            self.row = (self.row + 1) % self.rows

    def set_row(self, row: int, text: str) -> None:
        self.cells[row] = list(text[: self.columns].ljust(self.columns))

    def move(self, row: int, col: int) -> None:
        self.row = min(max(row, 0), self.rows - 1)
        self.col = min(max(col, 0), self.columns - 1)

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple("".join(row) for row in self.cells)


class _Text(_Stream):
    """A character display's shared part: the screen and the plain bytes that move its
    cursor or write a character."""

    def __init__(self, columns: int, rows: int = 2) -> None:
        super().__init__()
        self.screen = _Screen(rows, columns)
        self.cursor_on = True

    @property
    def shown(self) -> tuple[str, ...]:
        return self.screen.lines

    def _plain(self, buf: bytearray) -> int:
        b, s = buf[0], self.screen
        if b == CLR:
            s.clear()
        elif b == CAN:
            s.clear_row()
        elif b == BS:
            s.move(s.row, s.col - 1)
        elif b == HT:
            s.move(s.row, s.col + 1)
        elif b == LF:
            s.move(s.row + 1, s.col)
        elif b == CR:
            s.move(s.row, 0)
        elif b == HOM:
            s.move(0, 0)
        elif 0x20 <= b < 0x7F:
            s.put(chr(b))
        elif b >= 0x80:
            self.non_ascii += 1
            s.put("?")  # a glyph of the display's code page: never what the lane meant
        else:
            return self._ignore(buf, 1)
        return 1


class Cd5220Decoder(_Text):
    """A CD5220 2×20 VFD (PTC standard mode)."""

    def __init__(self, columns: int = 20) -> None:
        super().__init__(columns)
        self.string_mode = False

    def _step(self, buf: bytearray) -> int:
        b = buf[0]
        if b in (CLR, CAN):
            self.string_mode = False
            return self._plain(buf)
        if b != ESC:
            return self._ignore(buf, 1) if self.string_mode else self._plain(buf)
        if len(buf) < 2:
            return 0
        command = buf[1]
        if command == ord("Q"):
            return self._line(buf)
        if command == ord("@"):
            if self.string_mode:
                return self._ignore(buf, 2)
            self.screen.clear()
            self.cursor_on = True
            return 2
        n = CD5220_ARGS.get(command)
        if n is None:
            return self._ignore(buf, 2)
        if len(buf) < 2 + n:
            return 0
        if self.string_mode:
            return self._ignore(buf, 2 + n)
        if command == ord("_"):
            self.cursor_on = buf[2] in (1, ord("1"))
        elif command == ord("l"):
            self.screen.move(buf[3] - 1, buf[2] - 1)
        return 2 + n

    def _line(self, buf: bytearray) -> int:
        if len(buf) < 3:
            return 0
        which = buf[2]
        if which not in b"ABD":
            return self._ignore(buf, 3)
        taken, text = self._string(buf, 3)
        if text is not None:
            if len(text) > self.screen.columns:
                self.unknown.append(bytes(buf[:taken]))  # more than the line holds
            self.screen.set_row(1 if which == ord("B") else 0, text)
            self.string_mode = which != ord("D")
        return taken


class EscposDecoder(_Text):
    """An Epson DM-D style 2×20 display (ESC/POS display commands)."""

    def __init__(self, columns: int = 20) -> None:
        super().__init__(columns)
        self.mode = 1  # US MD1 overwrite, 2 vertical scroll, 3 horizontal scroll

    def _step(self, buf: bytearray) -> int:
        b = buf[0]
        if b not in (ESC, US):
            return self._plain(buf)
        if len(buf) < 2:
            return 0
        n = (ESCPOS_ESC_ARGS if b == ESC else ESCPOS_US_ARGS).get(buf[1])
        if n is None:
            return self._ignore(buf, 2)
        if len(buf) < 2 + n:
            return 0
        self._obey(b, buf[1], bytes(buf[2 : 2 + n]))
        return 2 + n

    def _obey(self, prefix: int, command: int, args: bytes) -> None:
        s = self.screen
        if prefix == ESC:
            if command == ord("@"):
                s.clear()
                self.cursor_on, self.mode = True, 1
            return
        if command in (0x01, 0x02, 0x03):
            self.mode = command
        elif command == ord("$"):
            x, y = args
            if not (1 <= x <= s.columns and 1 <= y <= s.rows):
                self.unknown.append(bytes([prefix, command, *args]))
                return
            s.move(y - 1, x - 1)
        elif command == ord("C"):
            self.cursor_on = args[0] in (1, ord("1"))
        elif command == LF:
            s.move(s.row - 1, s.col)
        elif command == CR:
            s.move(s.row, s.columns - 1)
        elif command == ord("B"):
            s.move(s.rows - 1, s.col)


class Led8Decoder(_Stream):
    """An 8-digit LED price display with price, total, collect and change lamps."""

    def __init__(self) -> None:
        super().__init__()
        self.lamp = "off"
        self.digits = ""

    @property
    def shown(self) -> tuple[str, ...]:
        return (self.lamp, self.digits)

    def _step(self, buf: bytearray) -> int:
        b = buf[0]
        if b in (CLR, CAN):
            self.digits = ""
            return 1
        if b == CR:
            return 1
        if b != ESC:
            return self._ignore(buf, 1)
        if len(buf) < 2:
            return 0
        if buf[1] == ord("@"):
            self.lamp, self.digits = "off", ""
            return 2
        if buf[1] == ord("s"):
            if len(buf) < 3:
                return 0
            n = buf[2]
            key = chr(n + 0x30) if n < 5 else chr(n)
            if key not in LAMPS:
                return self._ignore(buf, 3)
            self.lamp = LAMPS[key]
            return 3
        if buf[1] == ord("Q"):
            if len(buf) < 3:
                return 0
            if buf[2] != ord("A"):
                return self._ignore(buf, 3)
            taken, text = self._string(buf, 3)
            if text is not None:
                self._number(bytes(buf[:taken]), text)
            return taken
        return self._ignore(buf, 2)

    def _number(self, command: bytes, text: str) -> None:
        places = len(text.replace(".", ""))
        if not set(text) <= LED_CHARACTERS or places > LED_PLACES:
            self.unknown.append(command)  # a real display shows garbage or nothing
        self.digits = text


def decoder_for(protocol: str, columns: int = 20) -> Decoder:
    if protocol == "cd5220":
        return Cd5220Decoder(columns)
    if protocol == "escpos":
        return EscposDecoder(columns)
    if protocol == "led8":
        return Led8Decoder()
    raise ValueError(f"protocol {protocol!r}: expected cd5220, escpos or led8")
