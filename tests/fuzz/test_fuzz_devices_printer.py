"""Fuzzing the receipt printer's side: the status bytes the driver reads back (DLE EOT n),
and hw_sim's ESC/POS decoder, which reads what the lane prints.

Status: whatever bytes a printer answers, ``SerialPrinter`` gives a ``PrinterStatus``
or raises ``PrinterFault`` (its only error); a status it refuses sends no receipt and
keeps the port; over pyserial on a pseudo-terminal it reads exactly what the in-memory
transport reads. Decoder: the same output whatever the read sizes, any bytes taken, a
command it does not know changes nothing printed, and DLE EOT is answered off-line too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from firmware_app.config import PrinterConfig
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.printer_status import (
    ERROR,
    ERROR_CAUSE,
    FAULTS,
    OFFLINE_CAUSE,
    PrinterFault,
    PrinterStatus,
    valid_status,
)
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState
from hw_sim.escpos_decoder import (
    ESC_PARAMS,
    FS_PARAMS,
    GS_PARAMS,
    MAX_PAYLOAD,
    EscposDecoder,
    Output,
    StatusRequest,
)
from tests.drivers.test_printer_status import RECEIPT, ScriptedPrinter
from tests.fuzz.devices_budget import budget
from tests.unit.till import Till

SELLING = Till().do("signon", "scan 6954767410388")

# --- status bytes ------------------------------------------------------------------------------

# What a printer may answer to one DLE EOT n: a byte of any value, a few, or nothing.
answer_bytes = st.one_of(
    st.integers(0, 255).map(lambda b: bytes((b,))),
    st.sampled_from([b"\x12", b"\x16", b"\x1a", b"\x32", b"\x52", b"\x72", b"\x1e", b"\x7e"]),
    st.binary(min_size=2, max_size=3),
    st.just(b""),
)
# Answers by query and by how many times it was asked (the driver asks twice at most).
Script = dict[tuple[int, int], bytes]
scripts = st.fixed_dictionaries(
    {(n, times): answer_bytes for n in (1, 2, 3, 4) for times in (1, 2)}
)


class ScriptedTransport:
    """An in-memory status transport: ``read_status(n)`` answers the first byte of the
    script's answer (None for silence), as ``SerialTransport`` reads one byte."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: dict[int, int] = {}
        self.sent = bytearray()
        self.closed = False

    def _raw(self, msg: bytes) -> None:
        self.sent += msg

    def read_status(self, n: int) -> int | None:
        self.asked[n] = self.asked.get(n, 0) + 1
        answer = self.script.get((n, self.asked[n]), b"")
        return answer[0] if answer else None

    def close(self) -> None:
        self.closed = True


def outcome(call: Callable[[], PrinterStatus | None]) -> tuple[str, object]:
    """What a status read came to: the status, or the fault's state and message."""
    try:
        return "status", call()
    except PrinterFault as fault:
        return "fault", (fault.state, str(fault), fault.printed_partly, fault.status)


def config(port: str = "/dev/fuzz-printer") -> PrinterConfig:
    return PrinterConfig(port=port, columns=32, paper_mm=58)


def expected_fault(script: Script) -> bool:
    """Whether some query the driver makes gets no status byte, asked twice."""

    def answer(n: int) -> int | None:
        for times in (1, 2):
            first = script[(n, times)][:1]
            if first and valid_status(first[0]):
                return first[0]
            if not first:
                return None  # silence: asking again would only double the wait
        return None

    answers = {n: answer(n) for n in (1, 2, 4)}
    if None in answers.values():
        return True
    offline_cause = answers[OFFLINE_CAUSE]
    assert offline_cause is not None
    return bool(offline_cause & ERROR) and answer(ERROR_CAUSE) is None


