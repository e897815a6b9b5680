"""Tenders and finishing: cash with change and rounding, card and mobile through the
terminal, split tender, cancel.

When the sale is fully paid it is committed first, then the drawer opens (if
cash was tendered) and the receipt prints: the effects come back in that order.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import (
    CommitSale,
    Effect,
    KickDrawer,
    PrintReceipt,
    RequestPayment,
    SaveSale,
)
from firmware_app.lane.events import PaymentResult
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
    keyed = _keyed_amount(state, key, ctx)
    if isinstance(keyed, Message):
        return replace(state, entry="", message=keyed), ()
    rules = ctx.setup.rules
    if keyed is not None and keyed > rules.max_cash_tender:
        return refuse(state, Msg.CASH_TOO_LARGE, max=ctx.money(rules.max_cash_tender))
    remaining = sale.due
    # Cash rounding applies to what is left when cash settles the sale.
    rounded = round_to_step(remaining, rules.cash_rounding.step, rules.cash_rounding.mode)
    tendered = max(rounded, 0) if keyed is None else keyed
    if tendered == 0 and remaining > 0:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    if tendered < rounded:
        sale = replace(sale, tenders=(*sale.tenders, Tender(TenderType.CASH, tendered)))
        return _part_paid(state, sale, ctx)
    sale = replace(
        sale,
        rounding=sale.rounding + rounded - remaining,
        tenders=(*sale.tenders, Tender(TenderType.CASH, tendered)),
    )
    return complete(replace(state, sale=sale), ctx)


def on_card(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    sale = state.sale
    if sale is None:
        return refuse(state, Msg.NO_SALE)
    if sale.due <= 0:
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    keyed = _keyed_amount(state, key, ctx)
    if isinstance(keyed, Message):
        return replace(state, entry="", message=keyed), ()
    amount = sale.due if keyed is None else keyed
    if amount <= 0:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    if amount > sale.due:
        return refuse(state, Msg.AMOUNT_TOO_LARGE, due=ctx.money(sale.due))
    tender = TENDER_KEYS[key]
    request = PendingPayment(ctx.ports.new_id(), tender, amount)
    message = Message.of(Msg.PAYMENT_STARTED, tender=tender.value, amount=ctx.money(amount))
    after = replace(state, mode=Mode.TERMINAL, payment=request, entry="", message=message)
    return after, (RequestPayment(request.request_id, tender, amount),)


def on_result(state: LaneState, result: PaymentResult, ctx: Ctx) -> Outcome:
    pending = state.payment
    if (
        state.mode is not Mode.TERMINAL
        or pending is None
        or pending.request_id != result.request_id
    ):
        return state, ()  # a late answer to a request the lane no longer waits for
    back = replace(state, mode=Mode.READY, payment=None)
    if not result.approved:
        message = Message.of(Msg.DECLINED, tender=pending.tender.value, reason=result.reason)
        return replace(back, message=message), ()
    assert back.sale is not None
    tender = Tender(pending.tender, pending.amount, result.reference)
    sale = replace(back.sale, tenders=(*back.sale.tenders, tender))
    if sale.due > 0:
        return _part_paid(back, sale, ctx)
    return complete(replace(back, sale=sale), ctx)


def _part_paid(state: LaneState, sale: Sale, ctx: Ctx) -> Outcome:
    message = Message.of(Msg.DUE, paid=ctx.money(sale.paid), due=ctx.money(sale.due))
    return replace(state, sale=sale, entry="", message=message), (SaveSale(sale),)


def complete(state: LaneState, ctx: Ctx) -> Outcome:
    """The sale is paid: commit, then open the drawer for cash, then print."""
    assert state.sale is not None
    return _close(state, state.sale, SaleKind.SALE, ctx)


def cancel(state: LaneState, ctx: Ctx) -> Outcome:
    """Cancel the open sale (approved): every line voided, recorded as ``cancelled``."""
    assert state.sale is not None
    sale = state.sale
    for line in sale.live_lines:
        sale = sale.void_line(line.no)
    return _close(state, sale, SaleKind.CANCELLED, ctx)


def _close(state: LaneState, sale: Sale, kind: SaleKind, ctx: Ctx) -> Outcome:
    record = finish(
        sale,
        kind=kind,
        receipt_no=state.next_receipt_no,
        closed_at=ctx.now,
        currency=ctx.setup.rules.currency,
    )
    receipt = build_receipt(record, ctx.setup)
    effects: list[Effect] = [CommitSale(record)]
    if any(t.type is TenderType.CASH for t in record.tenders):
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
        next_receipt_no=state.next_receipt_no + 1,
        last_receipt=receipt,
        message=message,
    )
    return after, tuple(effects)
