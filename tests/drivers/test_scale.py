"""The weighing scale: the 8217 parser and framing, and the driver against a simulated
8217 on a pseudo-terminal (real pyserial, real bytes)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import ScaleConfig
from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.scale import SerialScale
from firmware_app.drivers.scale_protocols import TOLEDO_8217, parse_8217, read_8217, take_frame
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event, ScaleCommandResult, ScaleUpdate
from firmware_app.lane.weighing import ScaleReading, ScaleStatus
from hw_sim.scale import SimulatedScale
from tests.waiting import wait_until

WAIT_S = 5.0  # only what must happen is waited for: a loaded machine may take seconds

# --- the 8217 parser ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b"\x0201.235\r", ScaleReading(ScaleStatus.STABLE, 1235, "01.235")),
        (b"\x0201.235N\r", ScaleReading(ScaleStatus.STABLE, 1235, "01.235")),  # net
        (b"\x0200.000\r", ScaleReading(ScaleStatus.STABLE, 0, "00.000")),
        (b"\x0299.999\r", ScaleReading(ScaleStatus.STABLE, 99999, "99.999")),
        (b"\x02 0.532\r", ScaleReading(ScaleStatus.STABLE, 532, "0.532")),  # padded
        (b"\x02?A\r", ScaleReading(ScaleStatus.MOVING)),
        (b"\x02?Q\r", ScaleReading(ScaleStatus.MOVING)),  # motion, centre of zero
        (b"\x02?B\r", ScaleReading(ScaleStatus.OVER)),
        (b"\x02?C\r", ScaleReading(ScaleStatus.OVER)),  # moving overload
        (b"\x02?D\r", ScaleReading(ScaleStatus.UNDER)),
    ],
)
def test_8217_answers(frame: bytes, expected: ScaleReading) -> None:
    assert parse_8217(frame) == expected


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"hello",  # garbage
        b"\x02",
        b"\x0201.2",  # truncated: no CR
        b"\x0201.235",  # truncated: no CR
        b"01.235\r",  # no STX
        b"\x02\r",  # empty
        b"\x0201.23\r",  # two decimals
        b"\x020a.235\r",  # bad digit
        b"\x021,235\r",  # comma
        b"\x02-1.235\r",  # sign
        b"\x021235\r",  # no point
        b"\x0201.235X\r",  # unknown suffix
        b"\x0201.235N\r\r",
        b"\x02\xd9\xa3.\xd9\xa3\xd9\xa3\xd9\xa3\r",  # Arabic-Indic digits
        b"\x02?\r",  # no status byte
        b"\x02?AB\r",  # two status bytes
        b"\x02?@\r",  # status with no reason
        b"\x02?H\r",  # outside zero-capture only
        b"\x02?\x01\r",  # bit 6 not set
        b"\x02?\xc1\r",  # bit 7 set
    ],
)
def test_8217_unreadable_answers_are_errors(frame: bytes) -> None:
    assert parse_8217(frame) == ScaleReading(ScaleStatus.ERROR)


def test_8217_logs_why_an_answer_is_unreadable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        parse_8217(b"\x02?@\r")
    assert "gives neither a weight nor a reason" in caplog.text


@pytest.mark.parametrize(
    ("frame", "net"),
    [
        (b"\x0201.235N\r", True),
        (b"\x0201.235\r", False),
        (b"\x02?a\r", True),  # moving, net (bit 5)
        (b"\x02?d\r", True),  # below zero, net: the container was lifted
        (b"\x02?D\r", False),
    ],
)
def test_8217_tells_a_net_weight(frame: bytes, net: bool) -> None:
    assert read_8217(frame).net is net
    assert read_8217(frame).reading == parse_8217(frame)


@given(st.integers(min_value=0, max_value=99_999), st.booleans())
def test_8217_weights_parse_back_exactly(grams: int, net: bool) -> None:
    text = f"{grams // 1000:02d}.{grams % 1000:03d}"
    frame = b"\x02" + text.encode() + (b"N" if net else b"") + b"\r"
    assert parse_8217(frame) == ScaleReading(ScaleStatus.STABLE, grams, text)


@given(st.binary(max_size=40))
def test_8217_parser_never_raises(frame: bytes) -> None:
    reading = parse_8217(frame)
    assert reading.grams is None or (reading.status is ScaleStatus.STABLE and reading.grams >= 0)


# --- framing ------------------------------------------------------------------------

no_stx = st.binary(max_size=20).map(lambda b: b.replace(b"\x02", b""))


@given(no_stx, st.integers(min_value=0, max_value=99_999), st.binary(max_size=20))
def test_noise_before_the_frame_is_dropped(noise: bytes, grams: int, after: bytes) -> None:
    frame = b"\x02" + f"{grams // 1000:02d}.{grams % 1000:03d}".encode() + b"\r"
    assert take_frame(noise + frame + after, TOLEDO_8217) == (frame, after)


@given(st.binary(max_size=80))
def test_framing_any_bytes(buffer: bytes) -> None:
    frame, rest = take_frame(buffer, TOLEDO_8217)
    assert len(rest) <= len(buffer)
    if frame is not None:
        assert frame.startswith(b"\x02") and frame.endswith(b"\r")
        assert len(frame) <= TOLEDO_8217.max_frame
        assert buffer.endswith(frame + rest)
    else:
        assert rest == b"" or rest.startswith(b"\x02")
        assert len(rest) <= TOLEDO_8217.max_frame and b"\r" not in rest[1:]


def test_framing_keeps_a_partial_frame_and_drops_an_overlong_one() -> None:
    assert take_frame(b"xx\x0201.2", TOLEDO_8217) == (None, b"\x0201.2")
    assert take_frame(b"\x02" + b"9" * 20, TOLEDO_8217) == (None, b"")
    assert take_frame(b"\x02" + b"9" * 20 + b"\x02?A\r", TOLEDO_8217) == (b"\x02?A\r", b"")


# --- the driver against the simulated scale -------------------------------------------


class Recorder:
    """The daemon's side of ``emit``: keeps every event, lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.times: list[float] = []  # time.monotonic() when each event arrived
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self.times.append(time.monotonic())
            self._changed.notify_all()

    def wait_for(self, wanted: Callable[[list[Event]], Any], timeout: float = WAIT_S) -> Any:
        with self._changed:
            result = self._changed.wait_for(lambda: wanted(self.events), timeout)
        assert result, f"timed out; events so far: {self.events}"
        return result

    def wait_event(self, event: Event) -> None:
        self.wait_for(lambda events: event in events)

    def readings(self) -> list[ScaleReading]:
        return [e.reading for e in self.events if isinstance(e, ScaleUpdate)]

    def states(self) -> list[str]:
        """Device state words, in order."""
        return [e.state for e in self.events if isinstance(e, DeviceState)]

    def results(self) -> list[str]:
        """Zero and tare results as the log says them (``zero refused: moving``), in order."""
        return [e.text for e in self.events if isinstance(e, ScaleCommandResult)]

    def at(self, event: Event) -> float:
        """When ``event`` first arrived."""
        with self._changed:
            return self.times[self.events.index(event)]


class ManualClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stable(grams: int, text: str) -> ScaleUpdate:
    return ScaleUpdate(ScaleReading(ScaleStatus.STABLE, grams, text))


def fast(port: str) -> ScaleConfig:
    return ScaleConfig(port=port, poll_ms=50, timeout_ms=150)


@pytest.fixture
def sim() -> Iterator[SimulatedScale]:
    with SimulatedScale() as scale:
        yield scale


@pytest.fixture
def started(sim: SimulatedScale) -> Iterator[tuple[SerialScale, Recorder]]:
    recorder = Recorder()
    with SerialScale(fast(sim.port), reopen_s=0.05) as scale:
        scale.start(recorder)
        recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
        yield scale, recorder


def test_stable_weight_arrives_in_exact_grams(sim: SimulatedScale) -> None:
    sim.set_weight(1235)
    recorder = Recorder()
    with SerialScale(fast(sim.port)) as scale:
        scale.start(recorder)
        recorder.wait_event(stable(1235, "01.235"))
    assert recorder.events[:2] == [DeviceState(Device.SCALE, StateWord.OK), stable(1235, "01.235")]


def test_the_port_is_opened_at_9600_7e1_exclusively(sim: SimulatedScale) -> None:
    # A Linux pseudo-terminal forces 8N1 whatever it is told, so the settings are
    # checked where the driver hands them to pyserial.
    opened: list[dict[str, Any]] = []

    def recording_serial(**kwargs: Any) -> serial.Serial:
        opened.append(kwargs)
        return serial.Serial(**kwargs)

    recorder = Recorder()
    with SerialScale(fast(sim.port), serial_factory=recording_serial) as scale:
        scale.start(recorder)
        recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
    settings = {k: opened[0][k] for k in ("port", "baudrate", "bytesize", "parity", "stopbits")}
    assert settings == {
        "port": sim.port,
        "baudrate": 9600,
        "bytesize": serial.SEVENBITS,
        "parity": serial.PARITY_EVEN,
        "stopbits": serial.STOPBITS_ONE,
    }
    assert opened[0]["exclusive"] is True


