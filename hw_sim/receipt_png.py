"""A picture of a printed receipt, one pixel per printer dot (203 dpi): text in
Font A cells of 12 x 24 dots, raster images dot for dot, QR codes and barcodes
drawn from what they encode.

A character printed two cells wide is drawn from a CJK font when the machine
has one (``fc-list :lang=zh``, or a few well-known paths). Without one, a
Chinese (East Asian wide) character is drawn as a box two cells wide, so the
layout still shows; one the monospace font has (``×``) is drawn from it. The receipt's
text rides along in the PNG as an ``iTXt`` chunk named ``Receipt``, so a
picture with boxes still says what was printed. Needs Pillow; without it no
picture is drawn.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

from hw_sim.escpos_graphics import Graphic
from hw_sim.printed import PrintedLine, PrintedReceipt

logger = logging.getLogger(__name__)

CELL_W, LINE_H, MARGIN = 12, 24, 12  # pixels (= dots): the Font A cell of a 203 dpi printer
FONT_PX = 20
MONO_FONTS = ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")
CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
FC_LIST_S = 5.0  # fc-list answers in well under a second
QR_FALLBACK_MODULES = 25  # a version-2 QR code: the box drawn when qrcode is missing
BARCODE_CLASSES = {"CODE128": "code128", "EAN13": "ean13", "EAN8": "ean8", "UPC-A": "upca"}
BARCODE_CLASSES |= {"CODE39": "code39", "ITF": "itf"}


def render_png(receipt: PrintedReceipt, path: Path) -> None:
    """Draw ``receipt`` on white paper and save it at ``path``; logs what fails."""
    try:
        from PIL import Image, ImageDraw
        from PIL.PngImagePlugin import PngInfo
    except ImportError:
        return
    heights = [line_height(line) for line in receipt.lines]
    width = receipt.columns * CELL_W
    image = Image.new("L", (width + 2 * MARGIN, sum(heights) + 2 * MARGIN), 255)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for line, height in zip(receipt.lines, heights, strict=True):
        if line.graphic is not None:
            _draw_graphic(image, line, width, y)
        else:
            _draw_text(draw, line, receipt.columns, y)
        y += height
    info = PngInfo()
    info.add_itxt("Receipt", receipt.text)
    try:
        image.save(path, pnginfo=info)
    except OSError as e:
        logger.warning("receipt picture %s not written: %s", path, e)


def line_height(line: PrintedLine) -> int:
    """The line's height in dots: a text line is 24 dots times its height size."""
    if line.graphic is None:
        return LINE_H * line.size[1]
    return max(LINE_H, graphic_size(line.graphic)[1])


# --- text ------------------------------------------------------------------------------------


