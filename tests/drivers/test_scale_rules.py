"""What the driver decides from a run of answers: stability and zero/tare outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.drivers.scale_frames import ScaleAnswer
from firmware_app.drivers.scale_rules import CommandWatch, Steadiness
from firmware_app.lane.events import ScaleCommandResult
from firmware_app.lane.weighing import (
    ScaleCommand,
    ScaleDone,
    ScaleReading,
    ScaleRefusal,
    ScaleStatus,
)

MOVING = ScaleAnswer(ScaleReading(ScaleStatus.MOVING))
OVER = ScaleAnswer(ScaleReading(ScaleStatus.OVER))
UNDER = ScaleAnswer(ScaleReading(ScaleStatus.UNDER))
UNDER_NET = ScaleAnswer(ScaleReading(ScaleStatus.UNDER), net=True)
ERROR = ScaleAnswer.error("garbled")
ZERO, TARE, CLEAR = ScaleCommand.ZERO, ScaleCommand.TARE, ScaleCommand.CLEAR_TARE


def weight(grams: int, *, net: bool = False) -> ScaleAnswer:
    return ScaleAnswer(ScaleReading.stable(grams), net=net)


# --- stability ---------------------------------------------------------------------


def test_three_equal_answers_make_a_stable_weight() -> None:
    steady = Steadiness(3)
    answers = [weight(1000), weight(1005), weight(1010), weight(1010), weight(1010), weight(1010)]
    got = [steady.reading(a) for a in answers]
    moving = ScaleReading(ScaleStatus.MOVING)
    assert got == [moving] * 4 + [ScaleReading.stable(1010)] * 2


def test_motion_or_silence_starts_the_count_again() -> None:
    steady = Steadiness(2)
    assert steady.reading(weight(500)).status is ScaleStatus.MOVING
    assert steady.reading(MOVING).status is ScaleStatus.MOVING
    assert steady.reading(weight(500)).status is ScaleStatus.MOVING
    assert steady.reading(weight(500)) == ScaleReading.stable(500)
    steady.reset()
    assert steady.reading(weight(500)).status is ScaleStatus.MOVING


def test_a_net_weight_is_not_the_same_as_a_gross_one() -> None:
    steady = Steadiness(2)
    steady.reading(weight(0))
    assert steady.reading(weight(0, net=True)).status is ScaleStatus.MOVING


def test_one_reading_trusts_the_scales_own_flag() -> None:
    steady = Steadiness(1)
    assert [steady.reading(weight(g)) for g in (1, 2, 3)] == [
        ScaleReading.stable(g) for g in (1, 2, 3)
    ]
    assert steady.reading(OVER) == OVER.reading


answer_strategy = st.one_of(
    st.builds(weight, st.integers(min_value=0, max_value=3), net=st.booleans()),
    st.sampled_from([MOVING, OVER, UNDER, ERROR]),
)


@given(st.integers(min_value=1, max_value=4), st.lists(answer_strategy, max_size=30))
def test_stable_only_after_n_equal_no_motion_answers(
    needed: int, answers: list[ScaleAnswer]
) -> None:
    steady = Steadiness(needed)
    for i, answer in enumerate(answers):
        got = steady.reading(answer)
        if answer.reading.status is not ScaleStatus.STABLE:
            assert got == answer.reading
            continue
        tail = answers[max(0, i - needed + 1) : i + 1]
        settled = len(tail) == needed and all(a == answer for a in tail)
        assert got == (answer.reading if settled else ScaleReading(ScaleStatus.MOVING))


# --- zero and tare outcomes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "before", "after", "detail"),
    [
        (ZERO, weight(800), weight(0), "zeroed"),
        (ZERO, UNDER, weight(0), "zeroed"),
        (ZERO, weight(5000), weight(5000), "zero refused: outside zero range"),
        (ZERO, UNDER, UNDER, "zero refused: outside zero range"),
        (ZERO, MOVING, MOVING, "zero refused: moving"),
        (ZERO, OVER, OVER, "zero refused: over capacity"),
        (ZERO, weight(200, net=True), weight(200, net=True), "zero refused: tare on"),
        (ZERO, UNDER_NET, UNDER_NET, "zero refused: tare on"),
        (ZERO, weight(0, net=True), weight(0, net=True), "zero refused: tare on"),
        (ZERO, ERROR, ERROR, "zero refused: scale error"),
        (TARE, weight(250), weight(0, net=True), "tared"),
        (TARE, UNDER_NET, weight(0), "tare cleared"),  # SCP-01: tare on an empty platter
        (TARE, weight(0), weight(0), "tare refused: nothing on the scale"),
        (TARE, weight(250), weight(250), "tare refused: zero the empty scale first"),
        (TARE, weight(250, net=True), weight(250, net=True), "tare refused: tare on"),
        (TARE, MOVING, MOVING, "tare refused: moving"),
        (TARE, UNDER, UNDER, "tare refused: below zero"),
        (CLEAR, weight(0, net=True), weight(250), "tare cleared"),
        (CLEAR, UNDER_NET, UNDER, "tare cleared"),
        (CLEAR, weight(0, net=True), weight(0, net=True), "clear tare refused: tare kept"),
        (CLEAR, ERROR, ERROR, "clear tare refused: scale error"),
    ],
)
def test_command_outcomes(
    command: ScaleCommand, before: ScaleAnswer, after: ScaleAnswer, detail: str
) -> None:
    watch = CommandWatch(window_s=0.5)
    watch.sent(command, before, now=10.0)
    result = watch.observe(after, now=10.0) or watch.observe(after, now=10.5)
    assert result is not None and result.text == detail
    assert (result.done is not None) == (" refused: " not in detail)
    assert not watch.busy


def test_an_obeyed_command_is_seen_at_once_a_refusal_after_the_window() -> None:
    watch = CommandWatch(window_s=0.5)
    watch.sent(ZERO, weight(800), now=10.0)
    assert watch.observe(weight(800), now=10.2) is None  # the scale may still be at it
    assert watch.busy
    assert watch.observe(weight(0), now=10.3) == ScaleCommandResult.obeyed(ZERO, ScaleDone.ZEROED)
    watch.sent(ZERO, weight(800), now=20.0)
    assert watch.observe(MOVING, now=20.1) is None
    # The reason: how the scale was when it got it.
    assert watch.observe(weight(800), now=20.6) == ScaleCommandResult.refused(
        ZERO, ScaleRefusal.MOVING
    )


def test_nothing_to_judge_when_idle_and_a_dropped_command_is_forgotten() -> None:
    watch = CommandWatch(window_s=0.5)
    assert watch.observe(weight(0), now=1.0) is None
    assert watch.drop() is None
    watch.sent(TARE, weight(100), now=1.0)
    assert watch.drop() is TARE
    assert watch.observe(weight(0, net=True), now=1.1) is None
    assert watch.refused_by_scale() is None


def test_a_command_the_scale_does_not_know() -> None:
    watch = CommandWatch(window_s=0.5)
    watch.sent(TARE, weight(100), now=1.0)
    assert watch.refused_by_scale() == ScaleCommandResult.refused(TARE, ScaleRefusal.UNKNOWN)
    assert not watch.busy
