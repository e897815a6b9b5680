"""The receipt printer: the ESC/POS encoder byte for byte, the simulated printer's
decoder, and SerialPrinter over a real pseudo-terminal to hw_sim's SimulatedPrinter
(real pyserial, real python-escpos)."""

from __future__ import annotations

import itertools
import os
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import PrinterConfig
from firmware_app.drivers.errors import PrinterError
from firmware_app.drivers.escpos_encoder import ReceiptEncoder, clean
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.printer_status import PrinterFault
from firmware_app.lane.receipt import Receipt, ReceiptLine
from hw_sim.escpos_decoder import EscposDecoder, PrintedReceipt, StatusRequest
from hw_sim.printer import SimulatedPrinter

WAIT_S = 2.0

LATIN = Receipt(
    header=("SHOP", "Main St 1"),
    lines=(
        ReceiptLine("Milk 1L", "2 x 1.50", "3.00"),
        ReceiptLine("Bread", "1 x 2.00", "2.00", voided=True),
    ),
    totals=(("TOTAL", "3.00"),),
    taxes=(("VAT 13%", "0.35"),),
    tenders=(("Cash", "5.00"), ("Change", "2.00")),
    info=("Receipt 0001",),
    footer=("THANK YOU",),
)

CHINESE = Receipt(
    header=("超市 SUPERMARKET",),
    lines=(ReceiptLine("可口可乐 330ml", "2 × 3.50", "7.00"),),
    totals=(("合计 TOTAL", "7.00"),),
    taxes=(),
    tenders=(("现金 Cash", "10.00"), ("找零 Change", "3.00")),
    info=("小票号 Receipt: 0001",),
    footer=("谢谢惠顾 THANK YOU",),
    code="S001-01-0001",
)


def decode(data: bytes, columns: int = 32) -> list[PrintedReceipt]:
    return [out for out in EscposDecoder(columns).feed(data) if isinstance(out, PrintedReceipt)]


# --- the encoder, byte for byte ------------------------------------------------------------


def test_latin_receipt_bytes() -> None:
    expected = (
        b"\x1b@"  # ESC @: initialise
        b"\x1c&"  # FS &: Chinese mode
        b"\x1ba\x01"  # ESC a 1: centre
        b"\x1d!\x11SHOP\n"  # GS ! 0x11: double width and height
        b"\x1d!\x00Main St 1\n"  # GS ! 0: normal size
        b"\x1ba\x00"  # ESC a 0: left
        b"Milk 1L\n"
        b"2 x 1.50                    3.00\n"
        b"VOID Bread\n"
        b"1 x 2.00                  (2.00)\n"
        b"--------------------------------\n"
        b"\x1bE\x01TOTAL                       3.00\n\x1bE\x00"  # ESC E 1 / 0: bold
        b"VAT 13%                     0.35\n"
        b"Cash                        5.00\n"
        b"Change                      2.00\n"
        b"--------------------------------\n"
        b"Receipt 0001\n"
        b"\x1ba\x01THANK YOU\n\x1ba\x00"
        b"\x1c."  # FS .: Chinese mode off
        b"\x1dVB\x00"  # GS V 66 0: feed to the cutter, partial cut
    )
    assert ReceiptEncoder(32).encode(LATIN) == expected


def test_rows_fill_the_paper_exactly() -> None:
    data = ReceiptEncoder(32).encode(LATIN)
    rows = [line for line in data.split(b"\n") if b"  " in line]
    assert len(rows) == 6
    assert all(len(row.removeprefix(b"\x1bE\x01").removeprefix(b"\x1bE\x00")) == 32 for row in rows)


def test_single_byte_printer_gets_its_code_page_and_no_chinese_mode() -> None:
    data = ReceiptEncoder(32, encoding="cp437", chinese_mode=False).encode(LATIN)
    assert data.startswith(b"\x1b@\x1bt\x00\x1ba\x01")  # ESC t 0: code page 437
    assert b"\x1c" not in data
    assert data.endswith(b"\x1ba\x00\x1dVB\x00")


def test_chinese_line_is_gb18030_with_double_width_padding() -> None:
    data = ReceiptEncoder(32).encode(CHINESE)
    name = "可口可乐".encode("gb18030")
    assert name == b"\xbf\xc9\xbf\xda\xbf\xc9\xc0\xd6"
    assert name + b" 330ml\n" in data
    # "2 × 3.50": 9 cells (× prints from the Chinese font: two cells), 19 spaces, 4 cells.
    assert b"2 \xa1\xc1 3.50" + b" " * 19 + b"7.00\n" in data
    # "合计 TOTAL": 10 cells, 18 spaces, "7.00".
    assert b"\x1bE\x01\xba\xcf\xbc\xc6 TOTAL" + b" " * 18 + b"7.00\n\x1bE\x00" in data


