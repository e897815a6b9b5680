"""Adding items: by scan (GTIN, in-store label, GS1 element string) or by PLU.

Weighed items take the scale's stable weight unless the code carries one; a
reading that is moving, over capacity, below zero, empty, or older than
``scale_stale_ms`` refuses the item (legal for trade: no price from such a weight).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from firmware_app.lane import members, restrictions, returns
from firmware_app.lane.barcodes import BarcodeError, CodeKind, ScannedCode, parse_scan
from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import Effect, SaveSale
from firmware_app.lane.labels import LabelKind
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import MILLI, amount_of, round_half_up
from firmware_app.lane.pending_item import PendingItem
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import LaneState, Mode
from firmware_app.lane.weighing import ScaleStatus, format_kg

SCALE_REFUSALS = {
    ScaleStatus.MOVING: Msg.SCALE_MOVING,
    ScaleStatus.OVER: Msg.SCALE_OVER,
    ScaleStatus.UNDER: Msg.SCALE_UNDER,
    ScaleStatus.ERROR: Msg.SCALE_ERROR,
    ScaleStatus.SILENT: Msg.SCALE_SILENT,
}


def _can_sell(state: LaneState) -> Msg | None:
    """Why nothing can be added now, or None."""
    if state.mode in (Mode.SIGNED_OFF, Mode.PIN):
        return Msg.SIGN_ON_FIRST
    if state.mode is Mode.TERMINAL:
        return Msg.TERMINAL_BUSY
    if state.mode is not Mode.READY:
        return Msg.KEY_NOT_ALLOWED
    if state.sale is not None and state.sale.live_tenders:
        return Msg.FINISH_PAYMENT
    return None


def _can_start(state: LaneState, ctx: Ctx) -> Msg | None:
    """Why no new sale may start now (a sale already open goes on), or None."""
    if state.sale is None and state.drawer_open and ctx.setup.rules.block_sale_while_open:
        return Msg.DRAWER_OPEN
    return None


def on_scan(state: LaneState, data: str, ctx: Ctx) -> Outcome:
    blocked = _can_sell(state) or _can_start(state, ctx)
    if blocked is not None:
        return refuse(state, blocked, key="SCAN")
    rules = ctx.setup.rules
    try:
        code = parse_scan(
            data,
            labels=rules.label_formats,
            max_length=rules.max_scan_length,
            minor_digits=rules.minor_digits,
        )
    except BarcodeError as e:
        return refuse(state, Msg.BAD_CODE, reason=str(e))
    if code.kind is CodeKind.OTHER and _is_member_card(code.data, rules.member_prefix):
        return set_member(state, code.data[len(rules.member_prefix) :], ctx)
    if code.kind is CodeKind.LABEL:
        assert code.label is not None
        item = ctx.ports.catalog.by_plu(code.label.plu)
        if item is None:
            return refuse(state, Msg.UNKNOWN_PLU, plu=code.label.plu)
    else:
        item = ctx.ports.catalog.by_code(code.key)
        if item is None:
            return refuse(state, Msg.UNKNOWN_CODE, code=code.data)
    return _add(state, item, code.data, ctx, scanned=code)


def _is_member_card(data: str, prefix: str) -> bool:
    return (
        bool(prefix)
        and data.startswith(prefix)
        and data[len(prefix) :].isascii()
        and data[len(prefix) :].isdigit()
    )


def add_by_plu(state: LaneState, plu: int, ctx: Ctx) -> Outcome:
    blocked = _can_sell(state) or _can_start(state, ctx)
    if blocked is not None:
        return refuse(state, blocked, key="PLU")
    item = ctx.ports.catalog.by_plu(plu)
    if item is None:
        return refuse(state, Msg.UNKNOWN_PLU, plu=plu)
    return _add(state, item, str(plu), ctx)


def _add(
    state: LaneState,
    item: Item,
    code: str,
    ctx: Ctx,
    scanned: ScannedCode | None = None,
    answered: LaneState | None = None,
) -> Outcome:
    """``answered``: the lane as the age question's answer found it (restrictions)."""
    if not item.active:
        return refuse(state, Msg.NOT_FOR_SALE, name=item.name)
    # Restrictions: sale hours, then the customer's age (asked before the line is added);
    # neither holds back goods coming back (a return without receipt).
    out_of_hours = None if state.return_next else restrictions.hours_refusal(item, ctx)
    if out_of_hours is not None:
        return refused(state, out_of_hours)
    needed = restrictions.age_to_ask(state.sale, item, ctx.setup.rules, is_return=state.return_next)
    if needed is not None and answered is None:
        return restrictions.ask(state, PendingItem(item, code, needed, scanned))
    sale = state.sale or Sale(id=ctx.ports.new_id(), opened_at=ctx.now, cashier=_cashier(state))
    checked: tuple[Effect, ...] = ()
    if answered is not None and answered.age_pending is not None:
        sale, event = restrictions.confirmed(answered, answered.age_pending, sale, ctx)
        checked = (event,)
    measured = _measure(state, item, scanned, ctx)
    if isinstance(measured, Message):
        return refused(state, measured)
    qty, amount, weight_text = measured.qty, measured.amount, measured.weight_text
    if measured.from_scale:  # the load must change before the next weighing
        state = replace(state, weighed_grams=qty, load_changed=False)
    line = Line(
        no=sale.next_line_no(),
        sku=item.sku,
        code=code,
        name=item.name,
        unit=item.unit,
        qty=qty,
        unit_price=item.price,
        amount=amount,
        tax_rate=item.tax_rate,
        weight_text=weight_text,
        # Promotions and members: what the engine prices the line by. A line priced by
        # its label keeps the label's price: no member price on it.
        department=item.department,
        member_price=item.member_price if amount == amount_of(qty, item.price) else None,
    )
    if state.return_next:  # returns: a return without receipt (approved)
        return returns.add_without_receipt(state, sale, line, ctx)
    sale = sale.add_line(line)
    message = Message.of(Msg.ITEM_ADDED, name=item.name, amount=ctx.money(amount))
    return replace(state, sale=sale, entry="", qty=None, message=message), (
        SaveSale(sale),
        *checked,
    )