@budget(250)
@given(scripts)
def test_any_status_answers_give_a_status_or_a_printer_fault(script: Script) -> None:
    opened: list[ScriptedTransport] = []

    def factory(_config: PrinterConfig) -> ScriptedTransport:
        opened.append(ScriptedTransport(script))
        return opened[-1]

    with SerialPrinter(config(), transport_factory=factory) as printer:
        kind, result = outcome(printer.status)
        assert (kind == "fault") == expected_fault(script)
        if kind == "fault":
            state, message, partly, _ = result  # type: ignore[misc]
            assert state is StateWord.OFFLINE and not partly and "DLE EOT" in message
        else:
            assert isinstance(result, PrinterStatus)
            assert result.state in (*FAULTS, StateWord.OK, StateWord.PAPER_NEAR_END)
        # The word reaches the lane as the spooler sends it; the sale is untouched.
        word = result[0] if kind == "fault" else result.state  # type: ignore[index, union-attr]
        till = Till(state=SELLING.state)
        till.send(DeviceState(Device.PRINTER, word, "fuzz"))
        assert till.effects == [] and till.state.sale == SELLING.state.sale
        assert dict(till.state.devices)[Device.PRINTER] is word
        # A refused status keeps the port: the next question goes to the same transport.
        opened[0].asked.clear()
        outcome(printer.status)
        assert len(opened) == 1 and not opened[0].closed


@budget(200)
@given(scripts)
def test_a_receipt_refused_at_the_status_check_sends_nothing(script: Script) -> None:
    transport = ScriptedTransport(script)
    with SerialPrinter(config(), transport_factory=lambda _c: transport) as printer:
        kind, result = outcome(lambda: printer.print_receipt(RECEIPT))
    queries = b"".join(b"\x10\x04" + bytes((n,)) for n in (1, 2, 3, 4))
    if kind == "fault" and not result[2]:  # type: ignore[index]
        # Only status queries went out: not one byte of the receipt.
        assert set(_split_queries(bytes(transport.sent))) <= set(_split_queries(queries))
    else:
        assert len(transport.sent) > len(queries)


def _split_queries(sent: bytes) -> list[bytes]:
    return [sent[i : i + 3] for i in range(0, len(sent), 3)]


@budget(15, fuzz=200)
@given(
    st.fixed_dictionaries(
        {
            (n, times): st.one_of(
                st.sampled_from([b"\x12", b"\x16", b"\x1a", b"\x32", b"\x52", b"\x1e", b"\x7e"]),
                st.binary(min_size=1, max_size=3),
            )
            for n in (1, 2, 3, 4)
            for times in (1, 2)
        }
    )
)
def test_over_pyserial_the_driver_reads_what_the_in_memory_transport_reads(
    script: Script,
) -> None:
    """Real pyserial on a pseudo-terminal (never silent here: silence costs 0.5 s)."""
    line = ScriptedPrinter(lambda n, times: script.get((n, times), b"\x12"))
    try:
        with SerialPrinter(config(line.port)) as printer:
            real = outcome(printer.status)
    finally:
        line.line.close()
    # The scripted printer always answers: "no answer" could only be a loaded machine
    # keeping its thread from answering within the driver's 0.5 s.
    assume(real[0] == "status" or "no answer" not in real[1][1])  # type: ignore[index]
    transport = ScriptedTransport(script)
    with SerialPrinter(config(line.port), transport_factory=lambda _c: transport) as printer:
        pure = outcome(printer.status)
    assert real == pure


# --- hw_sim's ESC/POS decoder -----------------------------------------------------------------

PIECES = [
    b"\x1b@",
    b"\x1b!\x38",
    b"\x1bE\x01",
    b"\x1ba\x01",
    b"\x1bd\x02",
    b"\x1bt\x10",
    b"\x1d!\x11",
    b"\x1dV\x00",
    b"\x1dVB\x00",
    b"\x1c&",
    b"\x1c.",
    b"\x10\x04\x01",
    b"\x10\x04\x04",
    b"\x1dk\x02",
    b"\x1dkI\x05{A12",
    b"\x1d(k\x03\x001P0",
    b"\x1d(k\x03\x001Q0",
    b"\x1dv0\x00\x01\x00\x02\x00",
    b"\x1bD\x08\x10",
    b"\x1b*\x00\x02\x00",
    b"\xb0\xa1",
    b"\x81\x30\x81\x30",
    b"\n",
    b"\t",
    b"TOTAL 7.70",
    b"\x00",
    b"\x1b",
    b"\x1d",
    b"\x1c",
    b"\x10",
]
streams = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=40).map(
    b"".join
)


