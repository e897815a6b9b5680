"""Paid-in, paid-out and training mode at the keypad, as a table: steps in, message and
effects out; every refusal changes nothing but the message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.cash_movement import CashKind
from firmware_app.lane.effects import KickDrawer, RecordCashMovement, RecordEvent
from firmware_app.lane.messages import Msg
from firmware_app.lane.state import Mode
from tests.unit.till import Till

SIGNED_ON = ("signon",)
SUPERVISOR = ("supervisor",)
ONE_COLA = ("signon", "scan 6954767410388")
PAID_IN_ASKED = ("signon", "key 1 0 0 PAIDIN", "approve")
PAID_OUT_ASKED = ("supervisor", "key 5 0 PAIDOUT")

REFUSALS = {Msg.SALE_OPEN, Msg.NEEDS_ENTRY, Msg.BAD_ENTRY, Msg.CASH_TOO_LARGE, Msg.KEY_NOT_ALLOWED}

CASES = [
    # --- paid-in / paid-out
    ("PAIDIN asks a supervisor", SIGNED_ON, "key 1 0 0 PAIDIN", Msg.SUPERVISOR_ID, []),
    (
        "PAIDIN approved asks the reason",
        ("signon", "key 1 0 0 PAIDIN", "key 9 0 0 1 ENTER 9 9 9 9"),
        "key ENTER",
        Msg.PAID_IN_REASON,
        ["RecordEvent"],
    ),
    (
        "PAIDOUT by a supervisor asks the reason at once",
        SUPERVISOR,
        "key 5 0 PAIDOUT",
        Msg.PAID_OUT_REASON,
        ["RecordEvent"],
    ),
    (
        "reason chosen: stored, event, then drawer",
        PAID_IN_ASKED,
        "key 1 ENTER",
        Msg.PAID_IN_DONE,
        ["RecordCashMovement", "RecordEvent", "KickDrawer"],
    ),
    (
        "paid-out reason chosen",
        PAID_OUT_ASKED,
        "key 2 ENTER",
        Msg.PAID_OUT_DONE,
        ["RecordCashMovement", "RecordEvent", "KickDrawer"],
    ),
    ("no such reason", PAID_IN_ASKED, "key 7 ENTER", Msg.NO_SUCH_REASON, []),
    ("reason without a number", PAID_IN_ASKED, "key ENTER", Msg.NEEDS_ENTRY, []),
    ("DOT in a reason", PAID_IN_ASKED, "key DOT", Msg.KEY_NOT_ALLOWED, []),
    ("other key while choosing", PAID_IN_ASKED, "key CASH", Msg.KEY_NOT_ALLOWED, []),
    ("NO drops the movement", PAID_IN_ASKED, "key NO", Msg.CASH_DROPPED, []),
    ("CLEAR drops the movement", PAID_IN_ASKED, "key CLEAR", Msg.CASH_DROPPED, []),
    ("PAIDIN with a sale open", ONE_COLA, "key 1 0 PAIDIN", Msg.SALE_OPEN, []),
    ("PAIDIN without an amount", SIGNED_ON, "key PAIDIN", Msg.NEEDS_ENTRY, []),
    ("PAIDOUT zero", SIGNED_ON, "key 0 PAIDOUT", Msg.BAD_ENTRY, []),
    ("PAIDIN three decimals", SIGNED_ON, "key 1 DOT 0 0 5 PAIDIN", Msg.BAD_ENTRY, []),
    ("PAIDIN too large", SIGNED_ON, "key 5 0 0 0 0 PAIDIN", Msg.CASH_TOO_LARGE, []),
    ("PAIDIN signed off", (), "key 1 0 PAIDIN", Msg.SIGN_ON_FIRST, []),
]


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    till = Till().do(*before)
    verb, _, keys = step.partition(" ")
    if verb == "key" and " " in keys:
        keyed, _, last = keys.rpartition(" ")
        till.do(f"key {keyed}")
    else:
        keyed, last = "", keys
    before_last = till.state
    till.do(f"key {last}" if verb == "key" else step)
    assert till.message == message, till.state.message
    assert till.effect_types() == effects
    if message in REFUSALS:
        assert replace(till.state, message=None) == replace(before_last, message=None)


def test_a_paid_in_is_stored_with_amount_reason_and_approver_before_the_drawer_opens() -> None:
    till = Till().do(*PAID_IN_ASKED, "key 1 ENTER")
    stored, event, kick = till.effects
    assert isinstance(stored, RecordCashMovement) and isinstance(kick, KickDrawer)
    movement = stored.movement
    assert (movement.kind, movement.amount, movement.reason) == (CashKind.IN, 10000, "备用金 float")
    assert (movement.cashier, movement.supervisor) == ("1001", "9001")
    assert isinstance(event, RecordEvent) and event.event.type == "cash_in"
    details = dict(event.event.details)
    assert details["amount"] == "10000" and details["supervisor"] == "9001"
    assert details["movement"] == movement.id
    assert till.state.mode is Mode.READY and till.state.movement is None


def test_a_paid_out_event_is_cash_out() -> None:
    till = Till().do(*PAID_OUT_ASKED, "key 1 ENTER")
    event = till.effects[1]
    assert isinstance(event, RecordEvent) and event.event.type == "cash_out"
    assert dict(event.event.details)["reason"] == "缴款 pickup"


def test_the_reasons_are_numbered_on_screen() -> None:
    till = Till().do(*PAID_IN_ASKED)
    assert till.state.mode is Mode.CASH_REASON
    assert till.state.message is not None
    assert [c.render("en") for c in till.state.message.choices] == [
        "1 备用金 float",
        "2 找零补充 change",
    ]


def test_a_wrong_reason_number_keeps_the_question() -> None:
    till = Till().do(*PAID_IN_ASKED, "key 9 ENTER")
    assert till.state.mode is Mode.CASH_REASON and till.state.entry == ""
    assert till.state.message is not None and len(till.state.message.choices) == 2
    till.do("key 2 ENTER")
    assert till.message is Msg.PAID_IN_DONE


def test_a_failed_save_opens_no_drawer_and_keeps_the_question() -> None:
    till = Till().do(*PAID_IN_ASKED, "disk full", "key 1 ENTER")
    assert "KickDrawer" not in till.effect_types()
    assert till.state.mode is Mode.CASH_REASON and till.state.movement is not None
