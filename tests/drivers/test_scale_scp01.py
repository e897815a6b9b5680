"""NCI / Weigh-Tronix SCP-01: the parser and framing, the simulated scale's bytes, and
the driver against it on a pseudo-terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import ScaleConfig
from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.scale import SerialScale
from firmware_app.drivers.scale_protocols import (
    NCI_SCP01,
    ScaleAnswer,
    protocol_for,
    read_scp01,
    take_frame,
)
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, ScaleUpdate
from firmware_app.lane.weighing import ScaleReading, ScaleStatus
from hw_sim.scale import SimulatedScale
from tests.drivers.test_scale import Recorder
from tests.waiting import wait_until

STABLE = ScaleStatus.STABLE


def frame(weight: bytes, status: bytes) -> bytes:
    return b"\n" + weight + b"\r\n" + status + b"\r\x03"


def reading(answer: bytes) -> ScaleReading:
    return read_scp01(answer).reading


# --- the parser ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (frame(b"0001.235kg", b"00"), ScaleAnswer(ScaleReading(STABLE, 1235, "0001.235"))),
        (frame(b"0000.000kg", b"20"), ScaleAnswer(ScaleReading(STABLE, 0, "0000.000"))),
        (frame(b"0001.24kg", b"00"), ScaleAnswer(ScaleReading(STABLE, 1240, "0001.24"))),
        (frame(b"  12.5KG", b"00"), ScaleAnswer(ScaleReading(STABLE, 12500, "12.5"))),
        (frame(b"0003kg", b"00"), ScaleAnswer(ScaleReading(STABLE, 3000, "0003"))),
        (frame(b"0001.235kg", b"10"), ScaleAnswer(ScaleReading(ScaleStatus.MOVING))),
        (frame(b"^^^^.^^^kg", b"02"), ScaleAnswer(ScaleReading(ScaleStatus.OVER))),
        (frame(b"^^^^.^^^kg", b"12"), ScaleAnswer(ScaleReading(ScaleStatus.OVER))),  # moving
        (frame(b"-0000.120kg", b"01"), ScaleAnswer(ScaleReading(ScaleStatus.UNDER))),
        (frame(b"-0000.120kg", b"00"), ScaleAnswer(ScaleReading(ScaleStatus.UNDER))),  # sign
        (frame(b"-0000.000kg", b"20"), ScaleAnswer(ScaleReading(STABLE, 0, "0000.000"))),
        # A third status byte (byte 2 says it follows) with the net bit: a tare is on.
        (frame(b"0000.500kg", b"0p4"), ScaleAnswer(ScaleReading(STABLE, 500, "0000.500"), True)),
        (frame(b"0000.500kg", b"0p0"), ScaleAnswer(ScaleReading(STABLE, 500, "0000.500"))),
        (frame(b"0000.500kg", b"0pp0"), ScaleAnswer(ScaleReading(STABLE, 500, "0000.500"))),
        # Status alone, the answer to S, Z and T.
        (b"\n10\r\x03", ScaleAnswer(ScaleReading(ScaleStatus.MOVING))),
        (b"\n02\r\x03", ScaleAnswer(ScaleReading(ScaleStatus.OVER))),
        (b"\n1p4\r\x03", ScaleAnswer(ScaleReading(ScaleStatus.MOVING), True)),
        # Line noise (with its own LF and CR) before the answer.
        (
            b"\n\x00junk\r" + frame(b"0001.235kg", b"00"),
            ScaleAnswer(ScaleReading(STABLE, 1235, "0001.235")),
        ),
    ],
)
def test_scp01_answers(answer: bytes, expected: ScaleAnswer) -> None:
    assert read_scp01(answer) == expected


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (frame(b"0002.72lb", b"00"), "the scale weighs in lb: set it to kg"),
        (frame(b"0043.6oz", b"00"), "the scale weighs in oz: set it to kg"),
        (frame(b"02lb 11.6oz", b"00"), "the scale weighs in oz: set it to kg"),
        (frame(b"1235g", b"00"), "the scale weighs in g: set it to kg"),
        (frame(b"0002.72lb", b"10"), "the scale weighs in lb: set it to kg"),  # even moving
        (frame(b"0001.235kg", b"p0"), "bit 6 does not match"),  # byte 1 bit 6 is always 0
        (frame(b"0001.235kg", b"04"), "ROM error"),
        (frame(b"0001.235kg", b"4" + b"0"), "RAM error"),
        (frame(b"0001.235kg", b"80"), "EEPROM error"),
        (frame(b"0001.235kg", b"08"), "faulty calibration"),
        (frame(b"0001.235kg", b"0p8"), "initial-zero error"),
        (frame(b"0001.235kg", b"0p"), "bit 6 does not match"),  # a byte said to follow is missing
        (frame(b"0001.235kg", b"004"), "bit 6 does not match"),  # an unannounced third byte
        (frame(b"0001.235kg", b"0"), "expected 2 to 4 status bytes"),
        (frame(b"0001.235kg", b"0ppp0"), "expected 2 to 4 status bytes"),
        (frame(b"0001.235kg", b"\xb00"), "bits 4-5 set, bit 7 clear"),  # parity bit
        (frame(b"0001.235kg", b"\x000"), "bits 4-5 set, bit 7 clear"),
        (frame(b"0001.235", b"00"), "no unit"),
        (frame(b"1,235kg", b"00"), "not a weight"),
        (frame(b"1.2345kg", b"00"), "not a weight"),
        (frame(b"kg", b"00"), "not a weight"),
        (frame(b"\xd9\xa1.000kg", b"00"), "not a weight"),  # Arabic-Indic digit
        (b"\n00\r\x03", "a status with no weight and no reason"),
        (b"\n0001.235kg\r\n00\r", "truncated"),
        (b"0001.235kg\r\x03", "not LF"),
        (b"", "truncated"),
        (b"\n\r\x03", "not LF"),
    ],
)
def test_scp01_unusable_answers_are_errors_with_a_reason(answer: bytes, reason: str) -> None:
    got = read_scp01(answer)
    assert got.reading == ScaleReading(ScaleStatus.ERROR)
    assert reason in got.reason


def test_an_unknown_command_answer_is_a_refusal() -> None:
    assert read_scp01(b"\n?\r\x03") == ScaleAnswer.error(
        "the scale does not know the command ('?')", refused=True
    )


def test_scp01_is_chosen_by_its_config_name() -> None:
    assert protocol_for("scp01") is NCI_SCP01
    assert NCI_SCP01.request == b"W\r" and NCI_SCP01.zero == b"Z\r" and NCI_SCP01.tare == b"T\r"
    assert NCI_SCP01.clear_tare == b""  # SCP-01 has no clear-tare command
    with pytest.raises(DeviceError, match="unknown scale protocol 'cas'"):
        protocol_for("cas")


@given(
    st.integers(min_value=0, max_value=999_999),
    st.integers(min_value=4, max_value=6),
    st.sampled_from([b"kg", b"KG", b"Kg"]),
)
def test_scp01_kilograms_parse_back_exactly(grams: int, width: int, unit: bytes) -> None:
    text = f"{grams // 1000:0{width}d}.{grams % 1000:03d}"
    got = read_scp01(frame(text.encode() + unit, b"00"))
    assert got == ScaleAnswer(ScaleReading(STABLE, grams, text))


@given(st.integers(min_value=0, max_value=99_999))
def test_scp01_two_decimals_parse_back_exactly(centi: int) -> None:
    text = f"{centi // 100:04d}.{centi % 100:02d}"
    assert reading(frame(text.encode() + b"kg", b"00")) == ScaleReading(STABLE, centi * 10, text)


status_byte = st.integers(min_value=0, max_value=15).map(lambda low: 0x30 | low)


@given(status_byte, status_byte, st.one_of(st.none(), status_byte))
def test_scp01_status_bits(first: int, second: int, third: int | None) -> None:
    raw = bytes([first, second | (0x40 if third is not None else 0)])
    raw += b"" if third is None else bytes([third])
    got = read_scp01(frame(b"0001.000kg", raw))
    faults = first & 0x0C or second & 0x0C or (third or 0) & 0x08
    if faults:
        expected = ScaleReading(ScaleStatus.ERROR)
    elif second & 0x02:
        expected = ScaleReading(ScaleStatus.OVER)
    elif second & 0x01:
        expected = ScaleReading(ScaleStatus.UNDER)
    elif first & 0x01:
        expected = ScaleReading(ScaleStatus.MOVING)
    else:
        expected = ScaleReading(STABLE, 1000, "0001.000")
    assert got.reading == expected
    assert got.net == (not faults and third is not None and bool(third & 0x04))


@given(st.binary(max_size=60))
def test_scp01_parser_never_raises(answer: bytes) -> None:
    got = read_scp01(answer)
    assert got.reading.grams is None or (got.reading.status is STABLE and got.reading.grams >= 0)
    assert (got.reading.status is ScaleStatus.ERROR) == bool(got.reason)


@given(st.binary(max_size=80))
def test_scp01_framing_any_bytes(buffer: bytes) -> None:
    found, rest = take_frame(buffer, NCI_SCP01)
    if found is not None:
        assert found.startswith(b"\n") and found.endswith(b"\x03")
        assert len(found) <= NCI_SCP01.max_frame and buffer.endswith(found + rest)
    else:
        assert rest == b"" or rest.startswith(b"\n")


# --- the simulated SCP-01 scale, byte for byte -----------------------------------------


@pytest.fixture
def sim() -> Iterator[SimulatedScale]:
    with SimulatedScale(protocol="scp01") as scale:
        yield scale


@pytest.fixture
def line(sim: SimulatedScale) -> Iterator[serial.Serial]:
    with serial.Serial(sim.port, 9600, timeout=1.0) as port:
        yield port


def ask(line: serial.Serial, command: bytes) -> bytes:
    line.write(command)
    return bytes(line.read_until(b"\x03"))


def test_simulated_scp01_answers(sim: SimulatedScale, line: serial.Serial) -> None:
    assert ask(line, b"W\r") == b"\n0000.000kg\r\n20\r\x03"  # at zero
    sim.set_weight(1235)
    assert ask(line, b"W\r") == b"\n0001.235kg\r\n00\r\x03"
    assert ask(line, b"S\r") == b"\n00\r\x03"
    sim.set_motion()
    assert ask(line, b"W\r") == b"\n0001.235kg\r\n10\r\x03"
    sim.set_over()
    assert ask(line, b"W\r") == b"\n^^^^.^^^kg\r\n02\r\x03"
    sim.set_under()
    assert ask(line, b"W\r") == b"\n-0001.235kg\r\n01\r\x03"
    assert ask(line, b"X\r") == b"\n?\r\x03"
    assert ask(line, b"H\r") == b"\n?\r\x03"  # not simulated
    assert sim.answered == 5  # weight requests only


def test_simulated_scp01_zero_and_tare(sim: SimulatedScale, line: serial.Serial) -> None:
    sim.set_weight(800)
    assert ask(line, b"Z\r") == b"\n20\r\x03"  # zeroed: at zero
    sim.set_weight(1300)
    assert ask(line, b"W\r") == b"\n0000.500kg\r\n00\r\x03"
    assert ask(line, b"T\r") == b"\n2p4\r\x03"  # net zero: third byte, net bit
    sim.set_weight(1500)
    assert ask(line, b"W\r") == b"\n0000.200kg\r\n0p4\r\x03"
    assert ask(line, b"Z\r") == b"\n0p4\r\x03"  # refused: a tare is on
    sim.set_weight(800)  # the container is lifted: net below zero
    assert ask(line, b"W\r") == b"\n-0000.500kg\r\n0q4\r\x03"
    sim.set_weight(1700)
    sim.set_motion()
    assert ask(line, b"T\r") == b"\n1p4\r\x03"  # refused: moving; the old tare stays
    sim.set_weight(1700)
    assert ask(line, b"W\r") == b"\n0000.400kg\r\n0p4\r\x03"


def test_simulated_scp01_tare_on_an_empty_platter_clears_it(
    sim: SimulatedScale, line: serial.Serial
) -> None:
    sim.set_weight(400)
    assert ask(line, b"T\r") == b"\n2p4\r\x03"
    sim.set_weight(0)
    assert ask(line, b"W\r") == b"\n-0000.400kg\r\n0q4\r\x03"
    assert ask(line, b"T\r") == b"\n20\r\x03"  # tare cleared: gross zero, two bytes again


def test_simulated_scp01_units(sim: SimulatedScale, line: serial.Serial) -> None:
    sim.set_weight(1000)
    sim.set_unit("lb")
    assert ask(line, b"W\r") == b"\n0002.20lb\r\n00\r\x03"
    sim.set_unit("oz")
    assert ask(line, b"W\r") == b"\n0035.27oz\r\n00\r\x03"
    with pytest.raises(ValueError):
        sim.set_unit("stone")
    with SimulatedScale() as toledo, pytest.raises(ValueError):
        toledo.set_unit("lb")


def test_simulated_scp01_takes_commands_split_across_writes(
    sim: SimulatedScale, line: serial.Serial
) -> None:
    line.write(b"W")
    line.timeout = 0.1
    assert line.read(1) == b""  # nothing until the CR
    line.timeout = 1.0
    assert ask(line, b"\r") == b"\n0000.000kg\r\n20\r\x03"
    assert ask(line, b"\x00" * 40 + b"\rS\r\n") == b"\n?\r\x03"  # noise, then S
    assert bytes(line.read_until(b"\x03")) == b"\n20\r\x03"


# --- the driver against the simulated SCP-01 scale ----------------------------------------


def fast(port: str, **changes: int) -> ScaleConfig:
    return ScaleConfig(port=port, protocol="scp01", poll_ms=50, timeout_ms=150, **changes)


@pytest.fixture
def started(sim: SimulatedScale) -> Iterator[tuple[SerialScale, Recorder]]:
    recorder = Recorder()
    with SerialScale(fast(sim.port), reopen_s=0.05, result_window_s=0.2) as scale:
        scale.start(recorder)
        recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
        yield scale, recorder


def stable(grams: int, text: str) -> ScaleUpdate:
    return ScaleUpdate(ScaleReading(STABLE, grams, text))


def test_driver_reads_scp01_weights_and_states(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale
) -> None:
    _, recorder = started
    sim.set_weight(1235)
    recorder.wait_event(stable(1235, "0001.235"))
    sim.set_motion()
    recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.MOVING)))
    sim.set_over()
    recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.OVER)))
    sim.set_weight(0)
    recorder.wait_event(stable(0, "0000.000"))
    assert set(sim.received.split(b"\r")) == {b"W", b""}  # "W" CR, nothing else
    assert recorder.states() == ["ok"]


def test_driver_zero_and_tare_on_scp01(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale
) -> None:
    scale, recorder = started
    sim.set_weight(600)
    recorder.wait_event(stable(600, "0000.600"))
    scale.zero()
    recorder.wait_for(lambda _: recorder.results() == ["zeroed"])
    recorder.wait_event(stable(0, "0000.000"))
    sim.set_weight(1000)
    recorder.wait_event(stable(400, "0000.400"))
    scale.tare()
    recorder.wait_for(lambda _: recorder.results()[-1:] == ["tared"])
    scale.zero()
    recorder.wait_for(lambda _: recorder.results()[-1:] == ["zero refused: tare on"])
    sim.set_weight(600)  # the container is lifted
    recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.UNDER)))
    scale.tare()
    recorder.wait_for(lambda _: recorder.results()[-1:] == ["tare cleared"])
    assert recorder.results() == ["zeroed", "tared", "zero refused: tare on", "tare cleared"]
    assert sim.received.count(b"Z\r") == 2 and sim.received.count(b"T\r") == 2
    with pytest.raises(DeviceError, match="no clear tare command"):
        scale.clear_tare()


def test_a_scale_set_to_pounds_is_an_error_logged_once(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale, caplog: pytest.LogCaptureFixture
) -> None:
    _, recorder = started
    with caplog.at_level(logging.WARNING):
        sim.set_unit("lb")
        recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.ERROR)))
        seen = sim.answered
        wait_until(lambda: sim.answered >= seen + 3)
    assert caplog.text.count("the scale weighs in lb: set it to kg") == 1
    assert recorder.states() == ["ok"]  # it answers: a setting to fix, not a dead scale
    sim.set_unit("kg")
    recorder.wait_for(lambda events: events[-1] == stable(0, "0000.000"))
