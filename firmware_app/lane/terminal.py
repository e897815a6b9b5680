"""The payment terminal's answers: settling a charge or a reversal, holding an answer
the disk cannot take yet, giving up on a terminal that does not answer.

Money that moved on the terminal is never lost: the answer is logged before the
sale is saved (``paying.charge_log``), and an approval the disk cannot take is
held in the state (``PendingPayment.answer``) and saved again at every tick and
key; the terminal is never asked twice for it. A terminal silent for longer than
``payment_timeout_s`` is given up on; should it approve later, that charge is
reversed at once, since no sale holds it; a refund approved late is recorded
instead (``late_refund``).
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane import late_refund, paying
from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import LogPayment, PaymentStatus, ReversePayment, SaveSale
from firmware_app.lane.events import Event, PaymentResult
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.sale import Tender
from firmware_app.lane.state import LaneState, Mode, PendingPayment

KEEP_ABANDONED = 3  # charges given up on whose late approval is still reversed


def on_result(state: LaneState, result: PaymentResult, ctx: Ctx) -> Outcome:
    pending = state.payment
    if (
        state.mode is Mode.TERMINAL
        and pending is not None
        and pending.request_id == result.request_id
        and pending.answer is None
    ):
        return _settle(state, pending, result, ctx)
    late = next((p for p in state.abandoned if p.request_id == result.request_id), None)
    if late is not None and late_refund.is_refund(late):
        return _late_refund(state, late, result, ctx)
    if late is not None and result.approved:
        return _reverse_late(state, late, result, ctx)
    return state, ()  # a late answer to a request the lane no longer waits for


def _settle(state: LaneState, pending: PendingPayment, result: PaymentResult, ctx: Ctx) -> Outcome:
    """What the terminal's answer does to the sale (again, when an earlier save failed)."""
    back = replace(state, mode=Mode.READY, payment=None)
    if pending.reverses is not None:
        return _reversal_answered(back, pending, result, ctx)
    return _charge_answered(back, pending, result, ctx)


def _charge_answered(
    state: LaneState, pending: PendingPayment, result: PaymentResult, ctx: Ctx
) -> Outcome:
    sale = state.sale
    assert sale is not None
    if not result.approved:
        message = Message.of(Msg.DECLINED, tender=pending.tender.value, reason=result.reason)
        log = paying.charge_log(sale, pending, PaymentStatus.DECLINED, ctx)
        return replace(state, message=message), (log,)
    log = paying.charge_log(sale, pending, PaymentStatus.APPROVED, ctx, reference=result.reference)
    tender = Tender(pending.tender, pending.amount, result.reference, pending.request_id)
    sale = sale.add_tender(tender)
    if sale.due > 0:
        after, effects = paying.part_paid(state, sale, ctx)
    else:
        after, effects = paying.complete(replace(state, sale=sale), ctx)
    return after, (log, *effects)


def _reversal_answered(
    state: LaneState, pending: PendingPayment, result: PaymentResult, ctx: Ctx
) -> Outcome:
    sale = state.sale
    assert sale is not None and pending.reverses is not None
    no = pending.reverses
    tender = sale.tenders[no - 1]
    if not result.approved:  # the charge stands; a cancel under way stops here
        message = Message.of(Msg.REVERSAL_DECLINED, tender=tender.type.value, reason=result.reason)
        return replace(state, message=message), paying.tender_log(
            sale, tender, PaymentStatus.APPROVED, ctx
        )
    sale = sale.void_tender(no, reversal=result.reference)
    logs = paying.tender_log(sale, tender, PaymentStatus.REVERSED, ctx, reversal=result.reference)
    if pending.cancel:
        after, effects = paying.cancel(replace(state, sale=sale), ctx, pending.supervisor)
        return after, (*logs, *effects)
    amount = ctx.money(tender.amount)
    message = Message.of(Msg.REVERSED, tender=tender.type.value, amount=amount)
    return replace(state, sale=sale, message=message), (*logs, SaveSale(sale))


def _reverse_late(
    state: LaneState, late: PendingPayment, result: PaymentResult, ctx: Ctx
) -> Outcome:
    """The terminal approved a charge the lane had given up on: no sale holds it, so it
    is reversed at once."""
    abandoned = tuple(p for p in state.abandoned if p is not late)
    request_id = ctx.ports.new_id()
    amount = ctx.money(late.amount)
    message = Message.of(Msg.LATE_APPROVAL, tender=late.tender.value, amount=amount)
    after = replace(state, abandoned=abandoned, message=message)
    reverse = ReversePayment(request_id, late.tender, late.amount, result.reference)
    sale_id = state.sale.id if state.sale is not None else ""
    log = LogPayment(
        late.request_id,
        sale_id,
        late.tender,
        late.amount,
        PaymentStatus.REVERSING,
        ctx.now,
        reference=result.reference,
    )
    return after, (log, reverse)