def test_empty_platter_is_a_stable_zero(started: Any, sim: SimulatedScale) -> None:
    started[1].wait_event(stable(0, "00.000"))


@pytest.mark.parametrize(
    ("verb", "status"),
    [
        ("set_motion", ScaleStatus.MOVING),
        ("set_over", ScaleStatus.OVER),
        ("set_under", ScaleStatus.UNDER),
    ],
)
def test_status_answers(started: Any, sim: SimulatedScale, verb: str, status: ScaleStatus) -> None:
    _, recorder = started
    getattr(sim, verb)()
    recorder.wait_event(ScaleUpdate(ScaleReading(status)))
    sim.set_weight(532)
    recorder.wait_event(stable(532, "00.532"))


def test_the_driver_writes_exactly_one_w_per_poll(sim: SimulatedScale) -> None:
    recorder = Recorder()
    with SerialScale(fast(sim.port)) as scale:
        scale.start(recorder)
        wait_until(lambda: sim.answered >= 4)
    time.sleep(0.06)  # a request still on the line would show up now
    assert sim.received == b"W" * sim.answered


def test_polls_are_paced_by_poll_ms(sim: SimulatedScale) -> None:
    with SerialScale(ScaleConfig(port=sim.port, poll_ms=100, timeout_ms=150)) as scale:
        scale.start(Recorder())
        wait_until(lambda: sim.answered >= 1)
        time.sleep(0.45)
        polls = sim.answered
    assert 3 <= polls <= 6  # not as fast as the line allows: about one per poll_ms


def test_zero_tare_and_clear_tare_send_single_bytes(started: Any, sim: SimulatedScale) -> None:
    scale, _ = started
    scale.zero()
    wait_until(lambda: b"Z" in sim.received)
    scale.tare()
    scale.clear_tare()
    wait_until(lambda: b"C" in sim.received)
    assert sim.received.replace(b"W", b"") == b"ZTC"


def test_noise_before_the_answer_is_skipped(started: Any, sim: SimulatedScale) -> None:
    _, recorder = started
    sim.set_weight(250)
    recorder.wait_event(stable(250, "00.250"))
    sim.add_noise(b"\x00\xff\r junk ")
    sim.set_weight(7500)
    recorder.wait_event(stable(7500, "07.500"))
    assert ScaleUpdate(ScaleReading(ScaleStatus.ERROR)) not in recorder.events


