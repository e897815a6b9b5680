"""Paid-in and paid-out: cash put into or taken out of the drawer outside a sale.

``PAIDIN`` / ``PAIDOUT`` take the keyed amount (currency units, as for ``CASH``) and
need a supervisor (``machine._approved``); then the cashier picks a reason from the
configured list (its number and ``ENTER``). The movement is stored and its event
recorded before the drawer opens: the effects come back in that order.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.cash_movement import CashKind, CashMovement
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import KickDrawer, RecordCashMovement
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import parse_money
from firmware_app.lane.state import Action, Approval, LaneState, Mode

KINDS = {"PAIDIN": CashKind.IN, "PAIDOUT": CashKind.OUT}
ACTIONS = {CashKind.IN: Action.PAID_IN, CashKind.OUT: Action.PAID_OUT}


def keyed(state: LaneState, key: str, ctx: Ctx) -> Approval | Outcome:
    """What ``PAIDIN`` / ``PAIDOUT`` asks a supervisor to approve, or the refusal: only
    with no sale open, with an amount above zero and not above the largest cash tender."""
    if state.sale is not None:
        return refuse(state, Msg.SALE_OPEN)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    try:
        amount = parse_money(state.entry, ctx.setup.rules.minor_digits)
    except ValueError:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    if amount <= 0:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    limit = ctx.setup.rules.max_cash_tender
    if amount > limit:
        return refuse(state, Msg.CASH_TOO_LARGE, max=ctx.money(limit))
    return Approval(ACTIONS[KINDS[key]], amount=amount)


def approved(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """The supervisor said yes: ask for the reason (none configured: record at once)."""
    assert approval.amount is not None and state.cashier is not None
    kind = CashKind.IN if approval.action is Action.PAID_IN else CashKind.OUT
    movement = CashMovement(
        ctx.ports.new_id(),
        kind,
        approval.amount,
        "",
        state.cashier.id,
        approval.supervisor,
        ctx.now,
    )
    after = replace(state, entry="", movement=movement)
    if not _reasons(after, ctx):
        return _record(after, movement, ctx)
    return replace(after, mode=Mode.CASH_REASON, message=_question(movement, ctx)), ()


def reason_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """The reason's number and ENTER (or YES); NO drops the movement."""
    movement = state.movement
    assert movement is not None
    if key == "NO":
        return drop(state)
    if key not in ("ENTER", "YES"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    reasons = _reasons(state, ctx)
    no = int(state.entry)
    if not 1 <= no <= len(reasons):
        wrong = replace(Message.of(Msg.NO_SUCH_REASON, no=no), choices=_choices(reasons))
        return refused(replace(state, entry=""), wrong)
    return _record(state, replace(movement, reason=reasons[no - 1]), ctx)


def clear(state: LaneState) -> Outcome:
    """CLEAR while choosing: the number keyed so far, then the movement itself."""
    if state.entry:
        return replace(state, entry=""), ()
    return drop(state)


def drop(state: LaneState) -> Outcome:
    """Nothing recorded, the drawer stays shut."""
    after = replace(state, mode=Mode.READY, entry="", movement=None)
    return replace(after, message=Message.of(Msg.CASH_DROPPED)), ()


def _record(state: LaneState, movement: CashMovement, ctx: Ctx) -> Outcome:
    """Stored and its event recorded, then the drawer opens."""
    after = replace(state, mode=Mode.READY, entry="", movement=None)
    amount = ctx.money(movement.amount)
    done = Msg.PAID_IN_DONE if movement.kind is CashKind.IN else Msg.PAID_OUT_DONE
    after = replace(after, message=Message.of(done, amount=amount, reason=movement.reason))
    details = {
        "movement": movement.id,
        "amount": movement.amount,
        "reason": movement.reason,
        "supervisor": movement.supervisor,
    }
    if movement.kind is CashKind.IN:
        event = ctx.audit(after, "cash_in", **details)
    else:
        event = ctx.audit(after, "cash_out", **details)
    return after, (RecordCashMovement(movement), event, KickDrawer())


def _reasons(state: LaneState, ctx: Ctx) -> tuple[str, ...]:
    rules = ctx.setup.rules
    movement = state.movement
    assert movement is not None
    return rules.paid_in_reasons if movement.kind is CashKind.IN else rules.paid_out_reasons


def _question(movement: CashMovement, ctx: Ctx) -> Message:
    rules = ctx.setup.rules
    kind = movement.kind
    reasons = rules.paid_in_reasons if kind is CashKind.IN else rules.paid_out_reasons
    ask = Msg.PAID_IN_REASON if kind is CashKind.IN else Msg.PAID_OUT_REASON
    return replace(Message.of(ask, amount=ctx.money(movement.amount)), choices=_choices(reasons))


def _choices(reasons: tuple[str, ...]) -> tuple[Message, ...]:
    return tuple(
        Message.of(Msg.REASON_CHOICE, no=no, reason=reason) for no, reason in enumerate(reasons, 1)
    )