def printed(
    data: bytes, chunks: list[int], *, paper_lines: int | None = None
) -> tuple[list[Output], tuple[object, ...]]:
    """Everything the decoder gives for ``data`` fed in ``chunks``-sized reads, and its
    state after."""
    decoder = EscposDecoder(32)
    decoder.paper_lines = paper_lines
    out: list[Output] = []
    pos = 0
    for size in [*chunks, len(data)]:
        out += decoder.feed(data[pos : pos + size])
        pos += size
    modes = (decoder.bold, decoder.align, decoder.size, decoder.chinese, decoder.code_page)
    return out, (decoder.pending, decoder.online, decoder.paper_lines, modes)


@budget(200)
@given(streams, st.lists(st.integers(1, 16), max_size=12), st.one_of(st.none(), st.integers(0, 6)))
def test_the_printer_prints_the_same_whatever_the_read_sizes(
    data: bytes, chunks: list[int], paper_lines: int | None
) -> None:
    assert printed(data, chunks, paper_lines=paper_lines) == printed(
        data, [], paper_lines=paper_lines
    )


@budget(200)
@given(st.binary(max_size=2000))
def test_the_printer_takes_any_bytes_and_holds_no_more_than_one_payload(data: bytes) -> None:
    out, (pending, *_rest) = printed(data, [])
    assert len(pending) <= MAX_PAYLOAD + 8  # the longest header, and its payload
    for item in out:
        if isinstance(item, StatusRequest):
            assert item.n in (1, 2, 3, 4)


def _unknown_commands() -> st.SearchStrategy[bytes]:
    """ESC, GS or FS with a second byte no command starts with (a control byte would start
    something itself, so those are left out)."""
    special = {
        0x1B: set(b"*D"),
        0x1D: set(b"Vv(k8*"),
        0x1C: set(b"("),
    }
    known = {0x1B: set(ESC_PARAMS), 0x1D: set(GS_PARAMS), 0x1C: set(FS_PARAMS)}
    return st.sampled_from([0x1B, 0x1D, 0x1C]).flatmap(
        lambda prefix: (
            st.integers(0x20, 0xFF)
            .filter(lambda b: b not in known[prefix] | special[prefix])
            .map(lambda b: bytes((prefix, b)))
        )
    )


safe_text = st.lists(
    st.one_of(
        st.text(alphabet="ABC xyz 0123.", min_size=1, max_size=12).map(str.encode),
        st.sampled_from([b"\n", b"\x1bE\x01", b"\x1bE\x00", b"\x1ba\x01", b"\x1d!\x11"]),
    ),
    max_size=8,
).map(b"".join)


@budget(120)
@given(safe_text, _unknown_commands(), safe_text)
def test_a_command_the_printer_does_not_know_changes_nothing_printed(
    before: bytes, unknown: bytes, after: bytes
) -> None:
    end = b"\n\x1dV\x00"
    with_it = printed(before + unknown + after + end, [])
    without = printed(before + after + end, [])
    # The receipts' raw bytes hold the unknown command; what is on paper does not.
    assert [r.lines for r in with_it[0]] == [r.lines for r in without[0]]  # type: ignore[union-attr]
    assert with_it[1] == without[1]


@budget(100)
@given(st.lists(st.one_of(safe_text, st.integers(1, 4)), max_size=10))
def test_real_time_status_is_answered_off_line_too(parts: list[bytes | int]) -> None:
    decoder = EscposDecoder(32)
    decoder.online = False  # cover open: the printer takes nothing but DLE EOT
    data = b"".join(p if isinstance(p, bytes) else b"\x10\x04" + bytes((p,)) for p in parts)
    asked = [StatusRequest(p) for p in parts if isinstance(p, int)]
    assert decoder.feed(data) == asked
    assert decoder.pending == b""


@pytest.mark.parametrize("n", [0, 5, 255])
def test_an_unknown_status_query_is_not_answered(n: int) -> None:
    assert EscposDecoder(32).feed(b"\x10\x04" + bytes((n,))) == []
