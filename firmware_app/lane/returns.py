"""Returns by receipt: find a sale of this lane, pick its lines, refund what was paid.

``RETURN`` with a receipt number asks ``ReturnsPort`` for that sale and lists its
lines with what can still be returned; the cashier keys a line number and
``ENTER`` (all that is left of it), or ``n QTY`` first (n pieces; a weighed line
returns whole). ``SUBTOTAL`` ends the picking; the refund is then tendered like a
payment (``paying``).

A line is refunded at the price actually paid for it (its amount less its
discount). A part of a line gets the part of the amount and of the discount that
the pieces returned so far, counted together, come to (``share``): so the parts of
a line returned in several goes always add up to exactly what was paid for it.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.catalog import Unit
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import SaveSale
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import MILLI, format_qty, round_half_up
from firmware_app.lane.return_source import NotReturnable, ReturnSource
from firmware_app.lane.sale import Line, ReturnRef, Sale, SaleKind
from firmware_app.lane.state import Action, Approval, LaneState, Mode

NOT_RETURNABLE = {
    NotReturnable.UNKNOWN: Msg.RETURN_NOT_FOUND,
    NotReturnable.PRUNED: Msg.RETURN_TOO_OLD,
    NotReturnable.TRAINING: Msg.RETURN_TRAINING,
}


def share(total: int, sold: int, before: int, now: int) -> int:
    """The part of ``total`` (minor units) that ``now`` more of ``sold`` (thousandths)
    come to, after ``before`` were returned: f(before + now) − f(before), with
    f(n) = round-half-up(total × n / sold). The shares of all returns of a line add
    up to exactly ``total`` however the line is split."""
    if sold <= 0:
        raise ValueError("sold must be positive")
    return round_half_up(total * (before + now), sold) - round_half_up(total * before, sold)


# --- RETURN: find the sale ------------------------------------------------------------


def return_key(state: LaneState, key: str, ctx: Ctx) -> Outcome | Approval:
    """``RETURN`` with a receipt number of this lane: list that sale's lines; alone: a
    return without receipt, which a supervisor approves first (the Approval to ask)."""
    if state.sale is not None and state.sale.live_tenders:
        return refuse(state, Msg.FINISH_PAYMENT)
    if not state.entry:
        return Approval(Action.RETURN_NO_RECEIPT)
    if not state.entry.isdigit() or int(state.entry) < 1:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    return start(state, int(state.entry), ctx)


def on_receipt_scan(state: LaneState, data: str, ctx: Ctx) -> Outcome | None:
    """A receipt's barcode (``{store}-{lane}-{receipt_no}``) scanned: a return from it,
    or, for another lane's receipt, a refusal (only the store server has that sale).
    None when ``data`` is no receipt of this store."""
    store, lane = ctx.setup.store, ctx.setup.lane
    if not data.startswith(store + "-"):
        return None
    its_lane, _, number = data[len(store) + 1 :].rpartition("-")
    # ASCII digits only: str.isdigit also takes "²" (int() refuses it) and "١٢".
    if not its_lane or not (number.isascii() and number.isdigit()) or int(number) < 1:
        return None
    if its_lane != lane:
        return refuse(state, Msg.RETURN_OTHER_LANE, lane=its_lane)
    if state.mode not in (Mode.READY, Mode.CHOOSE_RETURN):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key="RETURN")
    if state.sale is not None and state.sale.live_tenders:
        return refuse(state, Msg.FINISH_PAYMENT)
    return start(state, int(number), ctx)


def start(state: LaneState, receipt_no: int, ctx: Ctx) -> Outcome:
    port = ctx.ports.returns
    if port is None:
        return refuse(state, Msg.RETURN_NOT_HERE)
    found = port.sale_by_receipt(receipt_no)
    if isinstance(found, NotReturnable):
        return refuse(state, NOT_RETURNABLE[found], receipt=receipt_no)
    if found.kind is not SaleKind.SALE or not any(_returnable(found, ln) for ln in found.lines):
        if found.kind is SaleKind.RETURN:
            return refuse(state, Msg.RETURN_OF_RETURN, receipt=receipt_no)
        return refuse(state, Msg.RETURN_NOT_FOUND, receipt=receipt_no)  # a cancelled sale
    picking = replace(state, mode=Mode.CHOOSE_RETURN, returning=found, entry="", qty=None)
    return replace(picking, message=_list(picking, ctx)), ()


def _returnable(source: ReturnSource, line: Line) -> bool:
    return not line.voided and not line.is_return


def left(state: LaneState, source: ReturnSource, line: Line) -> int:
    """What can still be returned of ``line`` (thousandths): sold, less earlier returns,
    less what the open basket and the parked sales already give back (a parked return
    is resumed later: the same goods must not come back twice meanwhile)."""
    ref = ReturnRef(source.lane, source.receipt_no, line.no)
    baskets = [p.sale for p in state.parked]
    if state.sale is not None:
        baskets.append(state.sale)
    pending = -sum(ln.qty for s in baskets for ln in s.live_lines if ln.return_of == ref)
    return line.qty - source.already_returned(line.no) - pending


def _list(state: LaneState, ctx: Ctx, head: Message | None = None) -> Message:
    source = state.returning
    assert source is not None
    choices = tuple(
        Message.of(
            Msg.RETURN_CHOICE,
            no=line.no,
            name=line.name,
            left=_qty_text(left(state, source, line), line.unit),
            sold=_qty_text(line.qty, line.unit),
        )
        for line in source.lines
        if _returnable(source, line)
    )
    message = head or Message.of(Msg.CHOOSE_RETURN, receipt=source.receipt_no)
    return replace(message, choices=choices)


def _qty_text(milli: int, unit: Unit) -> str:
    return format_qty(milli) + ("kg" if unit is Unit.KG else "")


# --- picking lines ----------------------------------------------------------------------


def choose_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """In the list: ``QTY`` after n, the line number and ``ENTER``; ``SUBTOTAL`` ends."""
    if key == "SUBTOTAL" or key == "NO":
        return _done(state, ctx)
    if key == "QTY":
        return _qty(state, ctx)
    if key not in ("ENTER", "YES"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry or not state.entry.isdigit():
        return refuse(state, Msg.NEEDS_ENTRY if not state.entry else Msg.BAD_ENTRY, key=key)
    return pick(state, int(state.entry), ctx)


def _qty(state: LaneState, ctx: Ctx) -> Outcome:
    if not state.entry or not state.entry.isdigit() or int(state.entry) < 1:
        return refuse(state, Msg.NEEDS_ENTRY if not state.entry else Msg.BAD_ENTRY, key="QTY")
    qty = int(state.entry)
    if qty > ctx.setup.rules.max_quantity:
        return refuse(state, Msg.QTY_TOO_BIG, max=ctx.setup.rules.max_quantity)
    return replace(state, entry="", qty=qty, message=Message.of(Msg.QTY_SET, qty=qty)), ()


def pick(state: LaneState, no: int, ctx: Ctx) -> Outcome:
    """Return line ``no`` of the listed sale: all that is left, or ``state.qty`` pieces."""
    source = state.returning
    assert source is not None
    line = next((ln for ln in source.lines if ln.no == no and _returnable(source, ln)), None)
    if line is None:
        return refused(state, _list(state, ctx, Message.of(Msg.NO_SUCH_LINE, line=no)))
    remaining = left(state, source, line)
    if remaining <= 0:
        return refused(state, _list(state, ctx, Message.of(Msg.RETURN_NOTHING_LEFT, line=no)))
    if state.qty is not None and line.unit is Unit.KG:
        return refuse(state, Msg.RETURN_WHOLE_LINE, line=no)
    qty = remaining if state.qty is None else state.qty * MILLI
    if qty > remaining:
        too_many = Message.of(Msg.RETURN_TOO_MANY, line=no, left=_qty_text(remaining, line.unit))
        return refused(state, _list(state, ctx, too_many))
    sale = state.sale or Sale(id=ctx.ports.new_id(), opened_at=ctx.now, cashier=_cashier(state))
    back = _return_line(line, source, sale.next_line_no(), line.qty - remaining, qty)
    sale = sale.add_line(back)
    after = replace(state, sale=sale, entry="", qty=None)
    amount = ctx.money(line_refund(back))
    shown = _qty_text(qty, line.unit)
    added = Message.of(Msg.RETURN_ADDED, qty=shown, name=line.name, amount=amount)
    return replace(after, message=_list(after, ctx, added)), (SaveSale(sale),)


def _return_line(line: Line, source: ReturnSource, no: int, before: int, qty: int) -> Line:
    """The return of ``qty`` (thousandths) of ``line`` after ``before`` were given back
    (earlier returns and this basket), at the price paid for them. Its discount is its
    part of the sold line's whole discount; what that was made of (member saving,
    promotions, manual discounts) stays on the sold line, which ``return_of`` names."""
    return replace(
        line,
        no=no,
        qty=-qty,
        amount=-share(line.amount, line.qty, before, qty),
        discount=-share(line.discount, line.qty, before, qty),
        member_saving=0,
        promotions=(),
        discounts=(),
        voided=False,
        return_of=ReturnRef(source.lane, source.receipt_no, line.no),
    )


def line_refund(line: Line) -> int:
    """What a return line gives back (minor units, positive)."""
    return -(line.amount - line.discount)


def _done(state: LaneState, ctx: Ctx) -> Outcome:
    after = replace(state, mode=Mode.READY, returning=None, entry="", qty=None)
    if after.sale is None:
        return replace(after, message=None), ()
    return replace(after, message=Message.of(Msg.SUBTOTAL, due=ctx.money(after.sale.due))), ()


def clear(state: LaneState, ctx: Ctx) -> Outcome:
    """CLEAR in the list: what was keyed, then the list itself."""
    if state.entry or state.qty is not None:
        picking = replace(state, entry="", qty=None)
        return replace(picking, message=_list(picking, ctx)), ()
    return _done(state, ctx)


def _cashier(state: LaneState) -> str:
    assert state.cashier is not None
    return state.cashier.id


def kind_of(sale: Sale) -> SaleKind:
    """A transaction of return lines only is a return; anything sold makes it a sale."""
    live = sale.live_lines
    return SaleKind.RETURN if live and all(ln.is_return for ln in live) else SaleKind.SALE


# --- without a receipt -------------------------------------------------------------------


def no_receipt_approved(state: LaneState, ctx: Ctx) -> Outcome:
    """The next item scanned or keyed comes back, at its current price."""
    after = replace(state, return_next=True, entry="", message=Message.of(Msg.RETURN_SCAN_ITEM))
    return after, ()


def add_without_receipt(state: LaneState, sale: Sale, line: Line, ctx: Ctx) -> Outcome:
    """``line`` (as it would sell now) comes back: negative, ``return_of`` None; refused
    when the transaction's returns without receipt would give back more than the limit."""
    back = replace(line, qty=-line.qty, amount=-line.amount, discount=-line.discount)
    limit = ctx.setup.rules.return_limit
    unreceipted = [ln for ln in sale.live_lines if ln.is_return and ln.return_of is None]
    if sum(line_refund(ln) for ln in (*unreceipted, back)) > limit:
        return refuse(state, Msg.RETURN_OVER_LIMIT, limit=ctx.money(limit))
    sale = sale.add_line(back)
    shown = _qty_text(line.qty, line.unit)
    amount = ctx.money(line_refund(back))
    message = Message.of(Msg.RETURN_ADDED, qty=shown, name=line.name, amount=amount)
    after = replace(state, sale=sale, entry="", qty=None, return_next=False, message=message)
    return after, (SaveSale(sale),)
