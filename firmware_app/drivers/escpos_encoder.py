"""ESC/POS encoding of a receipt for a text-mode receipt printer: pure, no I/O.

The lane core has already worded and formatted the receipt (``Receipt``); this
module only lays it out for the paper width and turns it into printer bytes:

    ESC @                     initialise
    FS &                      Chinese (GB18030) mode, when ``chinese_mode``
    (or ESC t n               the code page, for a known single-byte encoding)
    banner                    bold, centred
    logo                      centred raster image (GS v 0), when there is one
    header                    centred; the first line double width and height
    items                     name; then detail left, amount right
    ----                      a rule across the width
    totals                    label left, value right; the first bold
    taxes, tenders            label left, value right
    ----
    info                      left
    code symbol + code text   centred, when the receipt has a ``code``: a QR code
                              (GS ( k) or a CODE128 barcode (GS k), as ``code`` says
    footer                    centred
    FS .                      Chinese mode off again, when ``chinese_mode``
    GS V 66 0                 feed to the cutter and cut partially

Widths are counted in print cells, the way the printer spends them: a character
sent as one byte takes one cell; in Chinese mode a character sent as two or
four GB18030 bytes is printed from the 24-dot Chinese font and takes two cells.
That covers every East Asian wide or full-width character (``W``/``F``), and
also the "ambiguous" ones the printer prints wide, such as ``×`` in
``2 × 3.50``. Too long names are cut at a character boundary, never through a
double-byte character; other long lines wrap.

Voided items: the name line starts with ``receipt.void_mark`` and a space, and
the amount is printed in parentheses (``(7.00)``): the amount stays readable for
the audit, and the parentheses say it is not part of the total.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Iterable

from escpos.constants import CODEPAGE_CHANGE, CTL_LF, FS, GS, HW_INIT, TXT_SIZE, TXT_STYLE

from firmware_app.drivers.escpos_image import RasterImage, raster_command
from firmware_app.drivers.escpos_symbols import QR_MAX_BYTES, code128, code128_fits, qr_code
from firmware_app.lane.receipt import Receipt, ReceiptLine

# python-escpos's commands, typed here (the library ships no type information).
INIT: bytes = HW_INIT  # ESC @
SELECT_CODE_PAGE: bytes = CODEPAGE_CHANGE  # ESC t, then the page number
ALIGN_LEFT: bytes = TXT_STYLE["align"]["left"]  # ESC a 0
ALIGN_CENTRE: bytes = TXT_STYLE["align"]["center"]  # ESC a 1
BOLD_ON: bytes = TXT_STYLE["bold"][True]  # ESC E 1
BOLD_OFF: bytes = TXT_STYLE["bold"][False]  # ESC E 0
LF: bytes = CTL_LF

# Commands python-escpos has no constant for (or keeps behind a private lambda).
CHINESE_ON: bytes = FS + b"&"  # FS &: two-byte GB18030 codes print as Chinese characters
CHINESE_OFF: bytes = FS + b"."  # FS .: back to single-byte code page characters
SIZE_NORMAL: bytes = TXT_SIZE + b"\x00"  # GS ! 0x00
SIZE_DOUBLE: bytes = TXT_SIZE + b"\x11"  # GS ! 0x11: double width and double height
FEED_AND_PARTIAL_CUT: bytes = GS + b"V" + bytes((66, 0))  # GS V 66 0: feed to the cutter, cut

# ESC t page numbers of single-byte encodings, from Epson's standard code table.
CODE_PAGES = {
    "cp437": 0,
    "cp850": 2,
    "cp860": 3,
    "cp863": 4,
    "cp865": 5,
    "cp1252": 16,
    "cp866": 17,
    "cp852": 18,
    "cp858": 19,
}

MIN_COLUMNS = 16
RULE = "-"
CELL_DOTS = 12  # a Font A cell is 12 dots wide: 32 columns are 384 dots, 48 are 576
CODE_KINDS = ("qr", "barcode", "none")


class ReceiptEncoder:
    """Lays out a ``Receipt`` for ``columns`` print cells and encodes it as ESC/POS.

    ``columns`` is the number of Font A characters across the paper (32 on 58 mm,
    42–48 on 80 mm). ``encoding`` is the Python codec of the printer's text
    (``gb18030`` for Chinese-market printers, or a code page such as ``cp437``);
    characters it cannot encode print as ``?``. ``chinese_mode`` sends ``FS &``
    so the printer reads two-byte codes as Chinese characters.

    ``code`` says how the receipt's code is printed above its text: ``qr``,
    ``barcode`` (CODE128) or ``none`` (the text alone); a code too long for its
    symbol is printed as text alone. ``logo`` is printed centred above the
    header. ``dots`` is the printable width in dots (default: 12 per column).
    """

    def __init__(
        self,
        columns: int,
        *,
        encoding: str = "gb18030",
        chinese_mode: bool = True,
        code: str = "qr",
        logo: RasterImage | None = None,
        dots: int | None = None,
    ) -> None:
        if columns < MIN_COLUMNS:
            raise ValueError(f"columns must be at least {MIN_COLUMNS}, got {columns}")
        if code not in CODE_KINDS:
            raise ValueError(f"code must be one of {CODE_KINDS}, got {code!r}")
        self.columns = columns
        self.encoding = codecs.lookup(encoding).name  # raises LookupError for an unknown codec
        self.chinese_mode = chinese_mode
        self.code = code
        self.dots = dots or columns * CELL_DOTS
        if logo is not None and logo.width > self.dots:
            raise ValueError(f"logo is {logo.width} dots wide, the paper {self.dots}")
        self.logo = logo
        self._widths: dict[str, int] = {}

    # --- the receipt, top to bottom ----------------------------------------------------

    def encode(self, receipt: Receipt) -> bytes:
        """The whole receipt as printer bytes, from ``ESC @`` to the cut."""
        parts = [INIT, self._text_mode()]
        if receipt.banner:
            parts += [ALIGN_CENTRE, BOLD_ON, *self._wrapped(receipt.banner), BOLD_OFF]
        if self.logo is not None:
            parts += [ALIGN_CENTRE, raster_command(self.logo)]
        parts += self._header(receipt.header)
        parts.append(ALIGN_LEFT)
        for line in receipt.lines:
            parts += self._item(line, receipt.void_mark)
        parts.append(self._rule())
        parts += self._rows(receipt.totals, bold_first=True)
        parts += self._rows(receipt.taxes)
        parts += self._rows(receipt.tenders)
        parts.append(self._rule())
        for info in receipt.info:
            parts += self._wrapped(info)
        parts += self._closing(receipt)
        if self.chinese_mode:
            parts.append(CHINESE_OFF)
        parts.append(FEED_AND_PARTIAL_CUT)
        return b"".join(parts)

    def _text_mode(self) -> bytes:
        if self.chinese_mode:
            return CHINESE_ON
        page = CODE_PAGES.get(self.encoding)
        return b"" if page is None else SELECT_CODE_PAGE + bytes((page,))

    def _header(self, header: tuple[str, ...]) -> list[bytes]:
        if not header:
            return []
        # Double width: each character takes twice its cells, so half the width fits.
        first = self.fit(clean(header[0]), self.columns // 2)
        parts = [ALIGN_CENTRE, SIZE_DOUBLE, self._line(first), SIZE_NORMAL]
        for text in header[1:]:
            parts += self._wrapped(text)
        return parts

    def _item(self, line: ReceiptLine, void_mark: str) -> list[bytes]:
        name = f"{void_mark} {line.name}" if line.voided else line.name
        amount = f"({line.amount})" if line.voided else line.amount
        return [
            self._line(self.fit(clean(name), self.columns)),
            self._line(self.row(line.detail, amount)),
            # Price override and discounts: the original price, each discount.
            *(self._line(self.row("  " + text, value)) for text, value in line.notes),
        ]

    def _rows(self, rows: Iterable[tuple[str, str]], *, bold_first: bool = False) -> list[bytes]:
        parts = []
        for index, (label, value) in enumerate(rows):
            row = self._line(self.row(label, value))
            parts += [BOLD_ON, row, BOLD_OFF] if bold_first and index == 0 else [row]
        return parts

    def _rule(self) -> bytes:
        return self._line(RULE * self.columns)

    def _closing(self, receipt: Receipt) -> list[bytes]:
        """The centred end: the receipt's code (symbol and text), then the footer."""
        if not receipt.code and not receipt.footer:
            return []
        kind = receipt.code_symbol or self.code  # a suspend slip asks for a barcode
        parts = [ALIGN_CENTRE, *(self._code(receipt.code, kind) if receipt.code else [])]
        for footer in receipt.footer:
            parts += self._wrapped(footer)
        return [*parts, ALIGN_LEFT]

    def _code(self, code: str, kind: str) -> list[bytes]:
        return [*self._symbol(code, kind), *self._wrapped(code)]

    def _symbol(self, code: str, kind: str) -> list[bytes]:
        """The code's QR code or barcode, or nothing when it does not fit one."""
        # Symbols take ASCII only: anything else is sent as "?", as text would be.
        text = clean(code).encode("ascii", errors="replace").decode("ascii")
        if kind == "qr" and len(text) <= QR_MAX_BYTES:
            return [qr_code(text.encode("ascii"))]
        if kind == "barcode" and code128_fits(text, self.dots):
            return [code128(text)]
        return []

    def _wrapped(self, text: str) -> list[bytes]:
        return [self._line(part) for part in self.wrap(clean(text), self.columns)]

    def _line(self, text: str) -> bytes:
        return text.encode(self.encoding, errors="replace") + LF

    # --- widths in print cells -----------------------------------------------------------

    def cells(self, text: str) -> int:
        """How many print cells ``text`` takes at normal size."""
        return sum(self._cell(ch) for ch in text)

    def _cell(self, ch: str) -> int:
        width = self._widths.get(ch)
        if width is None:
            width = self._measure(ch)
            self._widths[ch] = width
        return width

    def _measure(self, ch: str) -> int:
        sent = len(ch.encode(self.encoding, errors="replace"))
        if not self.chinese_mode:
            return sent  # every byte prints as one code page character
        wide = unicodedata.east_asian_width(ch) in ("W", "F")
        return 2 if wide or sent > 1 else 1

    def fit(self, text: str, width: int) -> str:
        """``text`` cut to at most ``width`` cells, at a character boundary."""
        used = 0
        for index, ch in enumerate(text):
            used += self._cell(ch)
            if used > width:
                return text[:index]
        return text

    def row(self, left: str, right: str) -> str:
        """``left`` and ``right`` on one line of exactly ``columns`` cells (when the
        text allows: a cut wide character may leave one cell short); ``left`` is cut
        to leave at least one space before ``right``."""
        right = self.fit(clean(right), self.columns)
        room = self.columns - self.cells(right) - 1
        left = self.fit(clean(left), room) if room > 0 else ""
        gap = self.columns - self.cells(left) - self.cells(right)
        return left + " " * gap + right

    def wrap(self, text: str, width: int) -> list[str]:
        """``text`` broken into lines of at most ``width`` cells, at the last space
        where there is one, else between two characters."""
        lines: list[str] = []
        line = ""
        for ch in text:
            if line and self.cells(line) + self._cell(ch) > width:
                cut = line.rfind(" ")
                head, line = (line[:cut], line[cut + 1 :]) if cut > 0 else (line, "")
                lines.append(head.rstrip())
            line += ch
        lines.append(line.rstrip())
        return lines


def clean(text: str) -> str:
    """``text`` safe to send as print data: composed (NFC), control characters
    replaced by ``?`` (an ESC or GS in a product name would be obeyed as a command),
    invisible format characters dropped."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        out.append("?" if category in ("Cc", "Cs", "Co", "Cn") else ch)
    return "".join(out)
