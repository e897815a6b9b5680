"""The open sale priced by the pricing engine, after every change of its basket.

``priced_outcome`` runs after each event the core handles: when the open sale changed
(a line added or voided, a quantity, a member set or removed, a sale resumed) or, on a
``Tick``, when the clock may have crossed a promotion's window, the engine
(``lane.pricing.price_basket``) prices the basket again and each line gets its member
saving and promotions. Only a sale with nothing tendered is priced: once money is
taken its total is fixed. (``machine.handle`` is the event's outcome priced; the lane
loop saves the outcome first and prices after, ``machine.price_after``.)

What the engine prices: the live sold lines. A return line keeps the discount it gives
back; a line whose price a supervisor overrode keeps that price, with no member price
and no promotion on top (the override is the price agreed for it).

A line's ``discount`` = member saving + its promotions' shares + its manual discounts.
Manual discounts (``DISC``) are percents of what is left after the promotions: while
the engine's result stays the same they stay as given; when it changes they are worked
out again from their percents (a line's on its new net, the sale's over the new nets,
spread as ``discounting.spread`` does), so no line ever goes below zero and the
approved percent is what the customer gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from firmware_app.lane.adjustments import DiscountScope, ManualDiscount
from firmware_app.lane.context import Ctx, Outcome
from firmware_app.lane.discounting import percent_of, spread
from firmware_app.lane.effects import Effect, SaveSale
from firmware_app.lane.pricing import BasketLine, LinePrice, price_basket
from firmware_app.lane.promotions import Promotion
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import LaneState

NO_PRICE = LinePrice()


def priced_outcome(
    before: LaneState,
    outcome: Outcome,
    ctx: Ctx,
    promotions: Sequence[Promotion],
    *,
    tick: bool = False,
) -> Outcome:
    """``outcome`` with its open sale priced again when its basket changed (or on a
    tick, when the clock may have crossed a window): the state's sale and the
    ``SaveSale`` that persists it carry the same priced sale; a tick that changed the
    prices saves the sale."""
    state, effects = outcome
    sale = state.sale
    if sale is None or sale.live_tenders:
        return outcome
    if sale is before.sale and not tick:
        return outcome
    if tick and not any(_timed(p) for p in promotions):
        return outcome
    new = priced(sale, promotions, ctx)
    if new == sale:
        return outcome
    saved = False
    out: list[Effect] = []
    for effect in effects:
        if isinstance(effect, SaveSale) and effect.sale.id == new.id:
            effect, saved = SaveSale(new), True
        out.append(effect)
    if not saved:
        out.append(SaveSale(new))
    return replace(state, sale=new), tuple(out)


def _timed(promotion: Promotion) -> bool:
    return promotion.hours is not None or promotion.starts is not None or promotion.ends is not None


def priced(sale: Sale, promotions: Sequence[Promotion], ctx: Ctx) -> Sale:
    """``sale`` with every line's member saving, promotions and manual discounts as the
    engine prices its basket now."""
    basket = tuple(_basket_line(line) for line in sale.lines if _engine_prices(line))
    prices = (
        price_basket(basket, member=sale.member is not None, now=ctx.now, promotions=promotions)
        if basket
        else {}
    )
    changed = False
    lines: list[Line] = []
    for line in sale.lines:
        if line.voided or line.is_return:
            lines.append(line)
            continue
        price = prices.get(line.no, NO_PRICE)
        if line.member_saving != price.member_saving or line.promotions != price.promotions:
            changed = True
            line = replace(line, member_saving=price.member_saving, promotions=price.promotions)
        lines.append(line)
    if not changed:
        return sale
    return replace(sale, lines=_with_manual_discounts(lines))


def _engine_prices(line: Line) -> bool:
    return not line.voided and not line.is_return and line.override is None


def _basket_line(line: Line) -> BasketLine:
    return BasketLine(
        no=line.no,
        sku=line.sku,
        department=line.department,
        unit=line.unit,
        qty=line.qty,
        price=line.unit_price,
        member_price=line.member_price,
        amount=line.amount,
    )


def _promotional(line: Line) -> int:
    return line.member_saving + sum(share.discount for share in line.promotions)


def _with_manual_discounts(lines: list[Line]) -> tuple[Line, ...]:
    """Each line's manual discounts worked out again on what the promotions left, then
    each line's ``discount`` as their sum with the member saving and promotions."""
    if not any(line.discounts for line in lines):  # the usual basket: promotions only
        return tuple(
            line
            if line.voided or line.is_return or line.discount == _promotional(line)
            else replace(line, discount=_promotional(line))
            for line in lines
        )
    after_line: list[Line] = []
    for line in lines:
        if line.voided or line.is_return:
            after_line.append(line)
            continue
        net = line.amount - _promotional(line)
        discounts = tuple(
            replace(d, amount=min(percent_of(net, d.percent), net))
            if d.scope is DiscountScope.LINE
            else d
            for d in line.discounts
        )
        after_line.append(replace(line, discounts=discounts))
    return _with_sale_discount(after_line)


def _with_sale_discount(lines: list[Line]) -> tuple[Line, ...]:
    given = next(
        (d for ln in lines if not ln.voided for d in ln.discounts if d.scope is DiscountScope.SALE),
        None,
    )
    nets = {
        ln.no: ln.amount - _promotional(ln) - _manual(ln, DiscountScope.LINE)
        for ln in lines
        if not ln.voided and not ln.is_return
    }
    shares: dict[int, int] = {}
    if given is not None:
        total = percent_of(sum(nets.values()), given.percent)
        shares = spread(total, sorted(nets.items()))
    out: list[Line] = []
    for line in lines:
        if line.voided or line.is_return:
            out.append(line)
            continue
        kept = tuple(d for d in line.discounts if d.scope is DiscountScope.LINE)
        if given is not None and shares.get(line.no):
            kept = (
                *kept,
                ManualDiscount(given.percent, shares[line.no], DiscountScope.SALE, given.by),
            )
        line = replace(line, discounts=kept)
        out.append(replace(line, discount=_promotional(line) + _manual(line, None)))
    return tuple(out)


def _manual(line: Line, scope: DiscountScope | None) -> int:
    return sum(d.amount for d in line.discounts if scope is None or d.scope is scope)
