"""The clock's trust: NTP state from adjtimex, jumps seen by comparing wall and monotonic time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.app.clock import (
    CLOCK_JUMPED,
    CLOCK_OK,
    CLOCK_UNSYNCED,
    TIME_ERROR,
    ClockWatch,
    boottime,
    clock_state,
    ntp_synchronized,
)

WALL = 1_796_000_000.0  # 2026-11-28, seconds since the epoch


@pytest.mark.parametrize(
    ("state", "expected"),
    [(0, True), (1, True), (4, True), (TIME_ERROR, False), (-1, None)],
)
def test_the_kernel_clock_state_says_whether_ntp_keeps_the_time(
    state: int, expected: bool | None
) -> None:
    assert ntp_synchronized(adjtimex=lambda: state) is expected


def test_a_failing_adjtimex_means_unknown() -> None:
    def broken() -> int:
        raise OSError("not supported")

    assert ntp_synchronized(adjtimex=broken) is None


def test_the_real_call_answers_without_privileges() -> None:
    assert ntp_synchronized() in (True, False, None)


def test_boottime_never_goes_back() -> None:
    first = boottime()
    assert boottime() >= first


# --- jumps -------------------------------------------------------------------------------------


def test_clocks_moving_together_are_no_jump() -> None:
    watch = ClockWatch()
    assert watch.observe(WALL, 100.0) is None
    assert watch.observe(WALL + 60.0, 160.0) is None
    assert watch.observe(WALL + 61.5, 161.0) is None  # 0.5 s of slewing/drift: below 2 s
    assert watch.jumps == 0


def test_a_step_forward_is_a_jump() -> None:
    watch = ClockWatch()
    watch.observe(WALL, 100.0)
    jump = watch.observe(WALL + 3600.5, 100.5)
    assert jump is not None
    assert jump.seconds == pytest.approx(3600.0)
    assert str(jump) == "wall clock jumped 3600.0 s forward"
    assert (watch.jumps, watch.last_jump) == (1, jump)


def test_a_step_back_is_a_jump() -> None:
    watch = ClockWatch(threshold_s=2.0)
    watch.observe(WALL, 100.0)
    jump = watch.observe(WALL - 5.0, 101.0)
    assert jump is not None and jump.seconds == pytest.approx(-6.0)
    assert str(jump) == "wall clock jumped 6.0 s back"


def test_each_sample_is_compared_with_the_one_before() -> None:
    watch = ClockWatch()
    watch.observe(WALL, 0.0)
    assert watch.observe(WALL + 100, 1.0) is not None
    assert watch.observe(WALL + 101, 2.0) is None  # after the jump, time runs normally again


def test_a_jump_is_reported_for_the_hold_time() -> None:
    watch = ClockWatch(hold_s=600.0)
    watch.observe(WALL, 0.0)
    watch.observe(WALL + 30, 1.0)
    assert watch.jumped(1.0) and watch.jumped(600.9)
    assert not watch.jumped(601.0)


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold_s"):
        ClockWatch(threshold_s=0)


@given(
    start=st.floats(0, 4e9),
    steps=st.lists(st.tuples(st.floats(0, 3600), st.floats(-1.9, 1.9)), max_size=20),
)
def test_drift_within_the_threshold_is_never_a_jump(
    start: float, steps: list[tuple[float, float]]
) -> None:
    watch = ClockWatch(threshold_s=2.0)
    wall, mono = start, 0.0
    assert watch.observe(wall, mono) is None
    for elapsed, drift in steps:
        wall, mono = wall + elapsed + drift, mono + elapsed
        assert watch.observe(wall, mono) is None


# --- the status word ---------------------------------------------------------------------------


def test_the_status_word() -> None:
    watch = ClockWatch()
    assert clock_state(True, watch, 0.0) == CLOCK_OK
    assert clock_state(None, watch, 0.0) == CLOCK_OK  # unknown is not a fault
    assert clock_state(False, watch, 0.0) == CLOCK_UNSYNCED
    watch.observe(WALL, 10.0)
    watch.observe(WALL + 99, 11.0)
    assert clock_state(True, watch, 12.0) == CLOCK_JUMPED
    assert clock_state(False, watch, 12.0) == CLOCK_JUMPED  # the more urgent word
    assert clock_state(False, watch, 11.0 + watch.hold_s) == CLOCK_UNSYNCED
