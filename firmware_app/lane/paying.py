"""Tenders and finishing: cash with change and rounding, card and mobile through the
terminal, split tender, voiding a tender, cancel.

When the sale is fully paid it is committed first, then the drawer opens (if
cash was tendered) and the receipt prints: the effects come back in that order.

Every charge and reversal is in the payment log (``LogPayment``) before the
terminal is asked; its answers are handled in ``terminal``.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane import late_refund, members, returns
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import (
    CommitSale,
    Effect,
    KickDrawer,
    LogPayment,
    PaymentStatus,
    PrintReceipt,
    RequestPayment,
    ReversePayment,
    SaveSale,
)
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import parse_money, round_to_step
from firmware_app.lane.receipt_builder import build_receipt
from firmware_app.lane.sale import Sale, SaleKind, Tender, TenderType, finish
from firmware_app.lane.state import LaneState, Mode, PendingPayment

TENDER_KEYS = {"CASH": TenderType.CASH, "CARD": TenderType.CARD, "MOBILE": TenderType.MOBILE}


def _keyed_amount(state: LaneState, key: str, ctx: Ctx) -> int | Message | None:
    """The keyed amount in minor units, None when nothing was keyed, or why it is bad."""
    if not state.entry:
        return None
    try:
        return parse_money(state.entry, ctx.setup.rules.minor_digits)
    except ValueError:
        return Message.of(Msg.BAD_ENTRY, key=key)


def on_cash(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    sale = state.sale
    if sale is None:
        return refuse(state, Msg.NO_SALE)
    unanswered = late_refund.refuse_while_unanswered(state, sale, ctx)  # a late refund
    if unanswered is not None:
        return unanswered
    keyed = _keyed_amount(state, key, ctx)
    if isinstance(keyed, Message):
        return refused(state, keyed)
    rules = ctx.setup.rules
    if keyed is not None and keyed > rules.max_cash_tender:
        return refuse(state, Msg.CASH_TOO_LARGE, max=ctx.money(rules.max_cash_tender))
    remaining = sale.due
    if remaining < 0:  # returns: the refund is paid out exactly, nothing is keyed
        return _refund_cash(state, sale, keyed, ctx)
    # Cash rounding applies to what is left when cash settles the sale.
    rounded = round_to_step(remaining, rules.cash_rounding.step, rules.cash_rounding.mode)
    tendered = max(rounded, 0) if keyed is None else keyed
    if tendered == 0 and remaining > 0:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    if tendered < rounded:
        return part_paid(state, sale.add_tender(Tender(TenderType.CASH, tendered)), ctx)
    sale = replace(sale, rounding=sale.rounding + rounded - remaining)
    return complete(replace(state, sale=sale.add_tender(Tender(TenderType.CASH, tendered))), ctx)


def _refund_cash(state: LaneState, sale: Sale, keyed: int | None, ctx: Ctx) -> Outcome:
    """Returns: pay out what is owed to the customer (cash rounding in their favour when
    so configured) as a negative cash tender, and finish."""
    if keyed is not None:
        return refuse(state, Msg.KEY_NOT_ALLOWED, key="CASH")
    rules = ctx.setup.rules
    rounded = round_to_step(sale.due, rules.cash_rounding.step, rules.cash_rounding.mode)
    sale = replace(sale, rounding=sale.rounding + rounded - sale.due)
    return complete(replace(state, sale=sale.add_tender(Tender(TenderType.CASH, rounded))), ctx)


def on_card(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    sale = state.sale
    if sale is None:
        return refuse(state, Msg.NO_SALE)
    unanswered = late_refund.refuse_while_unanswered(state, sale, ctx)  # a late refund
    if unanswered is not None:
        return unanswered
    if sale.due < 0:  # returns: the refund goes back to the card or mobile account
        return _refund_to(state, sale, key, ctx)
    if sale.due == 0:
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    keyed = _keyed_amount(state, key, ctx)
    if isinstance(keyed, Message):
        return refused(state, keyed)
    amount = sale.due if keyed is None else keyed
    if amount <= 0:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    if amount > sale.due:
        return refuse(state, Msg.AMOUNT_TOO_LARGE, due=ctx.money(sale.due))
    tender = TENDER_KEYS[key]
    request = PendingPayment(ctx.ports.new_id(), tender, amount, started_at=ctx.now)
    message = Message.of(Msg.PAYMENT_STARTED, tender=tender.value, amount=ctx.money(amount))
    after = replace(state, mode=Mode.TERMINAL, payment=request, entry="", message=message)
    # In the log before the terminal is asked: a charge is never made that the lane
    # could not record.
    log = charge_log(sale, request, PaymentStatus.REQUESTED, ctx)
    return after, (log, RequestPayment(request.request_id, tender, amount))


def _refund_to(state: LaneState, sale: Sale, key: str, ctx: Ctx) -> Outcome:
    """Returns: ask the terminal to pay the whole refund back (a negative amount); its
    approval is a negative tender and finishes the return (``terminal``)."""
    if state.entry:
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    tender = TENDER_KEYS[key]
    request = PendingPayment(
        ctx.ports.new_id(), tender, sale.due, started_at=ctx.now, sale_id=sale.id
    )
    message = Message.of(Msg.REFUNDING, tender=tender.value, amount=ctx.money(-sale.due))
    after = replace(state, mode=Mode.TERMINAL, payment=request, entry="", message=message)
    log = charge_log(sale, request, PaymentStatus.REQUESTED, ctx)
    return after, (log, RequestPayment(request.request_id, tender, sale.due))


def part_paid(state: LaneState, sale: Sale, ctx: Ctx) -> Outcome:
    message = Message.of(Msg.DUE, paid=ctx.money(sale.paid), due=ctx.money(sale.due))
    return replace(state, sale=sale, entry="", message=message), (SaveSale(sale),)


# --- voiding tenders, cancelling ---------------------------------------------------------


def tender_choices(sale: Sale, ctx: Ctx) -> tuple[Message, ...]:
    """The live tenders, numbered as in the sale, for the cashier to pick from."""
    return tuple(
        Message.of(Msg.TENDER_CHOICE, no=no, tender=t.type.value, amount=ctx.money(t.amount))
        for no, t in enumerate(sale.tenders, 1)
        if not t.voided
    )


def void_tender(state: LaneState, no: int, ctx: Ctx, supervisor: str) -> Outcome:
    """Void tender ``no`` (approved): cash is handed back from the drawer, a card or
    mobile charge is reversed on the terminal first."""
    sale = state.sale
    assert sale is not None
    tender = sale.tender(no)
    assert tender is not None
    if tender.type is not TenderType.CASH:
        return _reverse(state, no, ctx, cancel=False, supervisor=supervisor)
    sale = sale.void_tender(no)
    message = Message.of(Msg.CASH_BACK, amount=ctx.money(tender.amount))
    return replace(state, sale=sale, entry="", message=message), (SaveSale(sale), KickDrawer())


def _reverse(state: LaneState, no: int, ctx: Ctx, *, cancel: bool, supervisor: str) -> Outcome:
    sale = state.sale
    assert sale is not None
    tender = sale.tenders[no - 1]
    request = PendingPayment(
        ctx.ports.new_id(),
        tender.type,
        tender.amount,
        started_at=ctx.now,
        reverses=no,
        cancel=cancel,
        supervisor=supervisor,
    )
    amount = ctx.money(tender.amount)
    message = Message.of(Msg.REVERSING, tender=tender.type.value, amount=amount)
    after = replace(state, mode=Mode.TERMINAL, payment=request, entry="", message=message)
    reverse = ReversePayment(request.request_id, tender.type, tender.amount, tender.reference)
    return after, (*tender_log(sale, tender, PaymentStatus.REVERSING, ctx), reverse)


def complete(state: LaneState, ctx: Ctx) -> Outcome:
    """The sale is paid: commit, then open the drawer for cash, then print."""
    sale = state.sale
    assert sale is not None
    # Returns: return lines only make a return; its event is committed with it.
    after, effects = _close(state, sale, returns.kind_of(sale), ctx)
    given_back = [line for line in sale.live_lines if line.is_return]
    if not given_back:
        return after, effects
    assert after.last_sale is not None
    refund = -after.last_sale.total
    event = ctx.audit(
        state,
        "return",
        receipt=after.last_sale.receipt_no,
        kind=after.last_sale.kind.value,
        lines=len(given_back),
        amount=sum(returns.line_refund(line) for line in given_back),
        of=",".join(sorted({f"{ln.return_of.receipt_no}" for ln in given_back if ln.return_of}))
        or None,
    )
    if refund > 0:
        after = replace(after, message=Message.of(Msg.REFUND, amount=ctx.money(refund)))
    return after, (effects[0], event, *effects[1:])


def cancel(state: LaneState, ctx: Ctx, supervisor: str = "") -> Outcome:
    """Cancel the open sale (approved): every line voided, recorded as ``cancelled``.

    Money already taken goes back first: card and mobile charges are reversed on the
    terminal one by one (a refused reversal stops the cancel, the sale stays open),
    then the cash tenders are voided and the drawer opens to hand the cash back.
    """
    assert state.sale is not None
    sale = state.sale
    for no, tender in enumerate(sale.tenders, 1):
        if not tender.voided and tender.type is not TenderType.CASH:
            return _reverse(state, no, ctx, cancel=True, supervisor=supervisor)
    cash_back = sale.paid
    for no, tender in enumerate(sale.tenders, 1):
        if not tender.voided:
            sale = sale.void_tender(no)
    for line in sale.live_lines:
        sale = sale.void_line(line.no)
    after, effects = _close(state, sale, SaleKind.CANCELLED, ctx, cash_back=cash_back)
    if cash_back:
        after = replace(
            after, message=Message.of(Msg.CANCELLED_CASH_BACK, amount=ctx.money(cash_back))
        )
    return after, effects


def _close(state: LaneState, sale: Sale, kind: SaleKind, ctx: Ctx, cash_back: int = 0) -> Outcome:
    # Training mode: numbered by its own counter, the real receipt numbers untouched.
    training = state.training
    record = finish(
        sale,
        kind=kind,
        receipt_no=state.next_training_no if training else state.next_receipt_no,
        closed_at=ctx.now,
        currency=ctx.setup.rules.currency,
        training=training,
    )
    record = members.with_points(record, ctx)  # members: the points it earns or takes back
    receipt = build_receipt(record, ctx.setup)
    effects: list[Effect] = [CommitSale(record)]
    cash_in = any(t.type is TenderType.CASH and not t.voided for t in record.tenders)
    if cash_in or cash_back:
        effects.append(KickDrawer())
    effects.append(PrintReceipt(receipt))
    if kind is SaleKind.CANCELLED:
        message = Message.of(Msg.SALE_CANCELLED)
    else:
        message = Message.of(Msg.CHANGE, change=ctx.money(record.change))
    after = replace(
        state,
        sale=None,
        entry="",
        qty=None,
        next_receipt_no=state.next_receipt_no + (0 if training else 1),
        next_training_no=state.next_training_no + (1 if training else 0),
        last_receipt=receipt,
        last_sale=record,
        message=message,
    )
    return after, tuple(effects)


# --- the payment log ------------------------------------------------------------------------


def charge_log(
    sale: Sale, pending: PendingPayment, status: PaymentStatus, ctx: Ctx, *, reference: str = ""
) -> LogPayment:
    return LogPayment(
        pending.request_id,
        sale.id,
        pending.tender,
        pending.amount,
        status,
        ctx.now,
        reference=reference,
    )


def tender_log(
    sale: Sale, tender: Tender, status: PaymentStatus, ctx: Ctx, *, reversal: str = ""
) -> tuple[LogPayment, ...]:
    """The log line of a tender's charge (none for a tender the log never had)."""
    if not tender.payment_id:
        return ()
    return (
        LogPayment(
            tender.payment_id,
            sale.id,
            tender.type,
            tender.amount,
            status,
            ctx.now,
            reference=tender.reference,
            reversal=reversal,
        ),
    )
