"""The store's logo as an ESC/POS raster image (``GS v 0``).

``load_logo(path, max_dots)`` reads a picture file (PNG, or anything Pillow
opens) once, when the printer is built: transparent parts become paper, the
picture is scaled down (never up) to the paper's printable width, then
dithered (Floyd-Steinberg) to one bit per dot, so a two-tone logo stays sharp
and a grey one keeps its shades. Printable widths at 203 dpi: 384 dots on
58 mm paper, 576 dots on 80 mm paper.

``raster_command(image)`` is pure: ``GS v 0 0 xL xH yL yH`` and the rows, top
to bottom, each ``ceil(width / 8)`` bytes, the leftmost dot in bit 7, a set bit
a black dot. Sent over a serial line the logo costs time on every receipt
(576 x 120 dots are 8640 bytes: 4.5 s at 19200 baud, 0.75 s at 115200).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from escpos.constants import S_RASTER_N

RASTER_NORMAL: bytes = S_RASTER_N  # GS v 0 0: raster image at normal size
PAPER_DOTS = {58: 384, 80: 576}  # printable dots across the paper at 203 dpi
MAX_ROWS = 480  # 60 mm: a taller logo is scaled down, it would take too long to send


class LogoError(ValueError):
    """The logo file cannot be read as a picture."""


@dataclass(frozen=True)
class RasterImage:
    """A one-bit picture: ``width`` and ``height`` in dots, ``rows`` packed as
    ``GS v 0`` sends them (``ceil(width / 8)`` bytes per row, bit 7 leftmost, 1 black)."""

    width: int
    height: int
    rows: bytes

    @property
    def row_bytes(self) -> int:
        return (self.width + 7) // 8

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1 or self.row_bytes > 0xFFFF or self.height > 0xFFFF:
            raise ValueError(f"raster image size out of range: {self.width}x{self.height}")
        if len(self.rows) != self.row_bytes * self.height:
            raise ValueError(f"{len(self.rows)} bytes for a {self.width}x{self.height} image")


def raster_command(image: RasterImage) -> bytes:
    """``GS v 0 0 xL xH yL yH d1..dk``: x counts bytes per row, y counts rows."""
    size = image.row_bytes.to_bytes(2, "little") + image.height.to_bytes(2, "little")
    return RASTER_NORMAL + size + image.rows


def load_logo(path: str | Path, max_dots: int, *, max_rows: int = MAX_ROWS) -> RasterImage:
    """The picture at ``path`` as a raster image at most ``max_dots`` wide and
    ``max_rows`` high; raises ``LogoError`` when it cannot be read."""
    # Imported here: Pillow is only needed when a logo is configured.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            return to_raster(picture, max_dots, max_rows=max_rows)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise LogoError(f"logo {path}: {e}") from e


def to_raster(picture: object, max_dots: int, *, max_rows: int = MAX_ROWS) -> RasterImage:
    """A Pillow image as a one-bit raster image, scaled down to fit, dithered."""
    from PIL import Image, ImageOps

    assert isinstance(picture, Image.Image)
    paper = Image.new("RGBA", picture.size, "white")
    # Transparent parts are paper: composite on white before dropping the alpha.
    grey = Image.alpha_composite(paper, picture.convert("RGBA")).convert("L")
    scale = min(1.0, max_dots / grey.width, max_rows / grey.height)
    if scale < 1.0:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.LANCZOS)
    # Inverted first, so a set bit is ink and the padding at the end of each row is paper.
    ink = ImageOps.invert(grey).convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return RasterImage(ink.width, ink.height, ink.tobytes())
