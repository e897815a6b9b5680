"""Suspend and resume (挂单/取单): park the open basket, bring a parked one back.

``SUSPEND`` parks the open sale when nothing is tendered yet: the store keeps it
(``ParkSale``, in the same transaction that forgets it as the open sale), a slip
with its suspend number and the number's barcode is queued for the printer in
that transaction too, and the lane is free for the next customer. ``RESUME``
with a number, or the slip scanned, brings it back into an empty basket;
``RESUME`` alone lists the parked sales by number. On resume each line is priced
again from the current catalog: a changed price is applied and shown; an item no
longer sold is voided (it stays on the sale, marked) and shown.

The parked sales live in the store; the state holds the same list (loaded at
start-up, changed only with the effects that change the store), so the core
reads no port for them.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane import late_refund
from firmware_app.lane.barcodes import BarcodeError, CodeKind, parse_scan
from firmware_app.lane.catalog import Item
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import (
    DiscardSale,
    Effect,
    ParkSale,
    PrintReceipt,
    SaveSale,
    UnparkSale,
)
from firmware_app.lane.labels import LabelKind
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import amount_of, format_money
from firmware_app.lane.parked import ParkedSale, SlipCode, slip_code
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import LaneState, Mode

NO_LONGER_SOLD = "✕"

SLIP_LABELS = {
    "zh": {"banner": "挂单", "no": "挂单号", "items": "件数", "total": "合计",
           "lane": "收银台", "cashier": "收银员", "footer": "凭此单到本收银台取单"},
    "en": {"banner": "SUSPENDED", "no": "Suspend no.", "items": "Items", "total": "TOTAL",
           "lane": "Lane", "cashier": "Cashier", "footer": "Show this slip to resume"},
}  # fmt: skip


# --- SUSPEND --------------------------------------------------------------------


def suspend(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """Park the open sale (no tender yet, at least one live line)."""
    sale = state.sale
    if sale is None or not sale.live_lines:
        return refuse(state, Msg.NOTHING_TO_PARK)
    if sale.tenders:  # money has moved on this sale (even if handed back): finish it here
        return refuse(state, Msg.PARK_PAID)
    unanswered = late_refund.refuse_while_unanswered(state, sale, ctx)  # a late refund
    if unanswered is not None:
        return unanswered
    limit = ctx.setup.rules.max_suspended
    if len(state.parked) >= limit:
        return refuse(state, Msg.PARK_FULL, max=limit)
    assert state.cashier is not None
    parked = ParkedSale(state.next_park_no, sale, ctx.now, state.cashier.id)
    event = ctx.audit(state, "suspend", no=parked.no, lines=len(sale.live_lines), total=sale.total)
    after = replace(
        state,
        sale=None,
        entry="",
        qty=None,
        parked=(*state.parked, parked),
        next_park_no=parked.no + 1,
        last_sale=None,  # the customer display goes idle, not back to the last receipt
        message=Message.of(Msg.SALE_PARKED, no=parked.no),
    )
    return after, (ParkSale(parked), event, PrintReceipt(slip(parked, ctx)))


def slip(parked: ParkedSale, ctx: Ctx) -> Receipt:
    """The slip handed to the customer: suspend number, items, total, and the number's
    barcode (``SUSP-{store}-{lane}-{no}``)."""
    setup = ctx.setup
    language = setup.receipt.language

    def label(key: str) -> str:
        if language == "zh-en":
            return f"{SLIP_LABELS['zh'][key]} {SLIP_LABELS['en'][key]}"
        return SLIP_LABELS.get(language, SLIP_LABELS["en"])[key]

    sale = parked.sale
    return Receipt(
        header=setup.receipt.header,
        lines=(),
        totals=(
            (label("no"), str(parked.no)),
            (label("items"), str(sale.item_count)),
            (label("total"), ctx.money(sale.total)),
        ),
        taxes=(),
        tenders=(),
        info=(
            f"{label('lane')}: {setup.store}-{setup.lane}",
            f"{label('cashier')}: {parked.cashier}",
            parked.parked_at.strftime("%Y-%m-%d %H:%M:%S"),
        ),
        footer=(label("footer"),),
        banner=f"{label('banner')} {parked.no}",
        code=slip_code(setup.store, setup.lane, parked.no),
        code_symbol="barcode",  # read back by the lane's scanner, which may read no QR
    )


# --- RESUME ---------------------------------------------------------------------

# Why a slip scanned in a mode other than selling or the list is refused.
SLIP_REFUSALS = {
    Mode.SIGNED_OFF: Msg.SIGN_ON_FIRST,
    Mode.PIN: Msg.SIGN_ON_FIRST,
    Mode.TERMINAL: Msg.TERMINAL_BUSY,
}


def resume_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """``RESUME``: with a number, that parked sale; alone, the list to pick from."""
    if not state.entry:
        return _choose(state, ctx)
    if not (state.entry.isascii() and state.entry.isdigit()):
        return refuse(state, Msg.BAD_ENTRY, key=key)
    return resume(state, int(state.entry), ctx)


def on_slip(state: LaneState, code: SlipCode, ctx: Ctx) -> Outcome:
    """A slip scanned: resume its sale when it was parked on this lane."""
    if state.mode not in (Mode.READY, Mode.CHOOSE_PARKED):
        return refuse(state, SLIP_REFUSALS.get(state.mode, Msg.KEY_NOT_ALLOWED), key="SCAN")
    setup = ctx.setup
    if (code.store, code.lane) != (setup.store, setup.lane):
        lane = code.lane if code.store == setup.store else f"{code.store}-{code.lane}"
        return refuse(state, Msg.PARKED_ELSEWHERE, lane=lane)
    return resume(replace(state, mode=Mode.READY), code.no, ctx, back=state)


def resume(state: LaneState, no: int, ctx: Ctx, back: LaneState | None = None) -> Outcome:
    """Bring parked sale ``no`` back into the empty basket, priced as the catalog now
    says. A refusal leaves ``back`` (the state before, when not ``state``) as it was."""
    before = back or state
    open_sale = state.sale
    if open_sale is not None and (open_sale.lines or open_sale.tenders):
        return refuse(before, Msg.BASKET_NOT_EMPTY)
    parked = next((p for p in state.parked if p.no == no), None)
    if parked is None:
        return refuse(before, Msg.NO_SUCH_PARKED, no=no)
    if open_sale is None and state.drawer_open and ctx.setup.rules.block_sale_while_open:
        return refuse(before, Msg.DRAWER_OPEN)  # as for a new sale: close the drawer first
    assert state.cashier is not None
    # The cashier who takes the money finishes the sale; who parked it is in the event.
    sale, changes = reprice(replace(parked.sale, cashier=state.cashier.id), ctx)
    lines = len(sale.live_lines)
    message = (
        Message.of(Msg.RESUMED_REPRICED, no=no, changes=", ".join(changes))
        if changes
        else Message.of(Msg.SALE_RESUMED, no=no, lines=lines)
    )
    after = replace(
        state,
        mode=Mode.READY,
        sale=sale,
        entry="",
        qty=None,
        parked=tuple(p for p in state.parked if p.no != no),
        message=message,
    )
    effects: list[Effect] = []
    if open_sale is not None:  # an empty sale (a member keyed, nothing else): replaced
        effects.append(DiscardSale(open_sale.id))
    event = ctx.audit(
        after, "resume", no=no, parked_by=parked.cashier, lines=lines, repriced=len(changes)
    )
    effects += [UnparkSale(no, sale.id), SaveSale(sale), event]
    return after, tuple(effects)


def _choose(state: LaneState, ctx: Ctx) -> Outcome:
    if state.sale is not None and (state.sale.lines or state.sale.tenders):
        return refuse(state, Msg.BASKET_NOT_EMPTY)
    if not state.parked:
        return refuse(state, Msg.NOTHING_PARKED)
    message = replace(Message.of(Msg.CHOOSE_PARKED), choices=choices(state, ctx))
    return replace(state, mode=Mode.CHOOSE_PARKED, entry="", message=message), ()


def choices(state: LaneState, ctx: Ctx) -> tuple[Message, ...]:
    """The parked sales, by suspend number: the number the cashier keys."""
    return tuple(
        Message.of(
            Msg.PARKED_CHOICE,
            no=p.no,
            items=p.sale.item_count,
            total=ctx.money(p.sale.total),
            time=p.parked_at.strftime("%H:%M"),
        )
        for p in state.parked
    )


def choose_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """In the list: the number and ENTER (or YES); NO or RESUME leave it."""
    if key in ("NO", "RESUME"):
        return replace(state, mode=Mode.READY, entry="", message=None), ()
    if key not in ("ENTER", "YES"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    no = int(state.entry)
    if not any(p.no == no for p in state.parked):
        listed = replace(Message.of(Msg.NO_SUCH_PARKED, no=no), choices=choices(state, ctx))
        return refused(state, listed)
    return resume(replace(state, mode=Mode.READY), no, ctx, back=state)


def clear_choice(state: LaneState, ctx: Ctx) -> Outcome:
    """CLEAR in the list: the number keyed so far, then the list itself."""
    if state.entry:
        return _choose(replace(state, entry=""), ctx)
    return replace(state, mode=Mode.READY, message=None), ()


def refuse_while_parked(state: LaneState) -> Outcome | None:
    """Sign-off (and the close of day) waits until no sale is parked: the message names
    them. None when nothing is parked."""
    if not state.parked:
        return None
    return refuse(state, Msg.PARKED_SALES, nos=", ".join(str(p.no) for p in state.parked))


# --- prices on resume ----------------------------------------------------------------


def reprice(sale: Sale, ctx: Ctx) -> tuple[Sale, tuple[str, ...]]:
    """``sale`` with each live line at the catalog's current price, and what changed
    (``"name 3.50→3.80"``, or ``"name ✕"`` for an item no longer sold, voided).

    A line priced by its label (an in-store price label, a price in the barcode) keeps
    that price: the label is what the customer was promised; so does a line with a price
    override or a manual discount.
    """
    lines: list[Line] = []
    changes: list[str] = []
    digits = ctx.setup.rules.minor_digits
    for line in sale.lines:
        if line.voided or line.is_return:  # returns: a return line keeps the price paid
            lines.append(line)
            continue
        item, label_priced = current_item(line, ctx)
        if item is None or not item.active:
            lines.append(replace(line, voided=True))
            changes.append(f"{line.name} {NO_LONGER_SOLD}")
            continue
        # Price override and discounts: a price a supervisor set, or a discount worked out
        # on the line's amount, stays as given (a new price under an old discount could
        # take the line below zero).
        adjusted = line.override is not None or bool(line.discounts)
        # Promotions and members: the department and member price as the catalog has
        # them now (the engine prices the resumed basket again).
        member_price = None if label_priced else item.member_price
        line = replace(line, department=item.department, member_price=member_price)
        if item.price == line.unit_price or label_priced or adjusted:
            lines.append(line)
            continue
        lines.append(replace(line, unit_price=item.price, amount=amount_of(line.qty, item.price)))
        old, new = format_money(line.unit_price, digits), format_money(item.price, digits)
        changes.append(f"{line.name} {old}→{new}")
    return replace(sale, lines=tuple(lines)), tuple(changes)


def current_item(line: Line, ctx: Ctx) -> tuple[Item | None, bool]:
    """The catalog's item for ``line`` now, found as the line was (its scanned code, its
    label's PLU, or its keyed PLU; None when gone or now another SKU), and whether the
    line's code carries its price."""
    rules = ctx.setup.rules
    catalog = ctx.ports.catalog
    item: Item | None = None
    label_priced = False
    try:
        code = parse_scan(
            line.code,
            labels=rules.label_formats,
            max_length=rules.max_scan_length,
            minor_digits=rules.minor_digits,
        )
    except BarcodeError:
        code = None
    if code is not None and code.kind is CodeKind.LABEL and code.label is not None:
        item = catalog.by_plu(code.label.plu)
        label_priced = code.label.kind is LabelKind.PRICE
    elif code is not None:
        item = catalog.by_code(code.key)
        label_priced = code.price is not None
    if item is None and line.code.isascii() and line.code.isdigit():
        item = catalog.by_plu(int(line.code))
    return (item if item is not None and item.sku == line.sku else None), label_priced