def test_unplugged_scale_goes_silent_and_recovers(started: Any, sim: SimulatedScale) -> None:
    _, recorder = started
    sim.set_weight(1000)
    recorder.wait_event(stable(1000, "01.000"))
    sim.unplug()
    recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.SILENT)))
    recorder.wait_for(lambda events: "silent" in [getattr(e, "state", "") for e in events])
    sim.plug()
    recorder.wait_for(lambda events: events[-1] == stable(1000, "01.000"))
    assert recorder.states() == ["ok", "silent", "ok"]


def test_an_unchanged_reading_is_sent_again_every_second(sim: SimulatedScale) -> None:
    clock, recorder = ManualClock(), Recorder()
    sim.set_weight(1500)
    with SerialScale(fast(sim.port), clock=clock) as scale:
        scale.start(recorder)
        recorder.wait_event(stable(1500, "01.500"))
        seen = sim.answered
        wait_until(lambda: sim.answered >= seen + 3)
        assert recorder.readings() == [stable(1500, "01.500").reading]
        clock.now += 1.0
        recorder.wait_for(lambda events: len(recorder.readings()) == 2)


def test_a_missing_port_is_retried_until_it_appears(tmp_path: Path, sim: SimulatedScale) -> None:
    link = tmp_path / "lane-scale"
    opens: list[str] = []

    def counting_serial(**kwargs: Any) -> serial.Serial:
        opens.append(kwargs["port"])
        return serial.Serial(**kwargs)

    recorder = Recorder()
    with SerialScale(fast(str(link)), serial_factory=counting_serial, reopen_s=0.05) as scale:
        scale.start(recorder)
        recorder.wait_for(lambda events: any(getattr(e, "state", "") == "missing" for e in events))
        wait_until(lambda: len(opens) >= 3)
        missing = [e for e in recorder.events if isinstance(e, DeviceState)]
        assert len(missing) == 1 and str(link) in missing[0].detail
        assert ScaleUpdate(ScaleReading(ScaleStatus.SILENT)) in recorder.events
        sim.set_weight(321)
        link.symlink_to(sim.port)  # the USB adapter is plugged in
        recorder.wait_event(stable(321, "00.321"))
    assert recorder.states() == ["missing", "ok"]


def test_a_port_that_goes_away_is_missing(started: Any, sim: SimulatedScale) -> None:
    _, recorder = started
    sim.close()  # the adapter is pulled: the pseudo-terminal disappears
    recorder.wait_event(ScaleUpdate(ScaleReading(ScaleStatus.SILENT)))
    recorder.wait_for(lambda events: recorder.states()[-1:] == ["missing"])
    assert recorder.states() == ["ok", "missing"]


def test_close_is_prompt_idempotent_and_releases_the_port(sim: SimulatedScale) -> None:
    scale = SerialScale(ScaleConfig(port=sim.port, poll_ms=5000, timeout_ms=5000))
    recorder = Recorder()
    scale.start(recorder)
    recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
    sim.unplug()  # the thread is now waiting for an answer that never comes
    time.sleep(0.05)
    began = time.monotonic()
    scale.close()
    assert time.monotonic() - began < 0.3
    scale.close()
    with serial.Serial(sim.port, exclusive=True):  # nobody holds the port any more
        pass
    with pytest.raises(DeviceError):
        scale.zero()
    with pytest.raises(DeviceError):
        scale.start(recorder)


def test_a_started_scale_cannot_start_twice(started: Any) -> None:
    scale, recorder = started
    with pytest.raises(DeviceError):
        scale.start(recorder)


def test_pty_passes_7e1_bytes_unchanged() -> None:
    master, slave = os.openpty()
    try:
        with serial.Serial(os.ttyname(slave), 9600, bytesize=7, parity="E", timeout=0.2) as port:
            os.write(master, b"\x0201.235\r")
            assert port.read_until(b"\r") == b"\x0201.235\r"
    finally:
        os.close(master)
        os.close(slave)
