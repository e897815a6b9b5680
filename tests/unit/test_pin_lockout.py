"""Wrong PINs lock an id, with time passing on the till's clock (no sleeps): five in a
row lock it for the configured time, sign-on and approval alike, unknown ids too; the
lane says how long is left; a right PIN starts the count again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firmware_app.lane.effects import RecordEvent, RecordPinFailure
from firmware_app.lane.messages import Msg
from firmware_app.lane.rules import ApprovalRules
from firmware_app.lane.state import Mode
from tests.unit.till import Till

WRONG = "key 1 0 0 1 SIGNON 1 1 1 1 ENTER"
RIGHT = "key 1 0 0 1 SIGNON 1 2 3 4 ENTER"


def event_types(till: Till) -> list[str]:
    return [e.event.type for e in till.effects if isinstance(e, RecordEvent)]


def shown(till: Till) -> str:
    assert till.state.message is not None
    return till.state.message.render("en")


def test_five_wrong_pins_lock_the_id_and_say_for_how_long() -> None:
    till = Till()
    for n in range(1, 5):
        till.do(WRONG)
        assert till.message is Msg.WRONG_PIN
        assert event_types(till) == ["pin_failed"]
        assert dict(till.effects[1].event.details)["failures"] == str(n)  # type: ignore[union-attr]
    till.do(WRONG)
    assert shown(till) == "1001 locked for 15 min"
    assert event_types(till) == ["pin_failed", "locked"]
    failure = till.effects[0]
    assert isinstance(failure, RecordPinFailure)
    assert failure.failures == 5 and failure.locked_until == till.now + timedelta(minutes=15)
    locked = dict(till.effects[2].event.details)  # type: ignore[union-attr]
    assert locked == {"cashier": "1001", "until": "2026-11-28T09:15:00.000+08:00", "minutes": "15"}


def test_a_locked_id_is_refused_at_signon_with_the_minutes_left_then_unlocked() -> None:
    till = Till().do(*[WRONG] * 5)
    till.do("wait 60", "key 1 0 0 1 SIGNON")
    assert shown(till) == "1001 locked for 14 min"
    assert till.state.mode is Mode.SIGNED_OFF and till.effects == []
    till.do("wait 779")  # 13 min 59 s in all: a part of a minute counts as a minute
    till.do("key 1 0 0 1 SIGNON")
    assert shown(till) == "1001 locked for 2 min"
    till.do("wait 60")
    till.do("key 1 0 0 1 SIGNON")
    assert shown(till) == "1001 locked for 1 min"
    till.do("wait 1", RIGHT)
    assert till.message is Msg.SIGNED_ON
    assert till.effect_types()[0] == "ClearPinFailures"


def test_the_right_pin_during_a_lock_is_not_even_checked() -> None:
    till = Till().do(*[WRONG] * 5, "wait 600")
    till.do("key 1 0 0 1 SIGNON")
    assert shown(till) == "1001 locked for 5 min"
    # Keyed anyway while the message shows: SIGNON is refused, so the PIN never counts.
    till.do("key 1 2 3 4 ENTER")
    assert till.state.cashier is None
    assert not any(isinstance(e, RecordPinFailure) for e in till.effects)


def test_after_a_lock_ends_a_wrong_pin_counts_from_one_again() -> None:
    till = Till().do(*[WRONG] * 5, "wait 900", WRONG)
    assert till.message is Msg.WRONG_PIN
    failure = till.effects[0]
    assert isinstance(failure, RecordPinFailure) and failure.failures == 1
    assert failure.locked_until is None


def test_a_right_pin_resets_the_count() -> None:
    till = Till().do(*[WRONG] * 4, RIGHT)
    assert till.message is Msg.SIGNED_ON
    assert till.effect_types() == ["ClearPinFailures", "SaveSession", "RecordEvent"]
    till.do("key SIGNOFF", *[WRONG] * 4)
    assert till.message is Msg.WRONG_PIN  # four again: not locked
    till.do(RIGHT)
    assert till.message is Msg.SIGNED_ON


def test_a_right_pin_with_nothing_to_reset_writes_nothing_more() -> None:
    till = Till().do(RIGHT)
    assert till.effect_types() == ["SaveSession", "RecordEvent"]


def test_unknown_ids_are_counted_and_locked_like_known_ones() -> None:
    till = Till().do(*["key 5 5 5 5 SIGNON 1 2 3 4 ENTER"] * 5)
    assert shown(till) == "5555 locked for 15 min"
    till.do("key 5 5 5 5 SIGNON")
    assert shown(till) == "5555 locked for 15 min"


def test_other_ids_are_not_locked_by_one_being_locked() -> None:
    till = Till().do(*[WRONG] * 5, "key 9 0 0 1 SIGNON 9 9 9 9 ENTER")
    assert till.message is Msg.SIGNED_ON


def test_wrong_supervisor_pins_lock_the_supervisor_everywhere() -> None:
    till = Till().do("signon")
    for _ in range(4):
        till.do("key NOSALE 9 0 0 1 ENTER 1 1 1 1 ENTER")
        assert till.message is Msg.NOT_SUPERVISOR
        assert event_types(till) == ["pin_failed"]
    till.do("key NOSALE 9 0 0 1 ENTER 1 1 1 1 ENTER")
    assert shown(till) == "9001 locked for 15 min"
    assert event_types(till) == ["pin_failed", "locked"]
    till.do("wait 120", "key NOSALE 9 0 0 1 ENTER")
    assert shown(till) == "9001 locked for 13 min"
    assert till.state.mode is Mode.SUPERVISOR_ID  # another supervisor may still approve
    till.do("scan SV9001")  # the badge of a locked id does not approve either
    assert shown(till) == "9001 locked for 13 min"
    till.do("key 9 0 0 2 ENTER 8 8 8 8 ENTER")
    assert till.message is Msg.DRAWER_OPENED
    till.do("key SIGNOFF", "key 9 0 0 1 SIGNON")
    assert shown(till) == "9001 locked for 13 min"


def test_the_approval_step_is_named_in_the_failure() -> None:
    till = Till().do("signon", "key NOSALE 9 0 0 1 ENTER 1 1 1 1 ENTER")
    pin_failed = next(e for e in till.effects if isinstance(e, RecordEvent))
    assert dict(pin_failed.event.details) == {
        "cashier": "9001",
        "step": "approval",
        "failures": "1",
    }


@pytest.mark.parametrize(("tries", "minutes"), [(3, 10), (5, 15), (10, 5)])
def test_configured_tries_and_lock_time(tries: int, minutes: int) -> None:
    from tests.unit.till import setup_with

    till = Till(setup=setup_with(approvals=ApprovalRules(pin_tries=tries, lockout_min=minutes)))
    till.do(*[WRONG] * (tries - 1))
    assert till.message is Msg.WRONG_PIN
    till.do(WRONG)
    assert shown(till) == f"1001 locked for {minutes} min"
    till.do(f"wait {minutes * 60}", RIGHT)
    assert till.message is Msg.SIGNED_ON


def test_guessing_every_four_digit_pin_takes_days() -> None:
    """The README's arithmetic: 10,000 PINs at ``pin_tries`` per lock."""
    rules = ApprovalRules()
    hours = 10_000 / rules.pin_tries * rules.lockout_min / 60
    assert hours == 500  # about 21 days with the defaults
    weakest = 10_000 / 10 * 5 / 60  # the config's bounds: at most 10 tries, at least 5 min
    assert weakest / 24 > 3
