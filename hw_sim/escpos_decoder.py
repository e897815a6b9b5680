"""ESC/POS bytes to printed receipt text, the way a receipt printer reads them: pure, no I/O.

``EscposDecoder.feed(data)`` takes bytes as they arrive (a command split across
two reads is kept until it is whole, so any chunking gives the same result) and
returns what needs the printer's side: a ``StatusRequest`` for each real-time
``DLE EOT n``, a ``PrintedReceipt`` at each cut (``GS V``, or the older
``ESC i`` / ``ESC m``), and ``PaperOut`` when the paper runs out.

The paper: ``online`` (set by the printer's side: cover closed, paper in) and
``paper_lines`` (lines of paper left, ``None`` for a full roll). Off-line, what
arrives is lost, as on a serial printer without a receive buffer: commands are
still read to their end, so real-time ``DLE EOT`` is still answered, but they
have no effect. When a line finds no paper left, the decoder goes off-line,
returns what was printed so far as a ``PrintedReceipt`` with ``cut=False`` (the
part the cashier tears off), then ``PaperOut``.

Understood: ``ESC @`` (reset modes, drop the unprinted line), ``ESC !``,
``ESC E``, ``ESC a`` (only at the start of a line, as on Epson printers),
``ESC d``, ``ESC J``, ``ESC t`` (code page), ``GS !``, ``GS V``, ``FS &`` /
``FS .`` (Chinese mode: bytes read as GB18030, a two- or four-byte character
printed two cells wide; otherwise one byte is one character of the code page,
cp437 at power on), LF, HT. A line longer than the paper wraps, as on the
printer. Barcodes (``GS k``, with ``GS h`` / ``GS w``; CODE128's code sets
read), QR codes (``GS ( k``) and raster images (``GS v 0``) take one line each,
shown as ``[BARCODE CODE128 S001-01-1]``, ``[QR S001-01-1]``, ``[LOGO 576x120]``
in the text and kept whole in the line's ``graphic``; their payloads are
skipped by their length fields. Other commands of known length are skipped
whole; an unknown ``ESC``/``GS``/``FS`` pair is skipped as two bytes (one, when
the second is itself a control byte), so garbage can never hold the decoder for
longer than the longest payload a length field can announce (``MAX_PAYLOAD``).
Limits: DLE EOT inside another command's parameters is not seen (printers do see
it); page mode, user-defined characters and bit-image printing are not drawn.
"""

from __future__ import annotations

from collections.abc import Callable

from hw_sim.escpos_graphics import Graphic, barcode_name, barcode_text
from hw_sim.printed import Output, PaperOut, PrintedLine, PrintedReceipt, StatusRequest

__all__ = [
    "EscposDecoder",
    "Output",
    "PaperOut",
    "PrintedLine",
    "PrintedReceipt",
    "StatusRequest",
]

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10
LF, HT, NUL, EOT = 0x0A, 0x09, 0x00, 0x04

TAB_CELLS = 8  # default horizontal tab stops: every 8 characters
MAX_PAYLOAD = 1 << 20  # bytes; a bigger announced payload is taken for garbage
MAX_TABS = 32  # ESC D takes at most 32 tab positions and a NUL
ALIGNMENTS = {0: 0, 1: 1, 2: 2, 48: 0, 49: 1, 50: 2}  # ESC a n -> left, centre, right
CUT_PLAIN = frozenset((0, 1, 48, 49))  # GS V m
CUT_WITH_FEED = frozenset((65, 66, 97, 98, 103, 104))  # GS V m n
STATUS_QUERIES = frozenset((1, 2, 3, 4))  # DLE EOT n answered by every ESC/POS printer
BARCODE_HEIGHT = 162  # GS h default, dots
BARCODE_MODULE = 3  # GS w default, dots
QR_MODULE = 3  # GS ( k fn 67 default, dots

# ESC t n -> Python codec, for the pages of Epson's standard table this lane may use.
CODE_PAGES = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
}

# Parameter bytes after "ESC x" / "GS x" / "FS x" for commands of fixed length.
ESC_PARAMS = {
    **dict.fromkeys(b"@2imLS", 0),
    **dict.fromkeys(b"!EadtM-3J={VG RrUT%e?", 1),
    **dict.fromkeys(b"$\\cB", 2),
    ord("p"): 3,
    ord("W"): 8,
}
GS_PARAMS = {
    **dict.fromkeys(b":c", 0),
    **dict.fromkeys(b"!HhwfBbarIET/", 1),  # GS h and GS w are read, the others skipped
    **dict.fromkeys(b"LWP$\\", 2),
    ord("^"): 3,
}
FS_PARAMS = {
    **dict.fromkeys(b"&.", 0),
    **dict.fromkeys(b"!-CW", 1),
    **dict.fromkeys(b"Sp", 2),
    ord("2"): 74,  # c1 c2 and a 24 x 24 dot character
}


