"""The receipt printer's real-time status: DLE EOT queries byte for byte, their answers
parsed and validated, and every state of hw_sim's printer reaching SerialPrinter as the
right PrinterFault or status, over real pseudo-terminals."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import PrinterConfig
from firmware_app.drivers.escpos_encoder import ReceiptEncoder
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.printer_status import (
    FAULTS,
    PrinterFault,
    PrinterStatus,
    parse_status,
    valid_status,
)
from firmware_app.lane.receipt import Receipt, ReceiptLine
from hw_sim.escpos_decoder import EscposDecoder, PaperOut, PrintedReceipt, StatusRequest
from hw_sim.printer import SimulatedPrinter
from hw_sim.serial_line import PseudoSerialLine
from tests.waiting import wait_until

WAIT_S = 2.0
DLE_EOT = b"\x10\x04"

RECEIPT = Receipt(
    header=("SHOP",),
    lines=(ReceiptLine("Milk 1L", "2 x 1.50", "3.00"), ReceiptLine("Bread", "1 x 2.00", "2.00")),
    totals=(("TOTAL", "5.00"),),
    taxes=(),
    tenders=(("Cash", "5.00"),),
    info=("Receipt 0001",),
    footer=("THANK YOU",),
)
ENCODED = ReceiptEncoder(32).encode(RECEIPT)


def config(port: str, **changes: object) -> PrinterConfig:
    return PrinterConfig(port=port, columns=32, paper_mm=58, **changes)  # type: ignore[arg-type]


# --- parsing, all bytes ----------------------------------------------------------------------


@given(st.integers(0, 255))
def test_only_the_fixed_bit_form_is_a_status_byte(answer: int) -> None:
    assert valid_status(answer) == (answer & 0x93 == 0x12)
    bits = [answer >> bit & 1 for bit in (7, 4, 1, 0)]
    assert valid_status(answer) == (bits == [0, 1, 1, 0])
    assert not valid_status(None)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_any_answers_parse_to_one_state_word(
    printer: int, offline_cause: int, paper_sensor: int, error_cause: int
) -> None:
    status = parse_status(printer, offline_cause, paper_sensor, error_cause)
    assert status.paper in ("ok", "near-end", "out")
    assert status.state in {"ok", "paper_near_end", *FAULTS}
    assert bool(status.problem) == (status.state in FAULTS)
    assert (status.state == "ok") == (
        not printer & 0x08 and not offline_cause & 0x64 and not paper_sensor & 0x6C
    )


@pytest.mark.parametrize(
    ("answers", "state", "problem"),
    [
        ((0x12, 0x12, 0x12), "ok", ""),
        ((0x12, 0x12, 0x1E), "paper_near_end", ""),
        ((0x1A, 0x32, 0x7E), "paper_out", "paper out"),
        ((0x1A, 0x16, 0x12), "cover_open", "cover open"),
        ((0x1A, 0x36, 0x7E), "cover_open", "cover open"),  # the more urgent first
        ((0x1A, 0x52, 0x12, 0x1A), "error", "error (auto-cutter error)"),
        ((0x1A, 0x1A, 0x12), "offline", "offline"),  # paper fed by the button
    ],
)
def test_status_words(answers: tuple[int, ...], state: str, problem: str) -> None:
    status = parse_status(*answers)
    assert (status.state, status.problem) == (state, problem)


def test_status_detail_names_the_answers() -> None:
    assert parse_status(0x1A, 0x32, 0x7E).detail == (
        "DLE EOT 1 = 0x1a, DLE EOT 2 = 0x32, DLE EOT 4 = 0x7e"
    )


# --- the queries on the wire, against a scripted printer on a pseudo-terminal ----------------


class ScriptedPrinter:
    """A pseudo-terminal that records what it receives and answers each DLE EOT n
    with ``answer(n, times_asked)`` (bytes; empty: silence)."""

    def __init__(self, answer: Callable[[int, int], bytes]) -> None:
        self.answer = answer
        self.received = bytearray()
        self.asked: dict[int, int] = {}
        self._lock = threading.Lock()
        self.line = PseudoSerialLine("scripted-printer", self._on_data)
        self.port = self.line.port

    def _on_data(self, data: bytes) -> None:
        with self._lock:
            self.received += data
        # Queries come one at a time: each waits for its answer.
        for index in range(len(data) - 2):
            if data[index : index + 2] == DLE_EOT:
                n = data[index + 2]
                self.asked[n] = self.asked.get(n, 0) + 1
                self.line.write(self.answer(n, self.asked[n]))

    def take(self) -> bytes:
        with self._lock:
            data, self.received = bytes(self.received), bytearray()
            return data


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, int], bytes]], ScriptedPrinter]]:
    lines: list[ScriptedPrinter] = []

    def make(answer: Callable[[int, int], bytes]) -> ScriptedPrinter:
        lines.append(ScriptedPrinter(answer))
        return lines[-1]

    yield make
    for printer in lines:
        printer.line.close()


def test_queries_are_dle_eot_1_2_4_and_3_only_on_error(scripted) -> None:
    answers = {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12}
    line = scripted(lambda n, _times: bytes((answers[n],)))
    with SerialPrinter(config(line.port)) as printer:
        answers[2] = 0x12
        assert printer.status().state == "offline"
        assert line.take() == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"
        answers[2] = 0x52
        status = printer.status()
        assert line.take() == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04\x10\x04\x03"
    assert (status.state, status.error_cause) == ("error", "auto-cutter error")


def test_every_answer_byte_is_accepted_or_refused_by_its_form(scripted) -> None:
    answer = [0x12]
    line = scripted(lambda n, _times: bytes(answer))
    with SerialPrinter(config(line.port)) as printer:
        for byte in range(256):
            answer[0] = byte
            if valid_status(byte):
                assert isinstance(printer.status(), PrinterStatus)
                continue
            with pytest.raises(PrinterFault, match=f"0x{byte:02x}, not a status byte") as e:
                printer.status()
            assert (e.value.state, e.value.printed_partly) == ("offline", False)


def test_stale_bytes_are_drained_before_each_query(scripted) -> None:
    line = scripted(lambda n, _times: b"\x1e" if n == 4 else b"\x12")
    with SerialPrinter(config(line.port)) as printer:
        printer.status()  # the port is open now
        line.line.write(b"\x14\x00\x00\x0f" * 3)  # automatic status back, unasked
        assert printer.status().state == "paper_near_end"


def test_a_stray_byte_before_the_answer_is_asked_past(scripted) -> None:
    # The first answer to DLE EOT 2 comes after a byte of automatic status back.
    line = scripted(lambda n, times: b"\x14\x12" if (n, times) == (2, 1) else b"\x12")
    with SerialPrinter(config(line.port)) as printer:
        assert printer.status().state == "ok"
    assert line.asked == {1: 1, 2: 2, 4: 1}


def test_silence_is_offline_never_paper_adequate(scripted) -> None:
    line = scripted(lambda n, _times: b"")
    with SerialPrinter(config(line.port)) as printer:
        with pytest.raises(PrinterFault, match=r"not answering \(DLE EOT 1: no answer\)") as e:
            printer.print_receipt(RECEIPT)
        assert (e.value.state, e.value.printed_partly) == ("offline", False)
    assert line.take() == b"\x10\x04\x01"  # one silent query is enough; nothing printed


# --- hw_sim's printer, state by state ------------------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    with SimulatedPrinter(tmp_path / "out", columns=32, render_png=False) as printer:
        yield printer


@pytest.mark.parametrize(
    ("paper", "cover", "cutter", "answers"),
    [
        ("ok", False, False, (0x12, 0x12, 0x12, 0x12)),
        ("near-end", False, False, (0x12, 0x12, 0x12, 0x1E)),
        ("out", False, False, (0x1A, 0x32, 0x12, 0x7E)),
        ("ok", True, False, (0x1A, 0x16, 0x12, 0x12)),
        ("ok", False, True, (0x1A, 0x52, 0x1A, 0x12)),
    ],
)
def test_simulated_status_bytes(
    sim: SimulatedPrinter, paper: str, cover: bool, cutter: bool, answers: tuple[int, ...]
) -> None:
    sim.paper(paper)
    sim.cover(cover)
    sim.cutter_error(cutter)
    got = tuple(sim.status_byte(n) for n in (1, 2, 3, 4))
    assert got == answers
    assert all(valid_status(b) for b in got)
    sim.unplug()
    assert [sim.status_byte(n) for n in (1, 2, 3, 4)] == [None] * 4


def _paper_out(sim: SimulatedPrinter) -> None:
    sim.paper("out")


def _cover_open(sim: SimulatedPrinter) -> None:
    sim.cover(True)


def _cutter_jammed(sim: SimulatedPrinter) -> None:
    sim.cutter_error(True)


def _unplugged(sim: SimulatedPrinter) -> None:
    sim.unplug()


@pytest.mark.parametrize(
    ("make", "state", "said"),
    [
        (_paper_out, "paper_out", "paper out"),
        (_cover_open, "cover_open", "cover open"),
        (_cutter_jammed, "error", r"error \(auto-cutter error\)"),
        (_unplugged, "offline", "not answering"),
    ],
)
def test_each_printer_state_stops_the_receipt_before_it_is_sent(
    sim: SimulatedPrinter, make: Callable[[SimulatedPrinter], None], state: str, said: str
) -> None:
    make(sim)
    with SerialPrinter(config(sim.port)) as printer, pytest.raises(PrinterFault, match=said) as e:
        printer.print_receipt(RECEIPT)
    assert (e.value.state, e.value.printed_partly) == (state, False)
    assert sim.idle(WAIT_S)
    assert sim.printed == []
    assert sim.bytes_received <= 4 * 3  # status queries only


def test_near_end_prints_and_says_so(sim: SimulatedPrinter) -> None:
    with SerialPrinter(config(sim.port)) as printer:
        assert printer.print_receipt(RECEIPT).state == "ok"  # type: ignore[union-attr]
        sim.paper("near-end")
        status = printer.print_receipt(RECEIPT)
    assert status is not None and status.state == "paper_near_end"
    assert status.problem == ""
    sim.wait_for_receipt(2, WAIT_S)
    assert [p.raw for p in sim.printed] == [ENCODED, ENCODED]


def test_paper_out_mid_receipt_is_a_partly_printed_receipt(sim: SimulatedPrinter) -> None:
    with SerialPrinter(config(sim.port)) as printer:
        sim.paper_out_after(3)
        with pytest.raises(PrinterFault, match="paper out after printing") as e:
            printer.print_receipt(RECEIPT)
        assert (e.value.state, e.value.printed_partly) == ("paper_out", True)
        assert e.value.status is not None and e.value.status.paper == "out"
        torn = sim.wait_for_receipt(1, WAIT_S)
        assert torn == " " * 12 + "SHOP\nMilk 1L\n2 x 1.50                    3.00\n"
        assert not sim.printed[0].cut
        assert ENCODED.startswith(sim.printed[0].raw)

        with pytest.raises(PrinterFault) as again:  # the roll is still empty
            printer.print_receipt(RECEIPT)
        assert (again.value.state, again.value.printed_partly) == ("paper_out", False)

        sim.paper("ok")  # a new roll: what was lost is not printed now
        assert printer.print_receipt(RECEIPT) is not None
    sim.wait_for_receipt(2, WAIT_S)
    assert sim.printed[1].cut and sim.printed[1].raw == ENCODED
    assert [p.name for p in sorted(sim.out_dir.iterdir())][:2] == [
        "receipt-0001.bin",
        "receipt-0001.txt",
    ]


def test_without_status_check_a_receipt_into_trouble_is_lost(sim: SimulatedPrinter) -> None:
    with SerialPrinter(config(sim.port, status_check=False)) as printer:
        sim.cover(True)
        assert printer.print_receipt(RECEIPT) is None  # nothing tells: a real printer is mute
        assert sim.idle(WAIT_S)
        sim.cover(False)
        assert printer.status().state == "ok"  # the technician can still ask
        printer.print_receipt(RECEIPT)
    sim.wait_for_receipt(1, WAIT_S)
    assert sim.idle(WAIT_S)
    assert [p.raw for p in sim.printed] == [ENCODED]  # the first was lost, not kept
    assert sim.bytes_received == 2 * len(ENCODED) + 3 * 3


def test_coming_back_after_each_fault(sim: SimulatedPrinter) -> None:
    with SerialPrinter(config(sim.port)) as printer:
        for make, undo in [
            (_cover_open, lambda: sim.cover(False)),
            (_unplugged, sim.plug),
            (_cutter_jammed, lambda: sim.cutter_error(False)),
        ]:
            make(sim)
            with pytest.raises(PrinterFault):
                printer.print_receipt(RECEIPT)
            undo()
            assert printer.print_receipt(RECEIPT).state == "ok"  # type: ignore[union-attr]
    wait_until(lambda: len(sim.printed) == 3, "three receipts", WAIT_S)


def test_a_transport_that_cannot_ask_is_an_error_when_checks_are_on() -> None:
    dummy = Dummy()
    printer = SerialPrinter(config("dummy"), transport_factory=lambda _config: dummy)
    with printer, pytest.raises(PrinterFault, match="status not readable") as e:
        printer.print_receipt(RECEIPT)
    assert e.value.state == "error"
    assert dummy.output == b""


# --- the simulated paper, in the decoder -------------------------------------------------------


def test_decoder_paper_runs_out_at_the_next_line() -> None:
    decoder = EscposDecoder(32)
    decoder.paper_lines = 2
    torn, out = decoder.feed(b"\x1b@a\nb\nc\nd\n\x1dV\x00")
    assert isinstance(torn, PrintedReceipt) and not torn.cut
    assert torn.text == "a\nb\n"
    assert torn.raw == b"\x1b@a\nb\nc\n"  # up to the line that found no paper
    assert out == PaperOut()
    assert not decoder.online
    # Off-line, print data is lost; real-time status is still asked for.
    assert decoder.feed(b"lost\n\x10\x04\x04\x1dV\x00") == [StatusRequest(4)]
    decoder.online, decoder.paper_lines = True, None
    (printed,) = decoder.feed(b"\x1b@new\n\x1dV\x00")
    assert isinstance(printed, PrintedReceipt)
    assert (printed.text, printed.raw, printed.cut) == ("new\n", b"\x1b@new\n\x1dV\x00", True)


def test_decoder_with_exactly_enough_paper_cuts() -> None:
    decoder = EscposDecoder(32)
    decoder.paper_lines = 2
    (printed,) = decoder.feed(b"a\nb\n\x1dV\x00")
    assert isinstance(printed, PrintedReceipt) and printed.cut
    assert decoder.paper_lines == 0 and decoder.online


class StalledTransport:
    """A line whose printer holds it (flow control): every write times out, as
    pyserial's does after its write timeout."""

    def __init__(self) -> None:
        self.closed = 0

    def _raw(self, msg: bytes) -> None:
        raise serial.SerialTimeoutException("Write timeout")

    def close(self) -> None:
        self.closed += 1


def test_a_write_timeout_is_offline_and_may_have_printed_part() -> None:
    stalled = StalledTransport()
    config_off = config("stalled", status_check=False)
    with SerialPrinter(config_off, transport_factory=lambda _config: stalled) as printer:
        with pytest.raises(PrinterFault, match="Write timeout") as e:
            printer.print_receipt(RECEIPT)
        assert stalled.closed == 1  # dropped: the next receipt opens the port again
    assert (e.value.state, e.value.printed_partly) == ("offline", True)
