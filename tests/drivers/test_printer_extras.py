"""Receipt extras byte for byte: the logo as a GS v 0 raster image, the receipt code as
CODE128, the test print; hw_sim's decoder reading them back, and its picture of the paper."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from firmware_app.config import PrinterConfig
from firmware_app.drivers.escpos_encoder import ReceiptEncoder, clean
from firmware_app.drivers.escpos_image import (
    LogoError,
    RasterImage,
    load_logo,
    raster_command,
    to_raster,
)
from firmware_app.drivers.escpos_symbols import code128, code128_data, code128_fits
from firmware_app.drivers.printer import SerialPrinter, encoder_for
from firmware_app.drivers.printer import test_receipt as make_test_receipt
from firmware_app.lane.receipt import Receipt, ReceiptLine
from hw_sim import receipt_png
from hw_sim.escpos_decoder import EscposDecoder, PrintedReceipt
from hw_sim.escpos_graphics import Graphic, code128_text
from hw_sim.printer import SimulatedPrinter

WAIT_S = 2.0
BLACK, WHITE = 0, 255

RECEIPT = Receipt(
    header=("SHOP",),
    lines=(ReceiptLine("苹果 Apple", "1 x 3.00", "3.00"),),
    totals=(("TOTAL", "3.00"),),
    taxes=(),
    tenders=(),
    info=(),
    code="S001-01-1",
)


def decode(data: bytes, columns: int = 32) -> PrintedReceipt:
    (printed,) = [o for o in EscposDecoder(columns).feed(data) if isinstance(o, PrintedReceipt)]
    return printed


def png(tmp_path: Path, rows: list[str], mode: str = "L") -> Path:
    """A picture drawn from rows of ``#`` (black), ``.`` (white) and `` `` (transparent)."""
    image = Image.new("RGBA", (len(rows[0]), len(rows)), (255, 255, 255, 0))
    colours = {"#": (0, 0, 0, 255), ".": (255, 255, 255, 255), " ": (0, 0, 0, 0)}
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            image.putpixel((x, y), colours[ch])
    path = tmp_path / "logo.png"
    image.convert(mode).save(path)
    return path


# --- the logo -----------------------------------------------------------------------------------


def test_logo_bytes_for_a_tiny_png(tmp_path: Path) -> None:
    logo = load_logo(png(tmp_path, ["#.#.#.#.", "#######."]), 384)
    assert (logo.width, logo.height, logo.rows) == (8, 2, b"\xaa\xfe")
    assert raster_command(logo) == b"\x1dv0\x00\x01\x00\x02\x00\xaa\xfe"


def test_logo_rows_are_padded_with_paper_and_transparency_is_paper(tmp_path: Path) -> None:
    logo = load_logo(png(tmp_path, ["##########", "#  ######."], "RGBA"), 384)
    assert (logo.width, logo.height) == (10, 2)
    assert logo.rows == b"\xff\xc0\x9f\x80"  # bits 6.. of byte 2: padding, never dots


def test_logo_is_scaled_down_to_the_paper_never_up(tmp_path: Path) -> None:
    Image.new("L", (1000, 100), BLACK).save(tmp_path / "wide.png")
    wide = load_logo(tmp_path / "wide.png", 576)
    assert (wide.width, wide.height) == (576, 58)
    assert wide.rows == b"\xff" * 72 * 58
    Image.new("L", (100, 20), BLACK).save(tmp_path / "small.png")
    assert load_logo(tmp_path / "small.png", 384).width == 100
    Image.new("L", (10, 2000), BLACK).save(tmp_path / "tall.png")
    assert load_logo(tmp_path / "tall.png", 384).height == 480


def test_grey_is_dithered_not_lost(tmp_path: Path) -> None:
    Image.new("L", (64, 64), 128).save(tmp_path / "grey.png")
    logo = load_logo(tmp_path / "grey.png", 384)
    dots = sum(bin(b).count("1") for b in logo.rows)
    assert 0.4 < dots / (64 * 64) < 0.6  # about half the dots: mid grey


def test_unreadable_logo(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"not a picture")
    with pytest.raises(LogoError, match=r"logo\.png"):
        load_logo(tmp_path / "logo.png", 384)
    with pytest.raises(LogoError):
        load_logo(tmp_path / "missing.png", 384)


def test_logo_is_printed_centred_above_the_header(tmp_path: Path) -> None:
    logo = load_logo(png(tmp_path, ["#.#.#.#.", "#######."]), 384)
    data = ReceiptEncoder(32, logo=logo).encode(RECEIPT)
    assert data.startswith(
        b"\x1b@\x1c&"
        b"\x1ba\x01\x1dv0\x00\x01\x00\x02\x00\xaa\xfe"  # centred raster image
        b"\x1ba\x01\x1d!\x11SHOP\n"  # then the header
    )
    printed = decode(data)
    assert printed.text.startswith(" " * 11 + "[LOGO 8x2]\n")
    graphic = printed.lines[0].graphic
    assert graphic == Graphic("image", width=8, height=2, rows=b"\xaa\xfe")
    with pytest.raises(ValueError, match="logo is 400 dots wide"):
        ReceiptEncoder(32, logo=RasterImage(400, 1, bytes(50)))


