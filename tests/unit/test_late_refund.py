"""A card or mobile refund the terminal approves after the lane stopped waiting for it:
recorded, never lost and never doubled.

A late charge is reversed, since no sale holds it; a refund cannot be taken back
from the customer's account, so a late refund is recorded instead: on the return it
belongs to while that is still open here, else in the payment log and a
``late_refund`` event. Until its answer comes, the return takes no other tender (a
refund paid out twice is money gone)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.effects import (
    CommitSale,
    LogPayment,
    PaymentStatus,
    RecordEvent,
    ReversePayment,
)
from firmware_app.lane.messages import Msg
from firmware_app.lane.sale import SaleKind, Tender, TenderType
from firmware_app.lane.state import Mode
from tests.unit.till import Till

COLA = "scan 6954767410388"  # 3.50
SOLD = ("signon", "key 3 QTY", COLA, "key CASH")  # receipt 1: three colas, 10.50
BACK = (*SOLD, "key 1 RETURN", "key 1 ENTER", "key SUBTOTAL")  # all three come back
TIMED_OUT = (*BACK, "key CARD", "wait 121", "tick")  # the refund's answer never came


def commits(till: Till) -> list[CommitSale]:
    return [e for e in till.effects if isinstance(e, CommitSale)]


def test_a_refund_the_terminal_stops_answering_is_given_up_on_but_remembered() -> None:
    till = Till().do(*TIMED_OUT)
    assert till.message is Msg.REFUND_TIMEOUT
    assert till.state.mode is Mode.READY and till.state.sale is not None
    (waiting,) = till.state.abandoned
    assert (waiting.amount, waiting.sale_id) == (-1050, till.state.sale.id)


def test_a_late_approved_refund_finishes_the_return_it_belongs_to() -> None:
    till = Till().do(*TIMED_OUT)
    request_id = till.state.abandoned[-1].request_id
    sale_id = till.state.sale.id  # type: ignore[union-attr]
    till.do("late approve")
    (commit,) = commits(till)
    assert commit.record.kind is SaleKind.RETURN and commit.record.sale_id == sale_id
    assert commit.record.tenders == (Tender(TenderType.CARD, -1050, "LATE1", request_id),)
    log = next(e for e in till.effects if isinstance(e, LogPayment))
    assert (log.payment_id, log.status, log.reference) == (
        request_id,
        PaymentStatus.APPROVED,
        "LATE1",
    )
    assert not any(isinstance(e, ReversePayment) for e in till.effects)
    assert till.message is Msg.LATE_REFUND
    assert till.state.sale is None and till.state.abandoned == ()


def test_the_same_late_answer_twice_is_recorded_once() -> None:
    till = Till().do(*TIMED_OUT)
    late = till.state.abandoned[-1].request_id
    till.do("late approve")
    from firmware_app.lane.events import PaymentResult

    till.send(PaymentResult(late, approved=True, reference="LATE1"))
    assert till.effects == []


@pytest.mark.parametrize("key", ["key CASH", "key CARD", "key MOBILE"])
def test_while_the_answer_may_still_come_the_return_takes_no_other_tender(key: str) -> None:
    till = Till().do(*TIMED_OUT)
    before = till.state
    till.do(key)
    assert till.message is Msg.REFUND_UNANSWERED
    assert till.effects == []
    assert replace(till.state, message=None) == replace(before, message=None)


def test_a_late_decline_lets_the_refund_be_paid_another_way() -> None:
    till = Till().do(*TIMED_OUT, "late decline")
    assert till.message is Msg.LATE_REFUND_DECLINED
    assert till.state.abandoned == ()
    till.do("key CASH")
    (commit,) = commits(till)
    assert commit.record.tenders == (Tender(TenderType.CASH, -1050),)


def test_a_late_refund_whose_return_is_no_longer_open_is_recorded_on_its_own() -> None:
    till = Till().do(*TIMED_OUT)
    sale_id = till.state.sale.id  # type: ignore[union-attr]
    request_id = till.state.abandoned[-1].request_id
    till.do("key CANCEL", "approve")  # the return is given up: nothing was refunded here
    assert till.state.sale is None
    till.do("late approve")
    assert commits(till) == []
    assert not any(isinstance(e, ReversePayment) for e in till.effects)
    log = next(e for e in till.effects if isinstance(e, LogPayment))
    assert (log.payment_id, log.sale_id, log.amount, log.status) == (
        request_id,
        sale_id,
        -1050,
        PaymentStatus.APPROVED,
    )
    event = next(e.event for e in till.effects if isinstance(e, RecordEvent))
    assert event.type == "late_refund"
    assert dict(event.details) == {
        "tender": "card",
        "amount": "1050",
        "reference": "LATE1",
        "return_sale": sale_id,
    }
    assert till.message is Msg.LATE_REFUND_STANDS


def test_a_late_refund_arriving_in_the_middle_of_a_question_still_finishes_the_return() -> None:
    till = Till().do(*TIMED_OUT, "key 1 RETURN")  # the cashier looks at the receipt again
    assert till.state.mode is Mode.CHOOSE_RETURN
    till.do("late approve")
    (commit,) = commits(till)
    assert commit.record.kind is SaleKind.RETURN
    assert till.state.mode is Mode.READY and till.state.returning is None


def test_a_late_charge_is_still_reversed() -> None:
    till = Till().do("signon", COLA, "key CARD", "wait 121", "tick", "late approve")
    assert till.message is Msg.LATE_APPROVAL
    assert isinstance(till.effects[-1], ReversePayment)


def test_a_return_whose_refund_may_still_come_is_not_parked() -> None:
    till = Till().do(*TIMED_OUT, "key SUSPEND")
    assert till.message is Msg.REFUND_UNANSWERED
    assert till.effects == [] and till.state.parked == ()


def test_a_timed_out_refund_is_kept_however_many_charges_are_given_up_on_after_it() -> None:
    till = Till().do(*TIMED_OUT, "key CANCEL", "approve")
    for _ in range(4):
        till.do(COLA, "key CARD", "wait 121", "tick", "key CANCEL", "approve")
    refunds = [p for p in till.state.abandoned if p.amount < 0]
    assert len(refunds) == 1 and len(till.state.abandoned) == 4


def test_a_late_refund_the_disk_cannot_take_is_held_and_saved_at_the_next_tick() -> None:
    till = Till().do(*TIMED_OUT, "disk full", "late approve")
    assert commits(till) == [] and till.message is Msg.SAVE_FAILED
    (held,) = till.state.abandoned
    assert held.answer is not None and held.answer.reference == "LATE1"
    till.do("tick")  # still full: still held
    assert till.state.abandoned == (held,)
    till.do("key CASH")  # and the return still takes no other tender
    assert till.message is Msg.REFUND_UNANSWERED
    till.do("disk ok", "tick")
    (commit,) = commits(till)
    assert commit.record.tenders[0].reference == "LATE1"
    assert till.state.abandoned == () and till.message is Msg.LATE_REFUND