def test_qr_code_of_the_receipt() -> None:
    data = ReceiptEncoder(32).encode(CHINESE)
    qr = (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # model 2
        b"\x1d(k\x03\x00\x31\x43\x04"  # module 4 dots
        b"\x1d(k\x03\x00\x31\x45\x31"  # error correction M
        b"\x1d(k\x0f\x00\x31\x50\x30S001-01-0001"  # store 12 bytes (+3)
        b"\x1d(k\x03\x00\x31\x51\x30"  # print
    )
    assert b"\x1ba\x01" + qr + b"S001-01-0001\n" in data


def test_long_names_are_cut_at_a_character_boundary() -> None:
    encoder = ReceiptEncoder(32)
    assert encoder.fit("ab可口", 3) == "ab"  # never half of a double-byte character
    assert encoder.fit("ab可口", 4) == "ab可"
    receipt = Receipt((), (ReceiptLine("可口可乐" * 10, "1", "1.00", voided=True),), (), (), (), ())
    data = encoder.encode(receipt)
    # "VOID " (5 cells) + 13 characters (26 cells): a 14th would need 33 cells.
    assert b"\x1ba\x00VOID " + ("可口可乐" * 4)[:13].encode("gb18030") + b"\n" in data
    assert decode(data)[0].lines[0].cells == 31


def test_control_characters_in_text_cannot_become_commands() -> None:
    receipt = Receipt(
        (), (ReceiptLine("Milk\x1bp\x00\x19\xfa\u200b", "1", "1.00"),), (), (), (), ()
    )
    data = ReceiptEncoder(32).encode(receipt)
    assert b"Milk?p??" + "ú".encode("gb18030") + b"\n" in data
    assert clean("a\nb\u200bc") == "a?bc"


def test_long_info_lines_wrap_at_a_space() -> None:
    receipt = Receipt((), (), (), (), (), ("Receipt: 0001-20240101   Lane: S001-01",))
    text = decode(ReceiptEncoder(32).encode(receipt))[0].text
    assert text.endswith("\nReceipt: 0001-20240101   Lane:\nS001-01\n")


def test_columns_and_encoding_are_checked() -> None:
    with pytest.raises(ValueError, match="columns"):
        ReceiptEncoder(8)
    with pytest.raises(LookupError):
        ReceiptEncoder(32, encoding="no-such-codec")


# --- the decoder -------------------------------------------------------------------------


def test_decoded_chinese_receipt() -> None:
    (printed,) = decode(ReceiptEncoder(32).encode(CHINESE))
    assert printed.text == (
        "超市 SUPERMARKET\n"  # double width: 32 cells, so no indent
        "可口可乐 330ml\n"
        "2 × 3.50                   7.00\n"
        "--------------------------------\n"
        "合计 TOTAL                  7.00\n"
        "现金 Cash                  10.00\n"
        "找零 Change                 3.00\n"
        "--------------------------------\n"
        "小票号 Receipt: 0001\n"
        "       [QR S001-01-0001]\n"
        "          S001-01-0001\n"
        "       谢谢惠顾 THANK YOU\n"
    )
    assert printed.lines[0].size == (2, 2)
    assert printed.lines[4].bold


def test_without_fs_ampersand_gb18030_prints_as_code_page_characters() -> None:
    # python-escpos 3.1's magic encoding sends GB18030 without FS &: this is what comes out.
    (printed,) = decode("可口".encode("gb18030") + b"\n\x1dVB\x00")
    assert printed.text == "┐╔┐┌\n"


def test_status_queries_are_answered_and_left_out_of_the_receipt_bytes() -> None:
    decoder = EscposDecoder(32)
    out = decoder.feed(b"\x1b@A\x10\x04\x02B\x10\x04\x04\n\x10\x04\x09\x1dV\x01")
    first, second, printed = out  # DLE EOT 9 is no status query
    assert [first, second] == [StatusRequest(2), StatusRequest(4)]
    assert isinstance(printed, PrintedReceipt)
    assert printed.raw == b"\x1b@AB\n\x1dV\x01"
    assert printed.text == "AB\n"


def test_payloads_are_skipped_by_their_length_fields() -> None:
    image = b"\x1dv0\x00\x02\x00\x02\x00" + b"\x1dVA\x00"  # 2 x 2 bytes that look like a cut
    barcode = b"\x1dkC\x0d4006381333931"
    other = b"\x1d(A\x02\x00\x1dV" + b"\x1c(A\x01\x00\n" + b"\x1b*\x00\x02\x00\x1dV"
    (printed,) = decode(b"\x1b@" + image + barcode + other + b"ok\n\x1dVB\x00")
    assert printed.text == "[LOGO 16x2]\n[BARCODE EAN13 4006381333931]\nok\n"