def test_the_printer_loads_its_logo_from_the_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = png(tmp_path, ["#.#.#.#.", "#######."])
    encoder = encoder_for(PrinterConfig(paper_mm=58, columns=32, logo=str(path)))
    assert encoder.logo is not None and encoder.logo.rows == b"\xaa\xfe"
    assert encoder.dots == 384
    with caplog.at_level(logging.ERROR):
        missing = encoder_for(PrinterConfig(logo=str(tmp_path / "gone.png")))
    assert missing.logo is None and missing.dots == 576
    assert "printing without a logo" in caplog.text


@st.composite
def rasters(draw: st.DrawFn) -> RasterImage:
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 6))
    row_bytes = (width + 7) // 8
    pad_mask = (0xFF << (row_bytes * 8 - width)) & 0xFF
    rows = bytearray(draw(st.binary(min_size=row_bytes * height, max_size=row_bytes * height)))
    for y in range(height):
        rows[y * row_bytes + row_bytes - 1] &= pad_mask
    return RasterImage(width, height, bytes(rows))


@given(rasters())
def test_raster_images_round_trip_through_png_and_the_decoder(image: RasterImage) -> None:
    picture = Image.frombytes("1", (image.width, image.height), image.rows)
    # Pillow's set bit is white: as a picture, the printer's black dots are 0.
    assert to_raster(ImageOps.invert(picture.convert("L")), 384) == image
    graphic = decode(raster_command(image) + b"\x1dV\x00").lines[0].graphic
    assert graphic is not None and graphic.rows == image.rows
    assert graphic.label == f"[LOGO {image.row_bytes * 8}x{image.height}]"


# --- the receipt code as a barcode -----------------------------------------------------------


def test_code128_bytes() -> None:
    data = ReceiptEncoder(32, code="barcode").encode(RECEIPT)
    assert (
        b"\x1ba\x01"  # centred
        b"\x1dH\x00"  # GS H 0: no human-readable text (the encoder prints it)
        b"\x1dh\x50"  # GS h 80: 10 mm high
        b"\x1dw\x02"  # GS w 2: 0.25 mm modules
        b"\x1dkI\x0b{BS001-01-1"  # GS k 73 11: CODE128, code set B
        b"S001-01-1\n"  # the code as text
    ) in data
    assert code128("a{b").endswith(b"\x1dkI\x06{Ba{{b")


def test_codes_print_as_configured() -> None:
    for kind, label in [("qr", "[QR S001-01-1]"), ("barcode", "[BARCODE CODE128 S001-01-1]")]:
        text = decode(ReceiptEncoder(32, code=kind).encode(RECEIPT)).text
        assert f"{label}\n" in text and "S001-01-1\n" in text
    plain = ReceiptEncoder(32, code="none").encode(RECEIPT)
    assert b"\x1dk" not in plain and b"\x1d(k" not in plain
    assert decode(plain).text.endswith("           S001-01-1\n")
    with pytest.raises(ValueError, match="code"):
        ReceiptEncoder(32, code="pdf417")


def test_a_code_too_long_for_the_paper_is_printed_as_text_only() -> None:
    long = Receipt((), (), (), (), (), (), code="S0001-0001-000123")  # 17 characters
    assert not code128_fits(long.code, 384) and code128_fits(long.code, 576)
    assert b"\x1dk" not in ReceiptEncoder(32, code="barcode").encode(long)
    assert b"\x1dkI\x13{BS0001-0001-000123" in ReceiptEncoder(48, code="barcode").encode(long)


def test_decoder_reads_code128_code_sets() -> None:
    assert code128_text(b"{BAB{C\x0c\x22{A-{{") == "AB1234-{"
    assert code128_text(b"{C\x01\x63{1{B!") == "0199<FNC1>!"
    printed = decode(b"\x1dh\x28\x1dw\x03\x1dkI\x04{C\x0c\x22\x1dV\x00")
    graphic = printed.lines[0].graphic
    assert graphic == Graphic("barcode", text="1234", name="CODE128", height=40, module=3)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=23))
def test_code128_round_trips(text: str) -> None:
    assert code128_text(code128_data(text)) == text
    receipt = Receipt((), (), (), (), (), (), code=text)
    printed = decode(ReceiptEncoder(48, code="barcode").encode(receipt), 48)
    graphics = [line.graphic for line in printed.lines if line.graphic is not None]
    expected = [Graphic("barcode", text=text, name="CODE128", height=80, module=2)]
    assert graphics == (expected if code128_fits(text, 576) else [])
    assert any(clean(text).strip() in line.text for line in printed.lines)