def _draw_text(draw: Any, line: PrintedLine, columns: int, y: int) -> None:
    room = max(0, columns - line.cells)
    x = MARGIN + (0, room // 2, room)[line.align] * CELL_W
    font = _font(MONO_FONTS[line.bold], FONT_PX * line.size[1])
    cjk = _cjk_font(FONT_PX * line.size[1] + 2 * line.size[1])
    for ch, cells in zip(line.text, line.widths, strict=True):
        wide = cells > line.size[0]  # a two-cell character at this width size
        if not wide:
            draw.text((x, y), ch, fill=0, font=font)
        elif cjk is not None:
            draw.text((x, y), ch, fill=0, font=cjk)
        elif unicodedata.east_asian_width(ch) not in ("W", "F"):
            # Printed wide from the Chinese font (like "×"), but the monospace font has it.
            draw.text((x + CELL_W * cells // 4, y), ch, fill=0, font=font)
        else:
            # No CJK font here: a box two cells wide keeps the layout readable.
            height = LINE_H * line.size[1]
            draw.rectangle((x + 2, y + 3, x + CELL_W * cells - 3, y + height - 4), outline=0)
        x += CELL_W * cells


@functools.cache
def _font(name: str, size: int) -> Any:
    """PIL's font ``name`` at ``size`` px, or its built-in font when ``name`` is absent."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default()


@functools.cache
def _cjk_font(size: int) -> Any:
    path = cjk_font_path()
    if path is None:
        return None
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return None


@functools.cache
def cjk_font_path() -> str | None:
    """A font file that has Chinese glyphs, or ``None`` when the machine has none."""
    for path in _fc_list_zh():
        if Path(path).is_file():
            return path
    return next((p for p in CJK_FONT_PATHS if Path(p).is_file()), None)


def _fc_list_zh() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        result = subprocess.run(
            [fc_list, ":lang=zh", "file"],
            capture_output=True,
            text=True,
            timeout=FC_LIST_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in result.stdout.splitlines() if line.strip())


# --- pictures and symbols -----------------------------------------------------------------------


def graphic_size(graphic: Graphic) -> tuple[int, int]:
    """Width and height in dots the graphic takes on paper."""
    if graphic.kind == "image":
        return graphic.width * graphic.scale[0], graphic.height * graphic.scale[1]
    modules = _modules(graphic)
    if graphic.kind == "qr":
        side = len(modules) * max(1, graphic.module)
        return side, side
    return len(modules[0]) * max(1, graphic.module), graphic.height


def _draw_graphic(image: Any, line: PrintedLine, paper: int, y: int) -> None:
    graphic = line.graphic
    assert graphic is not None
    width, height = graphic_size(graphic)
    room = max(0, paper - width)
    x = MARGIN + (0, room // 2, room)[line.align]
    if graphic.kind == "image":
        image.paste(_raster(graphic), (x, y))
        return
    module = max(1, graphic.module)
    for row, bits in enumerate(_modules(graphic)):
        for col, bit in enumerate(bits):
            if bit:
                top = y + row * module if graphic.kind == "qr" else y
                bottom = top + module - 1 if graphic.kind == "qr" else y + height - 1
                left = x + col * module
                image.paste(0, (left, top, left + module, bottom + 1))


def _raster(graphic: Graphic) -> Any:
    from PIL import Image, ImageOps

    # In Pillow's one-bit mode a set bit is white; on the printer it is a black dot.
    bits = Image.frombytes("1", (graphic.width, graphic.height), graphic.rows)
    picture = ImageOps.invert(bits.convert("L"))
    if graphic.scale != (1, 1):
        size = (graphic.width * graphic.scale[0], graphic.height * graphic.scale[1])
        picture = picture.resize(size, Image.Resampling.NEAREST)
    return picture


@functools.lru_cache(maxsize=64)
def _modules(graphic: Graphic) -> tuple[tuple[bool, ...], ...]:
    """The symbol's dark modules: rows of a QR code; one row of bars for a barcode.
    When the symbol cannot be built here, a hollow box of about its size."""
    try:
        return _qr_modules(graphic.text) if graphic.kind == "qr" else _bars(graphic)
    except Exception as e:  # a picture is a convenience: a symbol it cannot draw is a box
        logger.debug("symbol %s not drawn: %s", graphic.label, e)
    if graphic.kind == "qr":
        side = QR_FALLBACK_MODULES
        edge = (True,) * side
        middle = (True, *(False,) * (side - 2), True)
        return (edge, *(middle,) * (side - 2), edge)
    return ((True, *(False,) * (11 * len(graphic.text) + 33), True),)


def _qr_modules(text: str) -> tuple[tuple[bool, ...], ...]:
    import qrcode  # type: ignore[import-untyped]
    from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(text.encode("latin-1"))
    code.make(fit=True)
    return tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


def _bars(graphic: Graphic) -> tuple[tuple[bool, ...], ...]:
    import barcode  # type: ignore[import-untyped]

    kind = BARCODE_CLASSES[graphic.name]
    pattern = barcode.get_barcode_class(kind)(graphic.text).build()[0]
    return (tuple(bit == "1" for bit in pattern),)
