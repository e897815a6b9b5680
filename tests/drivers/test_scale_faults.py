"""A scale that falls silent, an adapter that is pulled and plugged again, a weight that
settles, and how soon a reading reaches the lane."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from firmware_app.config import ScaleConfig
from firmware_app.drivers.scale import REOPEN_S, SerialScale
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, ScaleUpdate
from firmware_app.lane.weighing import ScaleReading, ScaleStatus
from firmware_app.reminders import Reminder
from hw_sim.scale import SimulatedScale
from tests.drivers.test_scale import Recorder, stable
from tests.waiting import wait_until

SILENT = ScaleUpdate(ScaleReading(ScaleStatus.SILENT))
MOVING = ScaleUpdate(ScaleReading(ScaleStatus.MOVING))
TEXT = {"8217": "00.321", "scp01": "0000.321"}


def state_event(recorder: Recorder, state: str) -> DeviceState:
    """The first device state event with ``state``, once it has come."""
    recorder.wait_for(lambda _: state in recorder.states(), timeout=3.0)
    return next(e for e in recorder.events if isinstance(e, DeviceState) and e.state == state)


# --- silent --------------------------------------------------------------------------------


def test_a_silent_scale_is_reported_within_two_seconds_and_recovers() -> None:
    with SimulatedScale() as sim:
        sim.set_weight(1000)
        recorder = Recorder()
        with SerialScale(ScaleConfig(port=sim.port)) as scale:  # the defaults: 200 / 500 ms
            scale.start(recorder)
            recorder.wait_event(stable(1000, "01.000"))
            pulled = time.monotonic()
            sim.unplug()
            silent = state_event(recorder, "silent")
            assert recorder.at(silent) - pulled < 2.0
            assert recorder.at(SILENT) - pulled < 2.0
            assert silent.detail == "no answer within 500 ms"
            sim.plug()
            recorder.wait_for(lambda events: events[-1] == stable(1000, "01.000"))
    assert recorder.states() == ["ok", "silent", "ok"]


# --- missing: the adapter is pulled, then plugged in again --------------------------------


@pytest.mark.parametrize("protocol", ["8217", "scp01"])
def test_a_pulled_adapter_is_missing_until_one_appears_at_the_same_path(
    tmp_path: Path, protocol: str
) -> None:
    link = tmp_path / "lane-scale"
    with SimulatedScale(protocol=protocol, link=link) as sim:
        assert sim.port == str(link) and link.is_symlink()
        recorder = Recorder()
        config = ScaleConfig(port=sim.port, protocol=protocol, poll_ms=50, timeout_ms=150)
        with SerialScale(config, reopen_s=0.05) as scale:
            scale.start(recorder)
            recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
            sim.pull_adapter()
            assert not link.exists() and not link.is_symlink()
            missing = state_event(recorder, "missing")
            assert str(link) in missing.detail
            recorder.wait_event(SILENT)
            sim.set_weight(321)
            sim.plug_adapter()
            assert link.is_symlink() and sim.port == str(link)
            recorder.wait_event(stable(321, TEXT[protocol]))
    assert recorder.states() == ["ok", "missing", "ok"]
    assert not link.is_symlink()  # closing the simulator pulls its adapter


def test_an_unplugged_cable_keeps_the_port(tmp_path: Path) -> None:
    link = tmp_path / "lane-scale"
    with SimulatedScale(link=link) as sim:
        sim.unplug()
        assert link.is_symlink()
        sim.plug_adapter()  # already plugged in: nothing changes
        target = link.resolve()
        sim.plug()
        assert link.resolve() == target


def test_a_link_never_replaces_a_file(tmp_path: Path) -> None:
    path = tmp_path / "lane-scale"
    path.write_text("not a link")
    with pytest.raises(FileExistsError):
        SimulatedScale(link=path)
    assert path.read_text() == "not a link"


# --- stability over several readings --------------------------------------------------------


def test_a_settling_weight_is_moving_until_three_equal_readings() -> None:
    with SimulatedScale() as sim:
        recorder = Recorder()
        config = ScaleConfig(port=sim.port, poll_ms=50, timeout_ms=150, stable_readings=3)
        with SerialScale(config) as scale:
            scale.start(recorder)
            recorder.wait_event(stable(0, "00.000"))
            assert recorder.readings()[0] == MOVING.reading  # two more zeros were needed
            start = len(recorder.events)
            first = sim.answered
            sim.settle(1000, 1005, 1010)  # each answer a new weight the scale calls still
            recorder.wait_event(stable(1010, "01.010"))
            after = [e for e in recorder.events[start:] if isinstance(e, ScaleUpdate)]
            assert after == [MOVING, stable(1010, "01.010")]
            assert sim.answered - first >= 5  # 1000, 1005, 1010, 1010, 1010


def test_with_one_reading_the_scales_own_flag_is_enough() -> None:
    with SimulatedScale() as sim:
        recorder = Recorder()
        with SerialScale(ScaleConfig(port=sim.port, poll_ms=50, timeout_ms=150)) as scale:
            scale.start(recorder)
            recorder.wait_event(stable(0, "00.000"))
            sim.settle(1000, 1005, 1010)
            recorder.wait_event(stable(1010, "01.010"))
    assert stable(1000, "01.000") in recorder.events and MOVING not in recorder.events


# --- latency: read to the terminator, never wait for silence --------------------------------


@pytest.mark.parametrize("protocol", ["8217", "scp01"])
def test_a_reading_arrives_at_once_after_the_answer(protocol: str) -> None:
    # With a timeout of four seconds, a driver waiting for the line to go quiet would
    # deliver each reading four seconds after the answer. The margins below are wide (a
    # loaded machine may take a while to schedule a thread) but far from those seconds.
    timeout_s = 4.0
    with SimulatedScale(protocol=protocol) as sim:
        recorder = Recorder()
        config = ScaleConfig(
            port=sim.port, protocol=protocol, poll_ms=200, timeout_ms=int(timeout_s * 1000)
        )
        with SerialScale(config) as scale:
            scale.start(recorder)
            recorder.wait_event(DeviceState(Device.SCALE, StateWord.OK))
            placed = time.monotonic()
            sim.set_weight(321)
            wanted = stable(321, TEXT[protocol])
            recorder.wait_event(wanted)
            arrived = recorder.at(wanted)
            answered = max(t for t in sim.answer_times if t <= arrived)
    assert arrived - answered < timeout_s / 4  # read up to the terminator, not to silence
    assert arrived - placed < timeout_s / 2  # at the next poll, not a timeout later


def test_polls_keep_their_period_while_answers_are_fast() -> None:
    with SimulatedScale() as sim:
        with SerialScale(ScaleConfig(port=sim.port, poll_ms=100, timeout_ms=1000)) as scale:
            scale.start(Recorder())
            wait_until(lambda: sim.answered >= 5)
        gaps = [b - a for a, b in zip(sim.answer_times, sim.answer_times[1:], strict=False)]
    assert min(gaps) > 0.08 and max(gaps) < 0.5  # one per poll_ms, not one per timeout


# --- the log of a lasting fault: once, then reminders further and further apart ----------


class ManualClock:
    """Monotonic seconds that move only when the test (or its port opener) says."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StampedLog(logging.Handler):
    """Keeps each record with the manual clock's time when it was logged."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(logging.DEBUG)
        self.clock = clock
        self.lines: list[tuple[float, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((self.clock.now, record.levelno, record.getMessage()))


@pytest.fixture
def scale_log() -> Iterator[Callable[[ManualClock], StampedLog]]:
    logger = logging.getLogger("firmware_app.drivers.scale")
    handlers: list[StampedLog] = []
    level = logger.level

    def attach(clock: ManualClock) -> StampedLog:
        handler = StampedLog(clock)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        handlers.append(handler)
        return handler

    yield attach
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_missing_scale_is_logged_once_then_at_growing_intervals(
    tmp_path: Path, scale_log: Callable[[ManualClock], StampedLog]
) -> None:
    clock = ManualClock()
    start = clock.now

    def open_port(**kw: object) -> serial.Serial:
        clock.now += REOPEN_S  # each try comes REOPEN_S after the last, as on a lane
        return serial.Serial(**kw)  # the real pyserial, on a port that is not there

    log = scale_log(clock)
    port = tmp_path / "lane-scale"
    with SerialScale(
        ScaleConfig(port=str(port)), serial_factory=open_port, clock=clock, reopen_s=0
    ) as scale:
        scale.start(Recorder())
        wait_until(lambda: clock.now >= start + 2 * 3600, "two hours of tries")
    lines = [(t - start - REOPEN_S, m) for t, level, m in log.lines if t <= start + 2 * 3600]
    # Was: a warning on each try, every 2 s (3,600 in these two hours, 43,200 a day).
    assert [t for t, _ in lines] == [0, 60, 180, 420, 900, 1860, 3780]
    first = f"scale missing: cannot open {port}: no such file or directory"
    assert lines[0][1] == first
    assert lines[1][1] == f"{first} (still, after 1 min)"
    assert lines[-1][1] == f"{first} (still, after 1 h 3 min)"


def test_the_reminder_tells_each_change_at_once() -> None:
    clock = ManualClock(0.0)
    logger = logging.getLogger("test.reminder")
    log = StampedLog(clock)
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    try:
        reminder = Reminder(logger, clock, first_s=60.0, max_s=3600.0)
        for _ in range(30):  # 30 s of the same fault: said once
            reminder.fault("scale missing: A")
            clock.now += 1.0
        reminder.fault("scale missing: B")  # another reason: said at once
        clock.now += 5.0
        reminder.clear("scale port open again")
        reminder.clear("scale port open again")  # once is enough
        reminder.fault("scale missing: B")  # gone again: said at once, the gaps start over
        clock.now += 60.0
        reminder.fault("scale missing: B")
    finally:
        logger.removeHandler(log)
    assert [(t, level, m) for t, level, m in log.lines] == [
        (0.0, logging.WARNING, "scale missing: A"),
        (30.0, logging.WARNING, "scale missing: B"),
        (35.0, logging.INFO, "scale port open again (after 5 s)"),
        (35.0, logging.WARNING, "scale missing: B"),
        (95.0, logging.WARNING, "scale missing: B (still, after 1 min)"),
    ]
