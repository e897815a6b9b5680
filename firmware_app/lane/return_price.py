"""A return without receipt at a keyed price: ``PRICE`` on the return line.

A line returned without receipt comes back at the catalog's current price; when the
customer paid another price, the cashier keys it and presses ``PRICE`` while the
return line is the last one, as a price override on a sold line: a supervisor
approves it (``Action.RETURN_PRICE``, its own action: the ``approval`` names the
price from and to), a reason is chosen, and the line carries its ``override``.
Two rules are the return's own: the
refund at the keyed price counts against ``[sale] return_limit`` with the
transaction's other returns without receipt, and a line returned by receipt comes
back at the price actually paid for it, so it takes no keyed price.
"""

from __future__ import annotations

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.messages import Msg
from firmware_app.lane.money import amount_of
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import Action, LaneState


def action(line: Line) -> Action:
    """What ``PRICE`` on ``line`` asks approved: a return's own price (its own action, so
    a config letting cashiers override prices alone does not let them set refunds)."""
    return Action.RETURN_PRICE if line.is_return else Action.PRICE_OVERRIDE


def refusal(state: LaneState, sale: Sale, line: Line, price: int, ctx: Ctx) -> Outcome | None:
    """Why ``price`` (minor units per piece or per kg) cannot be keyed on the return
    line ``line`` of ``sale``; None for a sold line or a price that fits."""
    if not line.is_return:
        return None
    if line.return_of is not None:
        return refuse(state, Msg.RETURN_AT_PAID_PRICE, line=line.no)
    limit = ctx.setup.rules.return_limit
    others = sum(
        _refund(ln.amount, ln.discount)
        for ln in sale.live_lines
        if ln.is_return and ln.return_of is None and ln.no != line.no
    )
    if others + _refund(amount_of(line.qty, price), line.discount) > limit:
        return refuse(state, Msg.RETURN_OVER_LIMIT, limit=ctx.money(limit))
    return None


def _refund(amount: int, discount: int) -> int:
    """What a return line of ``amount`` and ``discount`` (negative) gives back (positive)."""
    return -(amount - discount)