def test_unknown_sequences_do_not_swallow_text() -> None:
    (printed,) = decode(b"\x1b\x01A\x1b~B\x1d~C\x1c~D\x10E\n\x1dV\x00")
    # ESC + a control byte: ESC alone; ESC ~, GS ~, FS ~: two bytes; a lone DLE: one.
    assert printed.text == "ABCDE\n"


def test_garbage_lengths_hold_the_decoder_only_briefly() -> None:
    huge_image = b"\x1dv0\x00\xff\xff\xff\xff"  # 4 GB announced: garbage
    (printed,) = decode(huge_image + b"\nok\n\x1dV\x00")
    assert printed.text.endswith("ok\n")


def test_lines_too_long_wrap_and_alignment_applies_at_line_start() -> None:
    (printed,) = decode(b"x" * 40 + b"\n\x1ba\x02right\nA\x1ba\x01B\n\x1dV\x00", columns=32)
    assert (
        printed.text == "x" * 32 + "\n" + "x" * 8 + "\n" + " " * 27 + "right\n" + " " * 30 + "AB\n"
    )


def test_a_command_split_across_reads_waits_for_its_end() -> None:
    decoder = EscposDecoder(32)
    data = "可".encode("gb18030")
    assert decoder.feed(b"\x1c&" + data[:1]) == []
    assert decoder.pending == data[:1]
    assert decoder.feed(data[1:] + b"\n\x1dV") == []
    (printed,) = decoder.feed(b"\x00")
    assert isinstance(printed, PrintedReceipt)
    assert printed.text == "可\n"


names = st.text(st.sampled_from("abcXYZ019.-é×可口乐超市谢"), min_size=1, max_size=8)
amounts = st.from_regex(r"\A\(?[0-9]{1,5}\.[0-9]{2}\)?\Z")


@st.composite
def receipts(draw: st.DrawFn, text: st.SearchStrategy[str] = names) -> Receipt:
    rows = st.lists(st.tuples(text, amounts), max_size=3).map(tuple)
    return Receipt(
        header=tuple(draw(st.lists(text, max_size=2))),
        lines=tuple(
            ReceiptLine(name, detail, amount, voided)
            for name, detail, amount, voided in draw(
                st.lists(st.tuples(text, text, amounts, st.booleans()), max_size=4)
            )
        ),
        totals=draw(rows),
        taxes=draw(rows),
        tenders=draw(rows),
        info=tuple(draw(st.lists(text, max_size=2))),
        footer=tuple(draw(st.lists(text, max_size=2))),
        banner=draw(st.one_of(st.just(""), text)),
    )


@given(receipts())
def test_round_trip_keeps_the_words(receipt: Receipt) -> None:
    (printed,) = decode(ReceiptEncoder(32).encode(receipt))
    lines = [line.text for line in printed.lines]
    words = [*receipt.header, *receipt.info, *receipt.footer]
    words += [w for line in receipt.lines for w in (line.name, line.detail, line.amount)]
    words += [w for row in receipt.totals + receipt.taxes + receipt.tenders for w in row]
    for word in [*words, receipt.banner]:
        assert any(clean(word) in line for line in lines)


@given(
    receipts(st.text(max_size=60)),
    st.sampled_from([("gb18030", True), ("cp437", False), ("cp1252", False)]),
    st.sampled_from([32, 42, 48]),
)
def test_encoder_never_overflows_a_line(
    receipt: Receipt, printer: tuple[str, bool], columns: int
) -> None:
    encoding, chinese_mode = printer
    data = ReceiptEncoder(columns, encoding=encoding, chinese_mode=chinese_mode).encode(receipt)
    (printed,) = decode(data, columns)
    # One printed line per LF: the printer never had to wrap a line by itself.
    assert len(printed.lines) == data.count(b"\n")


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_any_bytes_decode_alike_however_they_are_split(data: bytes, cuts: list[int]) -> None:
    whole = EscposDecoder(32)
    expected = whole.feed(data)
    split = EscposDecoder(32)
    got: list[object] = []
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        got += split.feed(data[start:end])
    assert got == expected
    assert split.pending == whole.pending


# --- the simulated printer's status answers -------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    with SimulatedPrinter(tmp_path / "out", columns=32, render_png=False) as printer:
        yield printer


# --- SerialPrinter over a pseudo-terminal ------------------------------------------------------


def config(port: str, **changes: object) -> PrinterConfig:
    return PrinterConfig(port=port, columns=32, paper_mm=58, **changes)  # type: ignore[arg-type]


