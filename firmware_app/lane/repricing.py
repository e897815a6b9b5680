"""Price override: ``PRICE`` sets a new unit price on the last line.

The entry is the new unit price in currency units (as for ``CASH``), per piece or
per kg. It needs a supervisor (``Action.PRICE_OVERRIDE``; on a line returned without
receipt ``Action.RETURN_PRICE``, see ``return_price``; ``machine._approved``),
then the cashier picks a reason from ``[sale] price_reasons`` (its number and
``ENTER``). The line then carries the new price and amount (a weighed line:
weight × new price, half up, as when it was sold) and its ``override`` record,
and a ``price_override`` event is recorded with the saved sale.

Refused: no live line, a line with a manual discount (its discount was worked
out on the old amount), a sale with tenders or a sale discount, a price of zero
or above ``max_override_price``, the price the line has already.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane import return_price
from firmware_app.lane.adjustments import DiscountScope, PriceOverride
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import SaveSale
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import amount_of, parse_money
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import Approval, LaneState, Mode


def asked(state: LaneState, key: str, ctx: Ctx) -> Approval | Outcome:
    """What ``PRICE`` asks a supervisor to approve (``line``, and the new unit price as
    ``amount``), or the refusal."""
    sale = state.sale
    if sale is not None and sale.live_tenders:
        return refuse(state, Msg.FINISH_PAYMENT)
    if sale is None or not sale.live_lines:
        return refuse(state, Msg.NO_LINE)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    try:
        price = parse_money(state.entry, ctx.setup.rules.minor_digits)
    except ValueError:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    line = sale.live_lines[-1]
    if price <= 0 or price == line.unit_price:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    limit = ctx.setup.rules.max_override_price
    if price > limit:
        return refuse(state, Msg.PRICE_TOO_HIGH, max=ctx.money(limit))
    locked = discounted(state, sale, line)
    if locked is not None:
        return locked
    # Returns without receipt at a keyed price: the return's own limits.
    returned = return_price.refusal(state, sale, line, price, ctx)
    if returned is not None:
        return returned
    return Approval(return_price.action(line), line=line.no, amount=price)


def discounted(state: LaneState, sale: Sale, line: Line) -> Outcome | None:
    """The refusal when a manual discount was worked out on what would change."""
    if has_sale_discount(sale):
        return refuse(state, Msg.SALE_DISCOUNTED)
    if line.discounts:
        return refuse(state, Msg.LINE_DISCOUNTED, line=line.no)
    return None


def approved(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """The supervisor said yes: ask the reason."""
    assert state.sale is not None and approval.line is not None and approval.amount is not None
    line = _line(state.sale, approval.line)
    message = replace(
        Message.of(Msg.PRICE_REASON, name=line.name, price=ctx.money(approval.amount)),
        choices=_choices(ctx.setup.rules.price_reasons),
    )
    return replace(state, mode=Mode.PRICE_REASON, entry="", repricing=approval, message=message), ()


def reason_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """The reason's number and ENTER (or YES); NO leaves the price as it was."""
    if key == "NO":
        return drop(state)
    if key not in ("ENTER", "YES"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    reasons = ctx.setup.rules.price_reasons
    no = int(state.entry)
    if not 1 <= no <= len(reasons):
        wrong = replace(Message.of(Msg.NO_SUCH_REASON, no=no), choices=_choices(reasons))
        return refused(replace(state, entry=""), wrong)
    return _reprice(state, reasons[no - 1], ctx)


def clear(state: LaneState) -> Outcome:
    """CLEAR while choosing: the number keyed so far, then the override itself."""
    if state.entry:
        return replace(state, entry=""), ()
    return drop(state)


def drop(state: LaneState) -> Outcome:
    after = replace(state, mode=Mode.READY, entry="", repricing=None)
    return replace(after, message=Message.of(Msg.PRICE_DROPPED)), ()


def _reprice(state: LaneState, reason: str, ctx: Ctx) -> Outcome:
    approval = state.repricing
    sale = state.sale
    assert approval is not None and approval.line is not None and approval.amount is not None
    assert sale is not None
    line = _line(sale, approval.line)
    price = approval.amount
    # ``by`` is never empty: with no approver (the config lets the cashier), it is them.
    cashier = state.cashier.id if state.cashier is not None else ""
    record = PriceOverride(line.unit_price, price, reason, approval.supervisor or cashier)
    changed = replace(line, unit_price=price, amount=amount_of(line.qty, price), override=record)
    new_sale = replace(sale, lines=tuple(changed if ln.no == line.no else ln for ln in sale.lines))
    was, now = ctx.money(record.was), ctx.money(record.now)
    message = Message.of(Msg.PRICE_CHANGED, name=line.name, was=was, now=now, reason=reason)
    after = replace(
        state, sale=new_sale, mode=Mode.READY, entry="", repricing=None, message=message
    )
    event = ctx.audit(
        after,
        "price_override",
        line=line.no,
        sku=line.sku,
        **{"from": record.was, "to": record.now},
        amount_from=line.amount,
        amount_to=changed.amount,
        reason=reason,
        supervisor=approval.supervisor or None,
    )
    return after, (SaveSale(new_sale), event)


def has_sale_discount(sale: Sale) -> bool:
    return any(d.scope is DiscountScope.SALE for ln in sale.live_lines for d in ln.discounts)


def _line(sale: Sale, no: int) -> Line:
    return next(ln for ln in sale.lines if ln.no == no)


def _choices(reasons: tuple[str, ...]) -> tuple[Message, ...]:
    return tuple(
        Message.of(Msg.REASON_CHOICE, no=no, reason=reason) for no, reason in enumerate(reasons, 1)
    )