def _late_refund(
    state: LaneState, late: PendingPayment, result: PaymentResult, ctx: Ctx
) -> Outcome:
    """A refund answered after the lane gave up on it: recorded, never reversed
    (``late_refund``); on its return while that is open here, which it finishes."""
    if not result.approved:
        return late_refund.declined(state, late, ctx)
    if not late_refund.attachable(state, late):
        return late_refund.standing(state, late, result, ctx)
    back = late_refund.reopened(state, late)
    assert back.sale is not None
    sale = back.sale.add_tender(Tender(late.tender, late.amount, result.reference, late.request_id))
    if sale.due != 0:  # the basket changed meanwhile: the rest is settled as usual
        after, effects = paying.part_paid(back, sale, ctx)
    else:
        after, effects = paying.complete(replace(back, sale=sale), ctx)
        after = replace(after, message=late_refund.finished_message(late, ctx))
    return after, (late_refund.log(late, result, ctx), *effects)


# --- an answer the disk could not take ------------------------------------------------


def on_save_failed(state: LaneState, cause: Event, ctx: Ctx) -> Outcome:
    """The effects of ``cause`` could not be saved; ``state`` is as it was before it.

    A terminal's approval (of a charge or of a reversal) is held: that money has moved.
    A decline moved nothing, so the lane goes on without its log line. Anything else
    is simply not done, and the cashier is told.
    """
    pending = state.payment
    if (
        isinstance(cause, PaymentResult)
        and pending is not None
        and pending.request_id == cause.request_id
        and pending.answer is None
    ):
        if cause.approved:
            return _hold(state, pending, cause, ctx), ()
        after, _ = _settle(state, pending, cause, ctx)
        return after, ()
    if pending is not None and pending.answer is not None:
        return _hold(state, pending, pending.answer, ctx), ()
    if isinstance(cause, PaymentResult) and cause.approved:  # a late refund: held too
        return late_refund.hold(state, cause, ctx), ()
    return replace(state, message=Message.of(Msg.SAVE_FAILED)), ()


def _hold(state: LaneState, pending: PendingPayment, answer: PaymentResult, ctx: Ctx) -> LaneState:
    return replace(
        state,
        mode=Mode.TERMINAL,
        payment=replace(pending, answer=answer),
        message=unsaved_message(pending, ctx),
    )


def unsaved_message(pending: PendingPayment, ctx: Ctx) -> Message:
    """What the cashier reads while an answer waits to be saved: never charge again."""
    msg = Msg.PAYMENT_UNSAVED if pending.reverses is None else Msg.REVERSAL_UNSAVED
    return Message.of(msg, tender=pending.tender.value, amount=ctx.money(pending.amount))


def holds_answer(state: LaneState) -> bool:
    return state.payment is not None and state.payment.answer is not None


def retry(state: LaneState, ctx: Ctx) -> Outcome:
    """Save the held answer again (at a tick or a key)."""
    pending = state.payment
    assert pending is not None and pending.answer is not None
    return _settle(state, pending, pending.answer, ctx)


def terminal_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """Any key while the terminal works: refused. While an answer waits to be saved:
    another try (the key does nothing else), so the lane is never stuck here."""
    if holds_answer(state):
        return retry(state, ctx)
    return refuse(state, Msg.TERMINAL_BUSY)


def on_tick(state: LaneState, ctx: Ctx) -> Outcome | None:
    """Payment rules that run with time: a held answer saved again, a silent terminal
    given up on, a sale found paid (restored after a restart) finished. None: nothing."""
    if state.mode is Mode.TERMINAL and holds_answer(state):
        return retry(state, ctx)
    held = late_refund.held(state)  # a late refund the disk could not take: again
    if held is not None:
        assert held.answer is not None
        return _late_refund(state, held, held.answer, ctx)
    pending = state.payment
    if state.mode is Mode.TERMINAL and pending is not None and pending.started_at is not None:
        waited = (ctx.now - pending.started_at).total_seconds()
        if waited >= ctx.setup.rules.payment_timeout_s:
            return _give_up(state, pending, ctx)
        return None
    sale = state.sale
    if state.mode is Mode.READY and sale is not None and sale.live_tenders and sale.due <= 0:
        return paying.complete(state, ctx)
    return None


def _give_up(state: LaneState, pending: PendingPayment, ctx: Ctx) -> Outcome:
    amount = ctx.money(pending.amount)
    back = replace(state, mode=Mode.READY, payment=None)
    if pending.reverses is not None:
        message = Message.of(Msg.REVERSAL_TIMEOUT, tender=pending.tender.value, amount=amount)
        return replace(back, message=message), ()
    if late_refund.is_refund(pending):  # its answer may still come: it is recorded then
        refund = ctx.money(-pending.amount)
        message = Message.of(Msg.REFUND_TIMEOUT, tender=pending.tender.value, amount=refund)
        return replace(back, message=message, abandoned=(*state.abandoned, pending)), ()
    message = Message.of(Msg.TERMINAL_TIMEOUT, tender=pending.tender.value, amount=amount)
    charges = tuple(p for p in (*state.abandoned, pending) if not late_refund.is_refund(p))
    refunds = tuple(p for p in state.abandoned if late_refund.is_refund(p))
    return replace(back, message=message, abandoned=(*refunds, *charges[-KEEP_ABANDONED:])), ()
