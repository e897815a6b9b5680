"""Manual discounts: ``DISC`` takes a percent off the last line, or, right after
``SUBTOTAL``, off the whole sale.

The entry is the percent, 1 to 99, whole or with one decimal (``12.5``). Up to
``[sale] cashier_discount_max`` percent the cashier gives it alone; above, up to
``supervisor_discount_max``, a supervisor approves (``Action.DISCOUNT``); above
that it is refused. A line discount is round-half-up(amount × percent); a sale
discount is worked out on the net of the goods sold (amounts less the discounts
already given; a return line takes no discount) and spread over those lines in
proportion to their net amounts by largest remainder, ties to the lower line
number (``spread``), so each line's ``discount`` is exact and taxes per rate stay
exact. No discount ever takes a
line below zero. One line discount per line and one sale discount per sale: a
second would let two discounts within the cashier's limit add up beyond it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from firmware_app.lane.adjustments import DiscountScope, ManualDiscount, percent_text
from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import SaveSale
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import round_half_up
from firmware_app.lane.repricing import has_sale_discount
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import Action, Approval, LaneState

PERCENT = re.compile(r"[0-9]{1,2}(\.[0-9])?")


def parse_percent(text: str) -> Decimal | None:
    """``"10"``, ``"12.5"`` -> the percent; anything else, or outside 1–99, -> None."""
    if not PERCENT.fullmatch(text):
        return None
    percent = Decimal(text)
    return percent if 1 <= percent <= 99 else None


def percent_of(amount: int, percent: Decimal) -> int:
    """round-half-up(amount × percent / 100), minor units (percent has one decimal)."""
    return round_half_up(amount * int(percent * 10), 1000)


def spread(total: int, weights: Sequence[tuple[int, int]]) -> dict[int, int]:
    """``total`` (minor units) shared over ``weights`` (line number, net amount ≥ 0) in
    proportion, by largest remainder, ties to the lower line number. The shares sum to
    ``total`` exactly and none exceeds its weight while ``total`` ≤ the weights' sum."""
    base = sum(weight for _, weight in weights)
    if total == 0 or base == 0:
        return {no: 0 for no, _ in weights}
    shares = {no: weight * total // base for no, weight in weights}
    left = total - sum(shares.values())
    order = sorted(weights, key=lambda w: (-(w[1] * total % base), w[0]))
    for no, _ in order[:left]:
        shares[no] += 1
    return shares


def net(line: Line) -> int:
    return line.amount - line.discount


def asked(state: LaneState, key: str, ctx: Ctx) -> Approval | Outcome:
    """What ``DISC`` asks a supervisor to approve, the discount itself when it is within
    the cashier's limit, or the refusal."""
    sale = state.sale
    if sale is not None and sale.live_tenders:
        return refuse(state, Msg.FINISH_PAYMENT)
    if sale is None or not sale.live_lines:
        return refuse(state, Msg.NO_LINE)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    percent = parse_percent(state.entry)
    if percent is None:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    rules = ctx.setup.rules
    if percent > rules.supervisor_discount_max:
        return refuse(state, Msg.DISCOUNT_TOO_BIG, max=rules.supervisor_discount_max)
    if has_sale_discount(sale):
        return refuse(state, Msg.SALE_DISCOUNTED)
    whole = state.message is not None and state.message.id is Msg.SUBTOTAL
    line = None if whole else sale.live_lines[-1]
    if line is not None and line.discounts:
        return refuse(state, Msg.LINE_DISCOUNTED, line=line.no)
    if line is not None and line.is_return:  # returns: refunded at the price paid or keyed
        return refuse(state, Msg.RETURN_NO_DISCOUNT, line=line.no)
    amount = _amount(sale, line, percent)
    if amount == 0:
        return refuse(state, Msg.DISCOUNT_ZERO)
    approval = Approval(
        Action.DISCOUNT, line=None if line is None else line.no, amount=amount, percent=percent
    )
    if percent > rules.cashier_discount_max:
        return approval
    return approved(replace(state, entry=""), approval, ctx)


def _amount(sale: Sale, line: Line | None, percent: Decimal) -> int:
    """What comes off: the percent of what is left of the line (after its member price
    and promotions), or of what is left of the sale."""
    if line is not None:
        return percent_of(net(line), percent)
    return percent_of(sum(net(ln) for ln in sold(sale)), percent)


def sold(sale: Sale) -> tuple[Line, ...]:
    """The lines a sale discount is shared over: the live lines sold, never a return
    line (what a return gives back is not discounted)."""
    return tuple(ln for ln in sale.live_lines if not ln.is_return)


def approved(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """Give the discount: on its line, or spread over the sale's live lines."""
    sale = state.sale
    assert sale is not None and approval.amount is not None and approval.percent is not None
    percent, by = approval.percent, approval.supervisor
    if approval.line is not None:
        scope = DiscountScope.LINE
        shares = {approval.line: approval.amount}
    else:
        scope = DiscountScope.SALE
        shares = spread(approval.amount, [(ln.no, net(ln)) for ln in sold(sale)])
    lines = tuple(
        _discounted(ln, ManualDiscount(percent, shares[ln.no], scope, by))
        if shares.get(ln.no) and not ln.voided
        else ln
        for ln in sale.lines
    )
    new_sale = replace(sale, lines=lines)
    message = Message.of(
        Msg.DISCOUNT_GIVEN, percent=percent_text(percent), amount=ctx.money(approval.amount)
    )
    after = replace(state, sale=new_sale, entry="", message=message)
    event = ctx.audit(
        after,
        "discount",
        scope=scope.value,
        percent=percent_text(percent),
        amount=approval.amount,
        line=approval.line,
        lines=",".join(f"{no}:{share}" for no, share in sorted(shares.items()) if share),
        supervisor=by or None,
    )
    return after, (SaveSale(new_sale), event)


def _discounted(line: Line, discount: ManualDiscount) -> Line:
    return replace(
        line, discount=line.discount + discount.amount, discounts=(*line.discounts, discount)
    )