Handler = Callable[[bytes], None]
Parsed = tuple[int, Handler]  # bytes the command takes (0: not all here yet), its action
NEED_MORE: Parsed = (0, lambda cmd: None)


def _ignore(cmd: bytes) -> None:
    """Commands that change nothing the simulated paper shows."""


class EscposDecoder:
    """A printer's command interpreter for ``columns`` cells of paper.

    ``chinese_at_power_on``: whether Chinese mode is on after power on and after
    ``ESC @`` (a memory-switch setting on real printers; off here, so a host that
    forgets ``FS &`` gets mojibake, as it would on such a printer).
    """

    def __init__(self, columns: int = 48, *, chinese_at_power_on: bool = False) -> None:
        self.columns = columns
        self._chinese_at_power_on = chinese_at_power_on
        self._buffer = bytearray()
        self._raw = bytearray()
        self._lines: list[PrintedLine] = []
        self._chars: list[str] = []
        self._widths: list[int] = []
        self._cells = 0
        self._line_style = PrintedLine("")
        self._out: list[Output] = []
        self._qr_data = ""
        self._graphic: Graphic | None = None
        self.online = True
        self.paper_lines: int | None = None
        self._reset_modes()

    def _reset_modes(self) -> None:
        self.chinese = self._chinese_at_power_on
        self.code_page = 0
        self.bold = False
        self.align = 0
        self.size = (1, 1)
        self.barcode_height = BARCODE_HEIGHT
        self.barcode_module = BARCODE_MODULE
        self.qr_module = QR_MODULE

    # --- the byte stream ------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Output]:
        """Interpret ``data``; returns the status requests and receipts it completed."""
        self._buffer += data
        pos = 0
        while pos < len(self._buffer):
            length, handler = self._parse(self._buffer, pos)
            if length == 0:
                break
            cmd = bytes(self._buffer[pos : pos + length])
            pos += length
            if cmd[:2] == bytes((DLE, EOT)):
                handler(cmd)  # real-time: answered even off-line
            elif self.online:
                self._raw += cmd
                handler(cmd)
        del self._buffer[:pos]
        out, self._out = self._out, []
        return out

    @property
    def pending(self) -> bytes:
        """Bytes of a command still waiting for the rest of it."""
        return bytes(self._buffer)

    def _parse(self, buf: bytearray, pos: int) -> Parsed:
        first = buf[pos]
        if first == ESC:
            return self._parse_esc(buf, pos)
        if first == GS:
            return self._parse_gs(buf, pos)
        if first == FS:
            return self._parse_fs(buf, pos)
        if first == DLE:
            return self._parse_dle(buf, pos)
        if first == LF:
            return 1, self._line_feed
        if first == HT:
            return 1, self._tab
        if first < 0x20 or first == 0x7F:
            return 1, _ignore
        return self._parse_char(buf, pos)

    # --- ESC, GS, FS, DLE ----------------------------------------------------------------

    def _parse_esc(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 1 >= len(buf):
            return NEED_MORE
        code = buf[pos + 1]
        if code == ord("*"):  # ESC * m nL nH d1..dk: bit image
            return self._bit_image(buf, pos)
        if code == ord("D"):  # ESC D n1..nk NUL: tab positions
            return self._until_nul(buf, pos, 2, MAX_TABS + 1, _ignore)
        handlers: dict[int, Handler] = {
            ord("@"): self._initialise,
            ord("!"): self._print_mode,
            ord("E"): self._emphasis,
            ord("a"): self._justify,
            ord("d"): self._feed_lines,
            ord("J"): self._feed_dots,
            ord("t"): self._select_code_page,
            ord("i"): self._cut,
            ord("m"): self._cut,
        }
        return self._fixed(buf, pos, ESC_PARAMS, handlers.get(code, _ignore))

    def _parse_gs(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 1 >= len(buf):
            return NEED_MORE
        code = buf[pos + 1]
        special = {
            ord("V"): self._gs_cut,
            ord("v"): self._raster_image,
            ord("("): self._gs_paren,
            ord("k"): self._barcode,
            ord("8"): self._gs_8,
            ord("*"): self._downloaded_image,
        }.get(code)
        if special is not None:
            return special(buf, pos)
        handlers = {
            ord("!"): self._character_size,
            ord("h"): self._barcode_height,
            ord("w"): self._barcode_module,
        }
        return self._fixed(buf, pos, GS_PARAMS, handlers.get(code, _ignore))

    def _parse_fs(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 1 >= len(buf):
            return NEED_MORE
        code = buf[pos + 1]
        if code == ord("("):  # FS ( x pL pH ...: same length rule as GS ( x
            return self._length_prefixed(buf, pos, _ignore)
        handlers = {ord("&"): self._chinese_on, ord("."): self._chinese_off}
        return self._fixed(buf, pos, FS_PARAMS, handlers.get(code, _ignore))

    def _parse_dle(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 1 >= len(buf):
            return NEED_MORE
        code = buf[pos + 1]
        length = {EOT: 3, 0x05: 3, 0x14: 5}.get(code)  # DLE EOT n, DLE ENQ n, DLE DC4 fn m t
        if length is None:
            return 1, _ignore  # a lone DLE prints nothing
        if pos + length > len(buf):
            return NEED_MORE
        return length, self._status_request if code == EOT else _ignore

    def _fixed(self, buf: bytearray, pos: int, table: dict[int, int], handler: Handler) -> Parsed:
        code = buf[pos + 1]
        params = table.get(code)
        if params is None:
            # Unknown: skip the pair, unless the second byte starts something itself.
            return (1 if code < 0x20 else 2), _ignore
        if pos + 2 + params > len(buf):
            return NEED_MORE
        return 2 + params, handler

    # --- commands with payloads ------------------------------------------------------------

    def _payload(
        self, buf: bytearray, pos: int, header: int, size: int, handler: Handler
    ) -> Parsed:
        """A command of ``header`` bytes followed by ``size`` payload bytes."""
        if size > MAX_PAYLOAD:
            return 2, _ignore  # a garbage length: skip the command's first two bytes only
        if pos + header + size > len(buf):
            return NEED_MORE
        return header + size, handler

    def _length_prefixed(self, buf: bytearray, pos: int, handler: Handler) -> Parsed:
        """``GS ( x pL pH`` + (pL + 256 pH) bytes, and ``FS ( x`` alike."""
        if pos + 5 > len(buf):
            return NEED_MORE
        return self._payload(buf, pos, 5, buf[pos + 3] + 256 * buf[pos + 4], handler)

    def _gs_paren(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 2 >= len(buf):
            return NEED_MORE
        handler = self._two_d_code if buf[pos + 2] == ord("k") else _ignore
        return self._length_prefixed(buf, pos, handler)

    def _gs_cut(self, buf: bytearray, pos: int) -> Parsed:
        if pos + 3 > len(buf):
            return NEED_MORE
        mode = buf[pos + 2]
        if mode in CUT_PLAIN:
            return 3, self._cut
        if mode in CUT_WITH_FEED:
            return (4, self._cut) if pos + 4 <= len(buf) else NEED_MORE
        return 2, _ignore

    def _raster_image(self, buf: bytearray, pos: int) -> Parsed:
        """GS v 0 m xL xH yL yH d1..dk, k = (xL + 256 xH) * (yL + 256 yH)."""
        if pos + 8 > len(buf):
            return NEED_MORE
        if buf[pos + 2] != ord("0"):
            return 2, _ignore
        width = buf[pos + 4] + 256 * buf[pos + 5]
        height = buf[pos + 6] + 256 * buf[pos + 7]
        return self._payload(buf, pos, 8, width * height, self._image_line)

    def _downloaded_image(self, buf: bytearray, pos: int) -> Parsed:
        """GS * x y d1..dk, k = x * y * 8."""
        if pos + 4 > len(buf):
            return NEED_MORE
        return self._payload(buf, pos, 4, buf[pos + 2] * buf[pos + 3] * 8, _ignore)

    def _gs_8(self, buf: bytearray, pos: int) -> Parsed:
        """GS 8 L p1 p2 p3 p4 ...: graphics with a four-byte length."""
        if pos + 7 > len(buf):
            return NEED_MORE
        if buf[pos + 2] != ord("L"):
            return 2, _ignore
        size = int.from_bytes(buf[pos + 3 : pos + 7], "little")
        return self._payload(buf, pos, 7, size, _ignore)

    def _bit_image(self, buf: bytearray, pos: int) -> Parsed:
        """ESC * m nL nH d1..dk: k = n for 8-dot modes, 3n for 24-dot modes."""
        if pos + 5 > len(buf):
            return NEED_MORE
        per_column = {0: 1, 1: 1, 32: 3, 33: 3}.get(buf[pos + 2])
        if per_column is None:
            return 2, _ignore
        columns = buf[pos + 3] + 256 * buf[pos + 4]
        return self._payload(buf, pos, 5, columns * per_column, _ignore)

    def _barcode(self, buf: bytearray, pos: int) -> Parsed:
        """GS k m d1..dk NUL (m 0..6) or GS k m n d1..dn (m 65..79)."""
        if pos + 3 > len(buf):
            return NEED_MORE
        system = buf[pos + 2]
        if system <= 6:
            return self._until_nul(buf, pos, 3, 256, self._barcode_line(3, -1))
        if 65 <= system <= 79:
            if pos + 4 > len(buf):
                return NEED_MORE
            return self._payload(buf, pos, 4, buf[pos + 3], self._barcode_line(4, None))
        return 3, _ignore

    def _until_nul(
        self, buf: bytearray, pos: int, header: int, limit: int, handler: Handler
    ) -> Parsed:
        """A command of ``header`` bytes, then data ending with a NUL within ``limit``
        bytes; without a NUL there, garbage: its first two bytes are skipped."""
        start = pos + header
        end = buf.find(NUL, start, start + limit)
        if end < 0:
            return NEED_MORE if len(buf) < start + limit else (2, _ignore)
        return end + 1 - pos, handler

    # --- what the commands do ---------------------------------------------------------------

    def _initialise(self, cmd: bytes) -> None:
        self._chars, self._widths, self._cells = [], [], 0  # ESC @ clears the print buffer
        self._reset_modes()

    def _print_mode(self, cmd: bytes) -> None:
        mode = cmd[2]
        self.bold = bool(mode & 0x08)
        self.size = (2 if mode & 0x20 else 1, 2 if mode & 0x10 else 1)

    def _emphasis(self, cmd: bytes) -> None:
        self.bold = bool(cmd[2] & 0x01)

    def _justify(self, cmd: bytes) -> None:
        if cmd[2] in ALIGNMENTS and not self._chars:
            self.align = ALIGNMENTS[cmd[2]]

    def _character_size(self, cmd: bytes) -> None:
        width, height = (cmd[2] >> 4) + 1, (cmd[2] & 0x0F) + 1
        if width <= 8 and height <= 8:
            self.size = (width, height)

    def _barcode_height(self, cmd: bytes) -> None:
        self.barcode_height = cmd[2] or BARCODE_HEIGHT

    def _barcode_module(self, cmd: bytes) -> None:
        self.barcode_module = cmd[2] if 1 <= cmd[2] <= 6 else self.barcode_module

    def _select_code_page(self, cmd: bytes) -> None:
        self.code_page = cmd[2]

    def _chinese_on(self, cmd: bytes) -> None:
        self.chinese = True

    def _chinese_off(self, cmd: bytes) -> None:
        self.chinese = False

    def _line_feed(self, cmd: bytes) -> None:
        self._end_line()

    def _feed_lines(self, cmd: bytes) -> None:
        """ESC d n: print the line and feed n lines (n = 0: print only)."""
        if cmd[2] == 0:
            if self._chars:
                self._end_line()
            return
        for _ in range(cmd[2]):
            self._end_line()

    def _feed_dots(self, cmd: bytes) -> None:
        if self._chars:
            self._end_line()

    def _tab(self, cmd: bytes) -> None:
        spaces = TAB_CELLS - (self._cells // self.size[0]) % TAB_CELLS
        for _ in range(spaces):
            self._put(" ", 1)

    def _status_request(self, cmd: bytes) -> None:
        if cmd[2] in STATUS_QUERIES:
            self._out.append(StatusRequest(cmd[2]))

    def _cut(self, cmd: bytes) -> None:
        if self._chars:
            self._end_line()
        if not self.online:
            return  # the paper ran out on that last line: nothing is left to cut
        self._out.append(PrintedReceipt(tuple(self._lines), bytes(self._raw), self.columns))
        self._lines, self._raw = [], bytearray()

    def _run_out(self) -> None:
        """No paper for the next line: what printed is torn off, the printer is off-line."""
        self.online = False
        self._chars, self._widths, self._cells, self._graphic = [], [], 0, None
        if self._lines:
            receipt = PrintedReceipt(tuple(self._lines), bytes(self._raw), self.columns, False)
            self._out.append(receipt)
        self._lines, self._raw = [], bytearray()
        self._out.append(PaperOut())

    def _two_d_code(self, cmd: bytes) -> None:
        """GS ( k: module size (fn 67), stored QR data (fn 80), shown when printed (fn 81)."""
        cn, fn = cmd[5:7] if len(cmd) >= 7 else (0, 0)
        if cn != 49:
            return
        if fn == 67 and len(cmd) >= 8:
            self.qr_module = cmd[7]
        elif fn == 80:
            self._qr_data = cmd[8:].decode("latin-1")
        elif fn == 81:
            self._graphic_line(Graphic("qr", text=self._qr_data, module=self.qr_module))

    def _barcode_line(self, start: int, end: int | None) -> Handler:
        def show(cmd: bytes) -> None:
            system = cmd[2]
            self._graphic_line(
                Graphic(
                    "barcode",
                    text=barcode_text(system, cmd[start:end]),
                    name=barcode_name(system),
                    height=self.barcode_height,
                    module=self.barcode_module,
                )
            )

        return show

    def _image_line(self, cmd: bytes) -> None:
        """GS v 0 m xL xH yL yH: m 1 doubles the width, 2 the height, 3 both."""
        mode = cmd[3] & 0x03 if cmd[3] in (0, 1, 2, 3, 48, 49, 50, 51) else 0
        width, height = (cmd[4] + 256 * cmd[5]) * 8, cmd[6] + 256 * cmd[7]
        scale = (2 if mode & 1 else 1, 2 if mode & 2 else 1)
        self._graphic_line(Graphic("image", width=width, height=height, rows=cmd[8:], scale=scale))

    def _graphic_line(self, graphic: Graphic) -> None:
        """A picture or symbol on a line of its own, its label standing for it in the text."""
        if self._chars:
            self._end_line()
        for ch in graphic.label[: self.columns]:
            self._put(ch, 1)
        self._graphic = graphic
        self._end_line()

    # --- characters and lines -----------------------------------------------------------------

    def _parse_char(self, buf: bytearray, pos: int) -> Parsed:
        first = buf[pos]
        if first < 0x80:
            return 1, self._char_handler(chr(first), 1)
        if not self.chinese:
            codec = CODE_PAGES.get(self.code_page, "cp437")
            return 1, self._char_handler(bytes((first,)).decode(codec, errors="replace"), 1)
        return self._parse_gb18030(buf, pos)

    def _parse_gb18030(self, buf: bytearray, pos: int) -> Parsed:
        """One GB18030 character: two bytes, or four when the second is a digit."""
        bad = 1, self._char_handler("\ufffd", 1)
        if not 0x81 <= buf[pos] <= 0xFE:
            return bad
        if pos + 2 > len(buf):
            return NEED_MORE
        length = 4 if 0x30 <= buf[pos + 1] <= 0x39 else 2
        if pos + length > len(buf):
            return NEED_MORE
        try:
            ch = bytes(buf[pos : pos + length]).decode("gb18030")
        except UnicodeDecodeError:
            return bad
        return length, self._char_handler(ch, 2)

    def _char_handler(self, ch: str, cells: int) -> Handler:
        return lambda cmd: self._put(ch, cells)

    def _put(self, ch: str, cells: int) -> None:
        cells *= self.size[0]
        if self._chars and self._cells + cells > self.columns:
            self._end_line()  # the printer wraps a line that is too long
        if not self._chars:
            self._line_style = PrintedLine("", 0, self.align, self.bold, self.size)
        self._chars.append(ch)
        self._widths.append(cells)
        self._cells += cells

    def _end_line(self) -> None:
        if not self.online:
            return
        if self.paper_lines is not None:
            if self.paper_lines <= 0:
                self._run_out()
                return
            self.paper_lines -= 1
        style = self._line_style if self._chars else PrintedLine("", 0, self.align)
        text = "".join(self._chars)
        widths = tuple(self._widths)
        self._lines.append(
            PrintedLine(
                text, self._cells, style.align, style.bold, style.size, widths, self._graphic
            )
        )
        self._chars, self._widths, self._cells, self._graphic = [], [], 0, None