def add_confirmed(state: LaneState, ctx: Ctx) -> Outcome:
    """The customer is old enough (restrictions): add the item that waited for it."""
    pending = state.age_pending
    assert pending is not None
    back = replace(state, mode=Mode.READY, age_pending=None, entry="")
    return _add(back, pending.item, pending.code, ctx, scanned=pending.scanned, answered=state)


def _cashier(state: LaneState) -> str:
    assert state.cashier is not None
    return state.cashier.id


@dataclass(frozen=True)
class Measure:
    """One line's quantity (thousandths), amount (minor units) and the scale's own text
    of the weight; ``from_scale`` when the weight was read from the scale just now."""

    qty: int
    amount: int
    weight_text: str = ""
    from_scale: bool = False


def _measure(
    state: LaneState, item: Item, scanned: ScannedCode | None, ctx: Ctx
) -> Measure | Message:
    """How much of ``item`` this line sells, or why not."""
    label = scanned.label if scanned else None
    price = scanned.price if scanned else None
    grams = scanned.grams if scanned else None
    if label is not None:
        price = label.value if label.kind is LabelKind.PRICE else None
        grams = label.value if label.kind is LabelKind.WEIGHT else None
    if item.unit is Unit.EACH:
        if grams is not None:
            return Message.of(Msg.LABEL_MISMATCH, name=item.name)
        if price is not None:
            return Measure(MILLI, price)
        qty = (state.qty or 1) * MILLI
        return Measure(qty, amount_of(qty, item.price))
    if state.qty is not None:
        return Message.of(Msg.QTY_NOT_WEIGHED)
    if grams is None and price is not None:
        return _by_price(item, price)
    if grams is None:
        weighed = _stable_grams(state, ctx)
        if isinstance(weighed, Message):
            return weighed
        grams, text = weighed
        return Measure(grams, amount_of(grams, item.price), text, from_scale=True)
    if grams <= 0:
        return Message.of(Msg.SCALE_EMPTY)
    return Measure(grams, price if price is not None else amount_of(grams, item.price))


def _by_price(item: Item, price: int) -> Measure | Message:
    """A price label: sells at the label's price; its weight, for stock, is price ÷ price per kg."""
    if item.price <= 0:
        return Message.of(Msg.LABEL_MISMATCH, name=item.name)
    return Measure(round_half_up(price * MILLI, item.price), price)


def _stable_grams(state: LaneState, ctx: Ctx) -> tuple[int, str] | Message:
    reading, at = state.scale, state.scale_at
    stale_ms = ctx.setup.rules.scale_stale_ms
    if reading is None or at is None or (ctx.now - at).total_seconds() * 1000 > stale_ms:
        return Message.of(Msg.SCALE_SILENT)
    if reading.status is not ScaleStatus.STABLE:
        return Message.of(SCALE_REFUSALS[reading.status])
    if reading.grams is None or reading.grams <= 0:
        return Message.of(Msg.SCALE_EMPTY)
    minimum = ctx.setup.rules.min_weight_g
    if reading.grams < minimum:
        return Message.of(Msg.SCALE_BELOW_MIN, min=format_kg(minimum))
    if not state.load_changed and reading.grams == state.weighed_grams:
        return Message.of(Msg.SCALE_SAME_WEIGHT)
    return reading.grams, reading.text


def set_member(state: LaneState, member: str, ctx: Ctx) -> Outcome:
    blocked = _can_sell(state)
    if blocked is not None:
        return refuse(state, blocked, key="MEMBER")
    not_a_member = members.refuse_malformed(state, member, ctx)  # before a sale opens for it
    if not_a_member is not None:
        return not_a_member
    sale = state.sale or Sale(id=ctx.ports.new_id(), opened_at=ctx.now, cashier=_cashier(state))
    return members.put_on(state, sale, member, ctx)  # members: checked, then asked about