def test_prints_through_a_pty_to_the_simulated_printer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with SimulatedPrinter(out, columns=32) as sim, SerialPrinter(config(sim.port)) as printer:
        printer.print_receipt(CHINESE)
        text = sim.wait_for_receipt(1, WAIT_S)
    assert "可口可乐 330ml" in text
    assert (out / "receipt-0001.txt").read_text(encoding="utf-8") == text
    assert (out / "receipt-0001.bin").read_bytes() == ReceiptEncoder(32).encode(CHINESE)
    assert (out / "receipt-0001.png").read_bytes().startswith(b"\x89PNG")
    status_queries = 2 * 3 * len(b"\x10\x04\x01")  # DLE EOT 1, 2 and 4, before and after
    assert sim.bytes_received == len(ReceiptEncoder(32).encode(CHINESE)) + status_queries


def test_receipts_are_numbered(sim: SimulatedPrinter) -> None:
    with SerialPrinter(config(sim.port)) as printer:
        printer.print_receipt(LATIN)
        printer.print_receipt(CHINESE)
    sim.wait_for_receipt(2, WAIT_S)
    assert sim.idle(WAIT_S)
    assert sorted(p.name for p in sim.out_dir.iterdir()) == [
        "receipt-0001.bin",
        "receipt-0001.txt",
        "receipt-0002.bin",
        "receipt-0002.txt",
    ]
    assert "THANK YOU" in sim.receipts[0] and "谢谢惠顾" in sim.receipts[1]


@pytest.mark.parametrize(
    ("flow_control", "cflag", "iflag"),
    [("none", 0, 0), ("rtscts", termios.CRTSCTS, 0), ("xonxoff", 0, termios.IXON | termios.IXOFF)],
)
def test_flow_control_reaches_the_port(
    sim: SimulatedPrinter, flow_control: str, cflag: int, iflag: int
) -> None:
    with SerialPrinter(config(sim.port, flow_control=flow_control)) as printer:
        printer.print_receipt(LATIN)
        fd = os.open(sim.port, os.O_RDWR | os.O_NOCTTY)
        try:
            attrs = termios.tcgetattr(fd)
        finally:
            os.close(fd)
    assert attrs[2] & termios.CRTSCTS == cflag  # python-escpos 3.1 alone never sets it
    assert attrs[0] & (termios.IXON | termios.IXOFF) == iflag
    assert "Milk 1L" in sim.wait_for_receipt(1, WAIT_S)


def test_missing_port_raises_printer_error_naming_it(tmp_path: Path) -> None:
    port = str(tmp_path / "lane-printer")
    with SerialPrinter(config(port)) as printer, pytest.raises(PrinterError, match=port) as e:
        printer.print_receipt(LATIN)
    assert isinstance(e.value, PrinterFault)
    assert (e.value.state, e.value.printed_partly) == ("missing", False)


def test_reopens_after_errors(tmp_path: Path) -> None:
    link = tmp_path / "lane-printer"  # like the udev link /dev/lane-printer
    with SerialPrinter(config(str(link))) as printer:
        with pytest.raises(PrinterError):
            printer.print_receipt(LATIN)  # nothing plugged in yet
        with SimulatedPrinter(tmp_path / "a", columns=32, render_png=False) as first:
            link.symlink_to(first.port)
            printer.print_receipt(LATIN)
            first.wait_for_receipt(1, WAIT_S)
        with pytest.raises(PrinterError, match=str(link)):
            printer.print_receipt(LATIN)  # the adapter is gone: the write fails
        link.unlink()
        with SimulatedPrinter(tmp_path / "b", columns=32, render_png=False) as second:
            link.symlink_to(second.port)
            printer.print_receipt(CHINESE)
            assert "可口可乐 330ml" in second.wait_for_receipt(1, WAIT_S)


def test_printing_after_close_is_an_error(sim: SimulatedPrinter) -> None:
    printer = SerialPrinter(config(sim.port))
    printer.close()
    printer.close()
    with pytest.raises(PrinterError, match="closed"):
        printer.print_receipt(LATIN)


def test_dummy_transport_collects_the_encoded_bytes() -> None:
    dummy = Dummy()
    with SerialPrinter(
        config("dummy", status_check=False), transport_factory=lambda _config: dummy
    ) as printer:
        printer.print_receipt(LATIN)
        printer.print_receipt(LATIN)
    assert dummy.output == ReceiptEncoder(32).encode(LATIN) * 2


def test_a_missing_port_is_said_in_words_on_one_line(tmp_path: Path) -> None:
    """Not python-escpos's wrapping of pyserial's wrapping of the OS error, each with its
    own [Errno 2], over two lines."""
    from firmware_app.drivers.printer_status import PrinterFault

    printer = SerialPrinter(PrinterConfig(port=str(tmp_path / "gone")))
    with pytest.raises(PrinterFault) as caught:
        printer.status()
    said = str(caught.value)
    port = tmp_path / "gone"
    assert said == f"receipt printer on {port}: cannot open the port: no such file or directory"