# --- the test print ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"paper_mm": 58, "columns": 32}, "[QR TEST-0000]"),
        ({"receipt_code": "barcode"}, "[BARCODE CODE128 TEST-0000]"),
        ({"chinese_mode": False, "encoding": "cp437"}, "[QR TEST-0000]"),
    ],
)
def test_test_print_shows_the_settings(changes: dict[str, object], expect: str) -> None:
    config = PrinterConfig(**changes)  # type: ignore[arg-type]
    receipt = make_test_receipt(config, lane="S001-01")
    data = encoder_for(config).encode(receipt)
    printed = decode(data, config.columns)
    lines = [line.text for line in printed.lines]
    text_lines = [line for line in printed.lines if line.graphic is None]
    assert len(text_lines) == data.count(b"\n")  # nothing wrapped: the rulers fit exactly
    ruler = "".join(str(i % 10) for i in range(1, config.columns + 1))
    assert ruler in lines
    assert (("中" * (config.columns // 2)) in lines) == config.chinese_mode
    assert expect in printed.text
    assert f"Paper: {config.paper_mm} mm, {config.columns} columns" in lines
    assert "Lane: S001-01" in lines


def test_test_print_through_the_simulated_printer_with_a_logo(tmp_path: Path) -> None:
    logo = png(tmp_path, ["#" * 16] * 4)
    with SimulatedPrinter(tmp_path / "out", columns=32) as sim:
        config = PrinterConfig(
            port=sim.port, paper_mm=58, columns=32, logo=str(logo), receipt_code="barcode"
        )
        with SerialPrinter(config) as printer:
            status = printer.print_receipt(make_test_receipt(config))
        text = sim.wait_for_receipt(1, WAIT_S)
    assert status is not None and status.state == "ok"
    assert text.startswith(" " * 10 + "[LOGO 16x4]\n")
    assert "[BARCODE CODE128 TEST-0000]" in text
    assert (tmp_path / "out" / "receipt-0001.png").is_file()


# --- the picture of the paper -----------------------------------------------------------------


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    receipt_png._cjk_font.cache_clear()
    monkeypatch.setattr(receipt_png, "cjk_font_path", lambda: None)
    yield
    receipt_png._cjk_font.cache_clear()


def test_picture_boxes_wide_characters_without_a_cjk_font(tmp_path: Path, no_cjk_font) -> None:
    printed = decode(b"\x1c&" + "苹A".encode("gb18030") + b"\n\x1dV\x00")
    receipt_png.render_png(printed, tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as image:
        assert image.size == (32 * 12 + 24, 24 + 24)
        assert image.text["Receipt"] == "苹A\n"  # type: ignore[attr-defined]
        x, y = 12, 12  # the margin: the first cell
        assert image.getpixel((x + 2, y + 3)) == BLACK  # the box's corner ...
        assert image.getpixel((x + 21, y + 19)) == BLACK  # ... two cells wide
        assert image.getpixel((x + 12, y + 12)) == WHITE  # ... and hollow
        assert image.getpixel((x + 24 + 6, y + 12)) is not None  # "A" in the third cell


@pytest.mark.skipif(
    receipt_png.cjk_font_path() is None, reason="no Chinese font (scripts/ensure-cjk-font)"
)
def test_picture_draws_chinese_from_the_machines_cjk_font(tmp_path: Path) -> None:
    printed = decode(b"\x1c&" + "苹A".encode("gb18030") + b"\n\x1dV\x00")
    receipt_png.render_png(printed, tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as image:
        x, y = 12, 12
        cell = [image.getpixel((x + i, y + j)) for i in range(24) for j in range(24)]
        dark = sum(1 for level in cell if level < 128)
        assert 60 < dark < 400  # the strokes of a glyph, not a blank ...
        assert image.getpixel((x + 2, y + 3)) == WHITE  # ... nor the box drawn without a font


def test_picture_draws_the_logo_dot_for_dot_and_the_qr_code(tmp_path: Path) -> None:
    logo = RasterImage(8, 2, b"\xaa\xfe")
    printed = decode(ReceiptEncoder(32, logo=logo).encode(RECEIPT))
    receipt_png.render_png(printed, tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as image:
        left = 12 + (384 - 8) // 2
        top = 12
        got = [[image.getpixel((left + x, top + y)) for x in range(8)] for y in range(2)]
        assert got == [[BLACK, WHITE] * 4, [BLACK] * 7 + [WHITE]]
        qr_line = next(i for i, line in enumerate(printed.lines) if line.text.startswith("[QR"))
        qr_top = 12 + sum(receipt_png.line_height(line) for line in printed.lines[:qr_line])
        side = receipt_png.graphic_size(printed.lines[qr_line].graphic)[0]  # type: ignore[arg-type]
        qr_left = 12 + (384 - side) // 2
        assert image.getpixel((qr_left, qr_top)) == BLACK  # the finder pattern's corner
        assert side == 21 * 4  # version 1, 4-dot modules
