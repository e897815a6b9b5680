"""Paid-in, paid-out and training mode at the keypad, as a table: steps in, message and
effects out; every refusal changes nothing but the message."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from firmware_app import config
from firmware_app.errors import ConfigError
from firmware_app.lane.cash_movement import CashKind
from firmware_app.lane.effects import (
    CommitSale,
    KickDrawer,
    PrintReceipt,
    RecordCashMovement,
    RecordEvent,
    SaveTraining,
)
from firmware_app.lane.messages import Msg
from firmware_app.lane.sale import FinishedSale
from firmware_app.lane.state import Mode
from firmware_app.lane.view import ScreenSetup, screen_view
from tests.unit.till import Till, check_path

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
    # --- training mode
    ("TRAINING asks a supervisor", SIGNED_ON, "key TRAINING", Msg.SUPERVISOR_ID, []),
    (
        "TRAINING approved",
        ("signon", "key TRAINING"),
        "approve",
        Msg.TRAINING_ON,
        ["RecordEvent", "SaveTraining", "RecordEvent"],
    ),
    (
        "TRAINING by a supervisor",
        SUPERVISOR,
        "key TRAINING",
        Msg.TRAINING_ON,
        ["RecordEvent", "SaveTraining", "RecordEvent"],
    ),
    ("TRAINING with a sale open", ONE_COLA, "key TRAINING", Msg.SALE_OPEN, []),
    (
        "TRAINING refused approval",  # another cashier's id and PIN: no supervisor
        ("signon", "key TRAINING"),
        "key 1 0 0 2 ENTER 2 2 2 2 ENTER",
        Msg.NOT_SUPERVISOR,
        ["RecordEvent"],
    ),
]


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    check_path(Till().do(*before), step, message, effects, REFUSALS)


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


def test_training_toggles_with_its_events_and_is_saved() -> None:
    till = Till().do("supervisor", "key TRAINING")
    assert till.state.training
    events = [e.event.type for e in till.effects if isinstance(e, RecordEvent)]
    assert events == ["approval", "training_on"]
    assert SaveTraining(True) in till.effects
    till.do("key TRAINING")
    assert not till.state.training
    assert [e.event.type for e in till.effects if isinstance(e, RecordEvent)][-1] == "training_off"
    assert SaveTraining(False) in till.effects


def sell_cola(till: Till) -> FinishedSale:
    till.do("scan 6954767410388", "key 1 0 CASH")
    commit = next(e for e in till.effects if isinstance(e, CommitSale))
    return commit.record


def test_a_training_sale_is_marked_has_no_stock_and_its_own_numbers() -> None:
    till = Till().do("supervisor")
    real = sell_cola(till)
    assert (real.receipt_no, real.training) == (1, False) and real.deltas
    till.do("key TRAINING")
    first, second = sell_cola(till), sell_cola(till)
    assert (first.training, first.receipt_no, first.deltas) == (True, 1, ())
    assert second.receipt_no == 2
    printed = next(e for e in till.effects if isinstance(e, PrintReceipt)).receipt
    assert printed.banner == "练习 TRAINING — 不是销售凭证"
    assert printed.code == "" and "T2" in printed.info[0]
    till.do("key TRAINING")
    after = sell_cola(till)
    assert (after.training, after.receipt_no) == (False, 2)  # real numbers went on from 1


def test_training_mode_stays_over_a_sign_off() -> None:
    till = Till().do("supervisor", "key TRAINING")
    sell_cola(till)
    till.do("key SIGNOFF", "signon")
    assert till.state.training and till.state.next_training_no == 2


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("paid_in_reasons = []", "sale.paid_in_reasons: expected 1 to 9 reasons, got 0"),
        ('paid_out_reasons = [" "]', "sale.paid_out_reasons[0]: expected a reason of 1 to 40"),
        ("paid_out_reasons = [1]", "sale.paid_out_reasons: expected a list of strings"),
        (f"paid_in_reasons = {[str(i) for i in range(10)]}", "expected 1 to 9 reasons, got 10"),
    ],
)
def test_bad_reason_lists_name_the_key(tmp_path: Path, line: str, where: str) -> None:
    path = tmp_path / "lane.toml"
    path.write_text(f'[lane]\nstore = "S1"\nlane = "1"\n[sale]\n{line}\n'.replace("'", '"'))
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert where in str(err.value)


def test_configured_reasons_are_offered(tmp_path: Path) -> None:
    path = tmp_path / "lane.toml"
    path.write_text('[lane]\nstore = "S1"\nlane = "1"\n[sale]\npaid_out_reasons = ["safe"]\n')
    rules = config.load(path).rules
    assert rules.paid_out_reasons == ("safe",)
    till = Till(
        setup=replace(
            Till().setup, rules=replace(Till().setup.rules, paid_out_reasons=rules.paid_out_reasons)
        )
    )
    till.do("supervisor", "key 5 PAIDOUT", "key 1 ENTER")
    assert till.message is Msg.PAID_OUT_DONE
    assert dict(till.effects[1].event.details)["reason"] == "safe"  # type: ignore[union-attr]


def test_the_screen_shows_the_training_banner_and_number() -> None:
    till = Till().do("supervisor")
    sell_cola(till)
    screen = ScreenSetup(language="zh")
    before = screen_view(till.state, till.setup, screen, till.now)
    assert (before.training, before.receipt_no) == (False, 2)
    till.do("key TRAINING")
    during = screen_view(till.state, till.setup, screen, till.now)
    assert (during.training, during.receipt_no) == (True, 1)
    assert during.prompt == "请扫描商品"
    asked = Till().do(*PAID_IN_ASKED)
    view = screen_view(asked.state, asked.setup, ScreenSetup(language="en"), asked.now)
    assert view.prompt == "Pick a reason's number, then ENTER"
    assert [c.text for c in view.choices] == ["1 备用金 float", "2 找零补充 change"]
