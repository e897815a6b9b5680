"""A card or mobile refund the terminal approves after the lane stopped waiting for it.

A charge approved too late is reversed at once (``terminal``): no sale holds it. A
refund cannot be taken back from the customer's account, so the mirror of that rule
is to record it: on the return it was asked for while that return is still open on
the lane (``terminal`` adds it as the return's tender and finishes the return), else
on its own, in the payment log under that return's sale id and as a ``late_refund``
event for a supervisor to settle. Until the terminal answers, the return takes no
other tender and cannot be parked: a refund paid out twice is money gone. A late
decline lifts that; ``CANCEL`` (a supervisor) gives the return up meanwhile. A late
approval the disk cannot take is held with its refund and saved again at every tick.

Amounts in minor units; a refund's amount is negative, as its tender's.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import LogPayment, PaymentStatus
from firmware_app.lane.events import PaymentResult
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.sale import Sale
from firmware_app.lane.state import LaneState, Mode, PendingPayment


def is_refund(pending: PendingPayment) -> bool:
    return pending.reverses is None and pending.amount < 0


def waiting_for(state: LaneState, sale: Sale) -> PendingPayment | None:
    """The refund of ``sale`` the lane gave up on and whose answer may still come."""
    return next(
        (p for p in state.abandoned if is_refund(p) and p.sale_id == sale.id),
        None,
    )


def refuse_while_unanswered(state: LaneState, sale: Sale, ctx: Ctx) -> Outcome | None:
    """The refusal of a tender (or of parking) on ``sale`` while a refund of it may still
    be approved; None when there is none."""
    late = waiting_for(state, sale)
    if late is None:
        return None
    return refuse(state, Msg.REFUND_UNANSWERED, **_what(late, ctx))


def log(late: PendingPayment, result: PaymentResult, ctx: Ctx) -> LogPayment:
    """The payment log's line of the late approval, under the return's sale id."""
    return LogPayment(
        late.request_id,
        late.sale_id,
        late.tender,
        late.amount,
        PaymentStatus.APPROVED,
        ctx.now,
        reference=result.reference,
    )


def attachable(state: LaneState, late: PendingPayment) -> bool:
    """The return ``late`` was asked for is open here, and the terminal is not busy."""
    sale = state.sale
    return sale is not None and sale.id == late.sale_id and state.mode is not Mode.TERMINAL


def reopened(state: LaneState, late: PendingPayment) -> LaneState:
    """The lane back at its return, ready to take the refund: a question or list it was
    in is left (the return is what the customer waits for)."""
    return replace(
        state,
        mode=Mode.READY,
        abandoned=_without(state, late),
        entry="",
        qty=None,
        approval=None,
        repricing=None,
        returning=None,
        age_pending=None,
        return_next=False,
    )


def finished_message(late: PendingPayment, ctx: Ctx) -> Message:
    return Message.of(Msg.LATE_REFUND, **_what(late, ctx))


def standing(state: LaneState, late: PendingPayment, result: PaymentResult, ctx: Ctx) -> Outcome:
    """The return is no longer open here: the refund is recorded on its own."""
    event = ctx.audit(
        state,
        "late_refund",
        tender=late.tender.value,
        amount=-late.amount,
        reference=result.reference,
        return_sale=late.sale_id,
    )
    message = Message.of(Msg.LATE_REFUND_STANDS, **_what(late, ctx))
    after = replace(state, abandoned=_without(state, late), message=message)
    return after, (log(late, result, ctx), event)


def declined(state: LaneState, late: PendingPayment, ctx: Ctx) -> Outcome:
    """No money moved: the return may be refunded another way now."""
    message = Message.of(Msg.LATE_REFUND_DECLINED, **_what(late, ctx))
    return replace(state, abandoned=_without(state, late), message=message), ()


def hold(state: LaneState, answer: PaymentResult, ctx: Ctx) -> LaneState:
    """The late approval ``answer`` could not be saved: keep it with its refund (the
    money has moved) to save again at the next tick; any other answer changes nothing."""
    abandoned = tuple(
        replace(p, answer=answer) if p.request_id == answer.request_id and is_refund(p) else p
        for p in state.abandoned
    )
    return replace(state, abandoned=abandoned, message=Message.of(Msg.SAVE_FAILED))


def held(state: LaneState) -> PendingPayment | None:
    """A late refund approved whose answer waits to be saved."""
    return next((p for p in state.abandoned if p.answer is not None), None)


def _without(state: LaneState, late: PendingPayment) -> tuple[PendingPayment, ...]:
    return tuple(p for p in state.abandoned if p.request_id != late.request_id)


def _what(late: PendingPayment, ctx: Ctx) -> dict[str, object]:
    return {"tender": late.tender.value, "amount": ctx.money(-late.amount)}
