"""Zero and tare on the 8217: the simulated scale keeps the scale's rules (byte for
byte), and the driver tells the lane whether the scale obeyed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial

from firmware_app.config import ScaleConfig
from firmware_app.drivers.scale import SerialScale
from firmware_app.lane.events import ScaleCommandResult, ScaleUpdate
from firmware_app.lane.weighing import ScaleCommand, ScaleDone, ScaleReading, ScaleStatus
from hw_sim.scale import SimulatedScale
from tests.drivers.test_scale import Recorder, stable
from tests.waiting import wait_until

UNDER = ScaleUpdate(ScaleReading(ScaleStatus.UNDER))


@pytest.fixture
def sim() -> Iterator[SimulatedScale]:
    with SimulatedScale() as scale:
        yield scale


# --- the simulated 8217 keeps the rules -------------------------------------------------


@pytest.fixture
def line(sim: SimulatedScale) -> Iterator[serial.Serial]:
    with serial.Serial(sim.port, 9600, timeout=1.0) as port:
        yield port


def weigh(line: serial.Serial, *commands: bytes) -> bytes:
    """Send ``commands`` (never answered), then ``W``; the answer."""
    line.write(b"".join(commands) + b"W")
    return bytes(line.read_until(b"\r"))


def test_zero_works_within_the_zero_range_only(sim: SimulatedScale, line: serial.Serial) -> None:
    sim.set_weight(1500)  # within 2 % of capacity
    assert weigh(line, b"Z") == b"\x0200.000\r"
    sim.set_weight(3500)
    assert weigh(line) == b"\x0202.000\r"  # the new zero holds
    assert weigh(line, b"Z") == b"\x0202.000\r"  # 3.5 kg from the calibrated zero: refused
    sim.set_weight(0)  # lifted: below the zero the scale keeps
    assert weigh(line) == b"\x02?D\r"
    assert weigh(line, b"Z") == b"\x0200.000\r"  # a small underload is zeroed
    sim.set_weight(3500)
    assert weigh(line) == b"\x0203.500\r"


def test_zero_is_refused_while_moving(sim: SimulatedScale, line: serial.Serial) -> None:
    sim.set_weight(500)
    sim.set_motion()
    assert weigh(line, b"Z") == b"\x02?A\r"
    sim.set_weight(500)
    assert weigh(line) == b"\x0200.500\r"  # a refused zero leaves the reading as it was


def test_tare_needs_gross_zero_then_a_stable_load(sim: SimulatedScale, line: serial.Serial) -> None:
    assert weigh(line, b"T") == b"\x0200.000\r"  # nothing to tare
    sim.set_weight(250)
    sim.set_motion()
    assert weigh(line, b"T") == b"\x02?A\r"  # moving
    sim.set_weight(250)
    assert weigh(line, b"T") == b"\x0200.000N\r"  # net from now on
    sim.set_weight(1250)
    assert weigh(line) == b"\x0201.000N\r"
    assert weigh(line, b"Z") == b"\x0201.000N\r"  # no zero with a tare on
    assert weigh(line, b"T") == b"\x0201.000N\r"  # no gross zero since the last tare
    sim.set_motion()
    assert weigh(line) == b"\x02?a\r"  # moving, net (bit 5)
    sim.set_weight(0)  # the container is lifted
    assert weigh(line) == b"\x02?d\r"  # below zero, net
    assert weigh(line, b"C") == b"\x0200.000\r"
    sim.set_weight(700)
    assert weigh(line, b"T") == b"\x0200.000N\r"  # gross zero was seen again
    assert weigh(line, b"C") == b"\x0200.700\r"
    assert weigh(line, b"T") == b"\x0200.700\r"  # ... but not since that tare


def test_commands_do_nothing_while_the_cable_is_out(
    sim: SimulatedScale, line: serial.Serial
) -> None:
    sim.set_weight(900)
    sim.unplug()
    line.write(b"Z")
    wait_until(lambda: sim.received.endswith(b"Z"))
    sim.plug()
    assert weigh(line) == b"\x0200.900\r"


# --- the driver reports what the scale did ------------------------------------------------


@pytest.fixture
def started(sim: SimulatedScale) -> Iterator[tuple[SerialScale, Recorder]]:
    recorder = Recorder()
    config = ScaleConfig(port=sim.port, poll_ms=50, timeout_ms=150)
    with SerialScale(config, reopen_s=0.05, result_window_s=0.2) as scale:
        scale.start(recorder)
        recorder.wait_event(stable(0, "00.000"))
        yield scale, recorder


def result(recorder: Recorder, detail: str) -> None:
    recorder.wait_for(lambda _: detail in recorder.results())


def test_zeroed(started: tuple[SerialScale, Recorder], sim: SimulatedScale) -> None:
    scale, recorder = started
    sim.set_weight(800)
    recorder.wait_event(stable(800, "00.800"))
    scale.zero()
    result(recorder, "zeroed")
    assert recorder.events[-2:] == [
        stable(0, "00.000"),
        ScaleCommandResult.obeyed(ScaleCommand.ZERO, ScaleDone.ZEROED),
    ]
    assert recorder.states() == ["ok"] and recorder.results() == ["zeroed"]


@pytest.mark.parametrize(
    ("setup", "detail"),
    [
        (lambda sim: sim.set_weight(5000), "zero refused: outside zero range"),
        (lambda sim: sim.set_motion(), "zero refused: moving"),
        (lambda sim: sim.set_over(), "zero refused: over capacity"),
    ],
)
def test_zero_refused(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale, setup: object, detail: str
) -> None:
    scale, recorder = started
    setup(sim)  # type: ignore[operator]
    recorder.wait_for(lambda events: events[-1] != stable(0, "00.000"))
    before = recorder.readings()[-1]
    scale.zero()
    result(recorder, detail)
    assert recorder.readings()[-1] == before  # nothing changed on the scale
    assert recorder.results() == [detail]


def test_tared_then_zero_refused_then_cleared(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale
) -> None:
    scale, recorder = started
    sim.set_weight(250)
    recorder.wait_event(stable(250, "00.250"))
    scale.tare()
    result(recorder, "tared")
    sim.set_weight(1250)
    recorder.wait_event(stable(1000, "01.000"))  # the net weight, what the lane sells
    scale.zero()
    result(recorder, "zero refused: tare on")
    scale.clear_tare()
    result(recorder, "tare cleared")
    recorder.wait_event(stable(1250, "01.250"))
    scale.tare()
    result(recorder, "tare refused: zero the empty scale first")
    assert recorder.results() == [
        "tared",
        "zero refused: tare on",
        "tare cleared",
        "tare refused: zero the empty scale first",
    ]
    assert sim.received.replace(b"W", b"") == b"TZCT"


def test_commands_wait_for_the_last_outcome(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale
) -> None:
    scale, recorder = started
    sim.set_weight(400)
    recorder.wait_event(stable(400, "00.400"))
    scale.tare()
    scale.zero()  # pressed at once: judged after the tare, each on its own
    recorder.wait_for(lambda _: len(recorder.results()) == 2)
    assert recorder.results() == ["tared", "zero refused: tare on"]
    received = sim.received
    assert received.index(b"Z") > received.index(b"T") + 1  # a weighing in between


def test_a_silent_scale_gives_no_result(
    started: tuple[SerialScale, Recorder], sim: SimulatedScale
) -> None:
    scale, recorder = started
    sim.unplug()
    scale.zero()
    recorder.wait_for(lambda _: recorder.states()[-1:] == ["silent"])
    sim.plug()
    recorder.wait_for(lambda _: recorder.states()[-1:] == ["ok"])
    seen = sim.answered
    wait_until(lambda: sim.answered >= seen + 3)
    assert recorder.results() == []  # the zero went out unheard; silent says why
