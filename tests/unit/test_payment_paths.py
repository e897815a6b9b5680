"""Payments as a table: approvals the disk cannot take yet, part-paid sales left by
voiding their tenders or cancelling, and a terminal that never answers. Steps in,
message and effects out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.effects import CommitSale, LogPayment, PaymentStatus, ReversePayment
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.sale import SaleKind, Tender, TenderType
from firmware_app.lane.state import LaneState, Mode
from tests.unit.till import Till

ONE_COLA = ("signon", "scan 6954767410388")  # 3.50 due
CARD_HELD = (*ONE_COLA, "key CARD", "disk full", "terminal approve")
CASH_THEN_DECLINE = (*ONE_COLA, "key 2 CASH", "key CARD", "terminal decline")  # 2.00 paid
CARD_PART = (*ONE_COLA, "key 2 CARD", "terminal approve")  # 2.00 on the card
CASH_AND_CARD = (*ONE_COLA, "key 1 CASH", "key 1 CARD", "terminal approve")  # 1.00 + 1.00

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    # --- an approval the disk cannot take: held, retried, never lost, never "busy"
    ("approval not saved", (*ONE_COLA, "key CARD", "disk full"), "terminal approve",
     Msg.PAYMENT_UNSAVED, []),
    ("CLEAR retries the save", CARD_HELD, "key CLEAR", Msg.PAYMENT_UNSAVED, []),
    ("a digit retries the save", CARD_HELD, "key 1", Msg.PAYMENT_UNSAVED, []),
    ("CARD does not charge again", CARD_HELD, "key CARD", Msg.PAYMENT_UNSAVED, []),
    ("a tick retries the save", CARD_HELD, "tick", Msg.PAYMENT_UNSAVED, []),
    ("a scan waits for the save", CARD_HELD, "scan 6954767410388", Msg.PAYMENT_UNSAVED, []),
    ("saved at the next tick", (*CARD_HELD, "disk ok"), "tick", Msg.CHANGE,
     ["LogPayment", "CommitSale", "PrintReceipt"]),
    ("saved at the next key", (*CARD_HELD, "disk ok"), "key CLEAR", Msg.CHANGE,
     ["LogPayment", "CommitSale", "PrintReceipt"]),
    ("part approval not saved", (*ONE_COLA, "key 2 CARD", "disk full"), "terminal approve",
     Msg.PAYMENT_UNSAVED, []),
    ("part approval saved later",
     (*ONE_COLA, "key 2 CARD", "disk full", "terminal approve", "disk ok"), "tick", Msg.DUE,
     ["LogPayment", "SaveSale"]),
    ("a decline the disk cannot take", (*ONE_COLA, "key CARD", "disk full"), "terminal decline",
     Msg.DECLINED, []),
    ("cash on a full disk", (*ONE_COLA, "disk full"), "key 5 CASH", Msg.SAVE_FAILED, []),
    ("a card the disk cannot log is not asked", (*ONE_COLA, "disk full"), "key CARD",
     Msg.SAVE_FAILED, []),
    # --- the terminal
    ("card logs before it asks", ONE_COLA, "key CARD", Msg.PAYMENT_STARTED,
     ["LogPayment", "RequestPayment"]),
    ("card approved", (*ONE_COLA, "key CARD"), "terminal approve", Msg.CHANGE,
     ["LogPayment", "CommitSale", "PrintReceipt"]),
    ("card declined", (*ONE_COLA, "key CARD"), "terminal decline", Msg.DECLINED, ["LogPayment"]),
    ("still waiting", (*ONE_COLA, "key CARD", "wait 60"), "tick", Msg.PAYMENT_STARTED, []),
    ("no answer in time", (*ONE_COLA, "key CARD", "wait 121"), "tick", Msg.TERMINAL_TIMEOUT, []),
    ("approved after the lane gave up: reversed",
     (*ONE_COLA, "key CARD", "wait 121", "tick"), "late approve", Msg.LATE_APPROVAL,
     ["LogPayment", "ReversePayment"]),
    ("declined after the lane gave up", (*ONE_COLA, "key CARD", "wait 121", "tick"),
     "late decline", Msg.TERMINAL_TIMEOUT, []),
    ("no answer to a reversal in time", (*CARD_PART, "key VOID 1 ENTER", "approve", "wait 121"),
     "tick", Msg.REVERSAL_TIMEOUT, []),
    # --- a part-paid sale can be left: tenders voided, or the sale cancelled
    ("part-paid: sign off refused", CASH_THEN_DECLINE, "key SIGNOFF", Msg.SALE_OPEN, []),
    ("part-paid: VOID lists the tenders", CASH_THEN_DECLINE, "key VOID", Msg.CHOOSE_TENDER, []),
    ("part-paid: VOID n refused", CASH_THEN_DECLINE, "key 1 VOID", Msg.PAID_LINES_LOCKED, []),
    ("choose a tender asks a supervisor", (*CASH_THEN_DECLINE, "key VOID 1"), "key ENTER",
     Msg.SUPERVISOR_ID, []),
    ("choose a tender that is not there", (*CASH_THEN_DECLINE, "key VOID 4"), "key ENTER",
     Msg.NO_SUCH_TENDER, []),
    ("choose: other keys refused", (*CASH_THEN_DECLINE, "key VOID"), "key CASH",
     Msg.KEY_NOT_ALLOWED, []),
    ("cash tender voided", (*CASH_THEN_DECLINE, "key VOID 1 ENTER"), "approve", Msg.CASH_BACK,
     ["RecordEvent", "SaveSale", "KickDrawer"]),
    ("cash tender voided by a signed-on supervisor",
     ("supervisor", "scan 6954767410388", "key 2 CASH", "key VOID 1"), "key ENTER",
     Msg.CASH_BACK, ["RecordEvent", "SaveSale", "KickDrawer"]),
    ("a tender voided frees the lines",
     (*CASH_THEN_DECLINE, "key VOID 1 ENTER", "approve"), "key VOID", Msg.LINE_VOIDED,
     ["SaveSale", "RecordEvent"]),
    ("card tender reversal asked", (*CARD_PART, "key VOID 1 ENTER"), "approve", Msg.REVERSING,
     ["RecordEvent", "LogPayment", "ReversePayment"]),
    ("card tender reversed", (*CARD_PART, "key VOID 1 ENTER", "approve"), "terminal approve",
     Msg.REVERSED, ["LogPayment", "SaveSale"]),
    ("card reversal refused", (*CARD_PART, "key VOID 1 ENTER", "approve"), "terminal decline",
     Msg.REVERSAL_DECLINED, ["LogPayment"]),
    ("reversal approved, not saved",
     (*CARD_PART, "key VOID 1 ENTER", "approve", "disk full"), "terminal approve",
     Msg.REVERSAL_UNSAVED, []),
    ("reversal saved later",
     (*CARD_PART, "key VOID 1 ENTER", "approve", "disk full", "terminal approve", "disk ok"),
     "key 5", Msg.REVERSED, ["LogPayment", "SaveSale"]),
    ("cancel goes on once the reversal is saved",
     (*CASH_AND_CARD, "key CANCEL", "approve", "disk full", "terminal approve", "disk ok"),
     "tick", Msg.CANCELLED_CASH_BACK, ["LogPayment", "CommitSale", "KickDrawer", "PrintReceipt"]),
    ("part-paid: cancel asks a supervisor", CASH_THEN_DECLINE, "key CANCEL", Msg.SUPERVISOR_ID,
     []),
    ("part-paid in cash: cancelled, cash handed back", (*CASH_THEN_DECLINE, "key CANCEL"),
     "approve", Msg.CANCELLED_CASH_BACK,
     ["RecordEvent", "CommitSale", "KickDrawer", "PrintReceipt"]),
    ("part-paid by card: cancel reverses first", (*CARD_PART, "key CANCEL"), "approve",
     Msg.REVERSING, ["RecordEvent", "LogPayment", "ReversePayment"]),
    ("part-paid by card: cancelled once reversed", (*CARD_PART, "key CANCEL", "approve"),
     "terminal approve", Msg.SALE_CANCELLED, ["LogPayment", "CommitSale", "PrintReceipt"]),
    ("cash and card: cancelled once the card is reversed",
     (*CASH_AND_CARD, "key CANCEL", "approve"), "terminal approve", Msg.CANCELLED_CASH_BACK,
     ["LogPayment", "CommitSale", "KickDrawer", "PrintReceipt"]),
    ("cancel stops when a reversal is refused", (*CASH_AND_CARD, "key CANCEL", "approve"),
     "terminal decline", Msg.REVERSAL_DECLINED, ["LogPayment"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_payment_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    till = Till().do(*before)
    till.do(step)
    assert till.message == message, till.state.message
    assert till.effect_types() == effects


def test_an_unsaved_approval_is_never_charged_again_and_saved_once_the_disk_has_room() -> None:
    till = Till().do(*CARD_HELD)
    assert till.state.mode is Mode.TERMINAL and till.state.payment is not None
    assert till.state.payment.answer is not None  # the approval is held in the state
    till.do("key CLEAR", "key CARD", "key CASH", "tick", "tick")
    asked = [e for e in till.all_effects if type(e).__name__ == "RequestPayment"]
    assert len(asked) == 1
    # Each retry tried to save the sale with the approved tender in it.
    tried = [e for e in till.failed if isinstance(e, CommitSale)]
    assert len(tried) == 6 and all(e.record.tenders[0].reference == "REF1" for e in tried)
    till.do("disk ok", "tick")
    committed = [e for e in till.effects if isinstance(e, CommitSale)]
    assert [(t.type, t.amount, t.reference) for t in committed[0].record.tenders] == [
        (TenderType.CARD, 350, "REF1")
    ]
    assert till.state.mode is Mode.READY and till.state.payment is None
    till.do("key CLEAR")
    assert till.message is None


def test_the_approval_is_logged_before_the_sale_is_saved() -> None:
    till = Till().do(*ONE_COLA, "key CARD", "terminal approve")
    log, commit = till.effects[0], till.effects[1]
    assert isinstance(log, LogPayment) and isinstance(commit, CommitSale)
    assert (log.status, log.reference, log.sale_id) == (
        PaymentStatus.APPROVED,
        "REF1",
        commit.record.sale_id,
    )
    assert commit.record.tenders[0].payment_id == log.payment_id


def test_a_restored_sale_that_is_paid_is_finished_at_the_next_tick() -> None:
    till = Till().do(*ONE_COLA)
    assert till.state.sale is not None
    # As the store gives it back after a restart: the approval from the payment log.
    card = Tender(TenderType.CARD, 350, "REF9", payment_id="p1")
    restored = replace(till.state.sale, tenders=(card,))
    till.state = LaneState(mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER), sale=restored)
    till.do("tick")
    assert till.effect_types() == ["CommitSale", "PrintReceipt"]
    assert till.message is Msg.CHANGE and till.state.sale is None


def test_the_lane_gives_up_on_a_silent_terminal_and_goes_on() -> None:
    till = Till().do(*ONE_COLA, "key CARD", "wait 121", "tick")
    assert till.state.mode is Mode.READY and till.state.sale is not None
    assert till.state.sale.tenders == ()
    till.do("key 1 CASH")  # the lane goes on
    assert till.message is Msg.DUE
    till.do("late approve")  # the terminal approves after all: the charge is reversed
    reverse = till.effects[-1]
    assert isinstance(reverse, ReversePayment)
    assert (reverse.amount, reverse.reference) == (350, "LATE1")
    assert till.state.sale is not None and till.state.sale.paid == 100
    assert till.state.abandoned == ()


def test_cancelling_a_part_paid_sale_records_every_tender_as_voided() -> None:
    till = Till().do(*CASH_AND_CARD, "key CANCEL", "approve")
    reverse = till.effects[-1]
    assert isinstance(reverse, ReversePayment)
    assert (reverse.tender, reverse.amount, reverse.reference) == (TenderType.CARD, 100, "REF1")
    till.do("terminal approve")
    record = next(e.record for e in till.effects if isinstance(e, CommitSale))
    assert record.kind is SaleKind.CANCELLED
    assert [(t.type, t.amount, t.voided, t.reversal) for t in record.tenders] == [
        (TenderType.CASH, 100, True, ""),
        (TenderType.CARD, 100, True, "REF1"),
    ]
    assert record.change == 0 and record.total == 0
    assert till.state.sale is None and till.state.mode is Mode.READY


def test_a_voided_tender_is_paid_again_before_the_sale_finishes() -> None:
    till = Till().do(*CASH_THEN_DECLINE, "key VOID 1 ENTER", "approve")
    assert till.state.sale is not None and till.state.sale.due == 350
    till.do("key CASH")
    record = next(e.record for e in till.effects if isinstance(e, CommitSale))
    assert [(t.amount, t.voided) for t in record.tenders] == [(200, True), (350, False)]
    assert record.change == 0


def test_the_tender_list_names_each_live_tender() -> None:
    till = Till().do(*CASH_AND_CARD, "key VOID")
    assert till.state.message is not None
    assert (
        till.state.message.render("en")
        == "Void which payment? Number, ENTER:  1 cash 1.00  2 card 1.00"
    )
    assert "现金" in till.state.message.render("zh") and "银行卡" in till.state.message.render("zh")
    till.do("key CLEAR")
    assert till.state.mode is Mode.READY and till.message is None
