"""``handle(state, event, now, ctx) -> (state', effects)``: the whole lane, as a function.

Keypad semantics follow spec/lane-input.md. Every refusal leaves the state as
it was except for the message shown (the entry and a pending quantity stay),
and asks for no effect, so "a clear message and nothing changed" holds by
construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from firmware_app.lane import (
    approvals,
    basket_pricing,
    cash,
    discounting,
    lockout,
    members,
    paying,
    reporting,
    repricing,
    restrictions,
    returns,
    roles,
    selling,
    suspending,
    terminal,
    training,
)
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.devices import FINE, Device, StateWord
from firmware_app.lane.effects import (
    DiscardSale,
    KickDrawer,
    PrintReceipt,
    SaveSale,
    SaveSession,
    SendScaleCommand,
)
from firmware_app.lane.events import (
    DeviceState,
    DrawerSwitch,
    Event,
    KeyPressed,
    MemberAnswer,
    PaymentResult,
    ReceiptsPending,
    SaveFailed,
    ScaleCommandResult,
    ScaleUpdate,
    Scanned,
    Tick,
)
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.parked import read_slip_code
from firmware_app.lane.pending_item import PendingItem
from firmware_app.lane.ports import Ports
from firmware_app.lane.promotions import Promotion
from firmware_app.lane.receipt_builder import with_banner
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import Action, Approval, LaneState, Mode
from firmware_app.lane.weighing import ScaleCommand, ScaleReading, ScaleStatus

DIGIT_KEYS = frozenset([*(str(d) for d in range(10)), "00"])
LATER_KEYS: frozenset[str] = frozenset()
MAX_ENTRY = 20  # digits; longer is a stuck key or a mistake


def handle(
    state: LaneState, event: Event, now: datetime, ports: Ports, setup: LaneSetup
) -> Outcome:
    """The event's outcome, with the open sale priced again whenever its basket changed
    (promotions and members): ``price_after(handle_event(...))``."""
    outcome = handle_event(state, event, now, ports, setup)
    return price_after(state, outcome, event, now, ports, setup)


def handle_event(
    state: LaneState, event: Event, now: datetime, ports: Ports, setup: LaneSetup
) -> Outcome:
    """The event's outcome before the open sale is priced again. The lane loop saves
    this (a scanned line is on disk without waiting for the promotions), then takes
    ``price_after``'s state; the priced lines go to disk with the sale's next write."""
    return _handle(state, event, Ctx(ports, setup, now))


def price_after(
    before: LaneState,
    outcome: Outcome,
    event: Event,
    now: datetime,
    ports: Ports,
    setup: LaneSetup,
) -> Outcome:
    """``outcome`` (of ``event`` on ``before``) with its open sale priced again when its
    basket changed, or on a tick that may have crossed a promotion's window."""
    ctx = Ctx(ports, setup, now)
    return basket_pricing.priced_outcome(
        before, outcome, ctx, _promotions(ctx), tick=isinstance(event, Tick)
    )


def price_open_sale(state: LaneState, now: datetime, ports: Ports, setup: LaneSetup) -> LaneState:
    """``state`` with its open sale priced as the engine prices it now (a sale restored
    at start: what was on disk may predate its last pricing); a sale with money taken
    keeps its prices."""
    sale = state.sale
    if sale is None or sale.live_tenders:
        return state
    ctx = Ctx(ports, setup, now)
    priced = basket_pricing.priced(sale, _promotions(ctx), ctx)
    return state if priced is sale else replace(state, sale=priced)


def _promotions(ctx: Ctx) -> tuple[Promotion, ...]:
    return ctx.ports.catalog.promotions()


def _handle(state: LaneState, event: Event, ctx: Ctx) -> Outcome:
    now = ctx.now
    match event:
        case KeyPressed(key=key):
            return _key(state, key, ctx)
        case Scanned(data=data):
            # Roles and approvals: a badge only ever approves; a technician never sells.
            if approvals.is_badge(data, ctx):
                return approvals.on_badge(state, data, ctx, _approved)
            not_theirs = roles.refuse_key(state, "SCAN", ctx)
            if not_theirs is not None:
                return not_theirs
            if terminal.holds_answer(state):
                assert state.payment is not None
                return refused(state, terminal.unsaved_message(state.payment, ctx))
            receipt = returns.on_receipt_scan(state, data, ctx)  # returns: a receipt
            if receipt is not None:
                return receipt
            slip = read_slip_code(data)  # suspend and resume: a parked sale's slip
            if slip is not None:
                return suspending.on_slip(state, slip, ctx)
            return selling.on_scan(state, data, ctx)
        case ScaleUpdate(reading=reading):
            return _scale_update(state, reading, now), ()
        case ScaleCommandResult():
            return replace(state, message=_scale_result(event)), ()
        case PaymentResult():
            return terminal.on_result(state, event, ctx)
        case DrawerSwitch(is_open=is_open):
            return _drawer_switch(state, is_open, now), ()
        case Tick():
            return _tick(state, ctx)
        case DeviceState():
            return _device(state, event), ()
        case ReceiptsPending(count=count):
            return _receipts_pending(state, count), ()
        case SaveFailed(cause=cause):
            return terminal.on_save_failed(state, cause, ctx)
        case MemberAnswer():  # members: the store server's word on the sale's member
            return members.on_answer(state, event, ctx)
        case _:
            return state, ()


def _scale_update(state: LaneState, reading: ScaleReading, now: datetime) -> LaneState:
    """Keep the reading; note when the platter's load changed since the last weighing.

    Only what proves a new load counts: a stable weight other than the one sold
    last, an empty platter, or a reading below zero (the load was lifted). A
    moving, silent, erroneous or over-capacity answer proves nothing: the same
    item jiggled, or a cable pulled for a moment, must not let it be sold twice.
    """
    stable = reading.status is ScaleStatus.STABLE
    new_load = (stable and (reading.grams != state.weighed_grams or reading.grams == 0)) or (
        reading.status is ScaleStatus.UNDER
    )
    return replace(state, scale=reading, scale_at=now, load_changed=state.load_changed or new_load)


def _drawer_switch(state: LaneState, is_open: bool, now: datetime) -> LaneState:
    if is_open == state.drawer_open:
        return state
    return replace(
        state, drawer_open=is_open, drawer_open_since=now if is_open else None, drawer_alerted=False
    )


# Problems for the status line only: the lane sells offline by design, so a broker out
# of reach is no news for the cashier.
STATUS_LINE_ONLY = frozenset([(Device.BROKER, StateWord.OFFLINE)])
# What the cashier cannot fix (the broker refusing the lane, an outbox backlog): the
# message sends for the technician.
TECHNICIAN_DEVICES = frozenset([Device.BROKER, Device.OUTBOX])
PROBLEM_MESSAGES = (Msg.DEVICE_PROBLEM, Msg.CALL_TECHNICIAN)


def _device(state: LaneState, event: DeviceState) -> LaneState:
    """Keep each device's state; tell the cashier when one goes wrong or comes back."""
    devices = dict(state.devices)
    before = devices.get(event.device)
    devices[event.device] = event.state
    ordered = sorted(devices.items(), key=lambda item: item[0].value)
    after = replace(state, devices=tuple(ordered))
    if before is event.state or _keeps_message(state):
        return after  # a problem shows on the status line in any case
    if (event.device, event.state) in STATUS_LINE_ONLY:
        return after
    name = event.device.value
    if event.state not in FINE:
        kind = Msg.CALL_TECHNICIAN if event.device in TECHNICIAN_DEVICES else Msg.DEVICE_PROBLEM
        return replace(after, message=Message.of(kind, device=name, state=event.state.value))
    shown = state.message
    if shown is not None and shown.id in PROBLEM_MESSAGES and shown.arg("device") == name:
        return replace(after, message=Message.of(Msg.DEVICE_OK, device=name))
    return after


def _keeps_message(state: LaneState) -> bool:
    """The change to hand back stays on screen until the next key: a device's news
    waits on the status line."""
    return state.message is not None and state.message.id is Msg.CHANGE


def _receipts_pending(state: LaneState, count: int) -> LaneState:
    """Tell the cashier when a receipt could not print, and when the owed ones have."""
    after = replace(state, receipts_pending=count)
    if _keeps_message(state):
        return after
    if count > state.receipts_pending:
        printer = dict(state.devices).get(Device.PRINTER, StateWord.ERROR)
        message = Message.of(Msg.RECEIPT_PENDING, state=printer.value, count=count)
        return replace(after, message=message)
    if count == 0 and state.receipts_pending:
        return replace(after, message=Message.of(Msg.RECEIPTS_PRINTED))
    return after


def _scale_result(result: ScaleCommandResult) -> Message:
    """The scale's answer to a ZERO or TARE key: ``zeroed``, ``refused zero: moving``…
    It is shown whatever was on screen: the cashier is waiting for it."""
    if result.refused_because is not None:
        reason = result.refused_because.value
        return Message.of(Msg.SCALE_REFUSED, command=result.command.value, reason=reason)
    assert result.done is not None
    return Message.of(Msg.SCALE_RESULT, result=result.done.value)


def _tick(state: LaneState, ctx: Ctx) -> Outcome:
    """Time-based rules: payments (``terminal.on_tick``), a member question left
    unanswered (``members.on_tick``), then a drawer left open longer than the
    configured time."""
    paid = terminal.on_tick(state, ctx)
    if paid is not None:
        return paid
    state, unanswered = members.on_tick(state, ctx)  # members: no answer in time
    since = state.drawer_open_since
    limit = ctx.setup.rules.drawer_alert_s
    if since is None or state.drawer_alerted or (ctx.now - since).total_seconds() < limit:
        return state, unanswered
    seconds = int((ctx.now - since).total_seconds())
    alarm = ctx.audit(state, "drawer_alarm", open_s=seconds)
    message = Message.of(Msg.DRAWER_LEFT_OPEN)
    return replace(state, drawer_alerted=True, message=message), (*unanswered, alarm)


def _key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if state.mode is Mode.TERMINAL:
        return terminal.terminal_key(state, key, ctx)
    if key in DIGIT_KEYS or key == "DOT":
        return _entry(state, key)
    if key == "CLEAR":
        return _clear(state, ctx)
    return MODE_KEYS[state.mode](state, key, ctx)


def _entry(state: LaneState, key: str) -> Outcome:
    whole = state.mode in (
        Mode.PIN,
        Mode.SUPERVISOR_PIN,
        Mode.CHOOSE_TENDER,
        Mode.CHOOSE_PARKED,
        Mode.CASH_REASON,
        Mode.AGE_CHECK,  # restrictions: a date of birth
        Mode.PRICE_REASON,  # price override and discounts
        Mode.CHOOSE_RETURN,  # returns
    )
    if key == "DOT" and (whole or "." in state.entry):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    entry = state.entry + ("." if key == "DOT" else key)
    if len(entry) > MAX_ENTRY:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    return replace(state, entry=entry), ()


def _clear(state: LaneState, ctx: Ctx) -> Outcome:
    if state.mode is Mode.CHOOSE_TENDER:
        return _clear_choice(state, ctx)
    if state.mode is Mode.CHOOSE_PARKED:
        return suspending.clear_choice(state, ctx)
    if state.mode is Mode.CASH_REASON:  # cash movements
        return cash.clear(state)
    if state.mode is Mode.COUNTED_CASH:  # reports
        return reporting.clear(state)
    if state.mode is Mode.AGE_CHECK:  # restrictions
        return restrictions.clear(state, ctx)
    if state.mode is Mode.PRICE_REASON:  # price override and discounts
        return repricing.clear(state)
    if state.mode is Mode.CHOOSE_RETURN:  # returns
        return returns.clear(state, ctx)
    if state.mode is Mode.PIN:
        return replace(state, mode=Mode.SIGNED_OFF, entry="", signing_on="", message=None), ()
    if state.mode in (Mode.SUPERVISOR_ID, Mode.SUPERVISOR_PIN):
        return replace(state, mode=Mode.READY, entry="", approval=None, message=None), ()
    if state.entry:  # the message went with what was keyed: it would look new
        return replace(state, entry="", message=None), ()
    if state.qty is not None:
        return replace(state, qty=None, message=None), ()
    return replace(state, message=None, return_next=False), ()  # returns: drop an approved one


# --- signed off and signing on ------------------------------------------------


def _signed_off_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if key != "SIGNON":
        return refuse(state, Msg.SIGN_ON_FIRST)
    if not state.entry or "." in state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    locked = lockout.refuse_if_locked(replace(state, entry=""), state.entry, ctx)
    if locked is not None:
        return locked
    return replace(
        state,
        mode=Mode.PIN,
        signing_on=state.entry,
        entry="",
        message=Message.of(Msg.ENTER_PIN, cashier=state.entry),
    ), ()


def _pin_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if key != "ENTER":
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    back = replace(state, mode=Mode.SIGNED_OFF, entry="", signing_on="")
    locked = lockout.refuse_if_locked(back, state.signing_on, ctx)
    if locked is not None:
        return locked
    cashier = ctx.ports.cashiers.verify(state.signing_on, state.entry)
    if cashier is None:
        failed, lock_message = lockout.wrong_pin(back, state.signing_on, "sign_on", ctx)
        return replace(back, message=lock_message or Message.of(Msg.WRONG_PIN)), failed
    cleared = lockout.right_pin(cashier.id, ctx)
    signed_on = replace(
        state,
        mode=Mode.READY,
        cashier=cashier,
        entry="",
        signing_on="",
        message=Message.of(Msg.SIGNED_ON, cashier=cashier.id),
    )
    return signed_on, (
        *cleared,
        SaveSession(cashier),
        ctx.audit(signed_on, "sign_on", role=cashier.role.value),
    )


# --- signed on -----------------------------------------------------------------


def _ready_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if key in LATER_KEYS:
        return refuse(state, Msg.NOT_AVAILABLE, key=key)
    handler = READY_KEYS.get(key)
    if handler is None:
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    not_theirs = roles.refuse_key(state, key, ctx)  # roles and approvals
    if not_theirs is not None:
        return not_theirs
    return handler(state, key, ctx)


def _sign_off(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if state.sale is not None:
        return refuse(state, Msg.SALE_OPEN)
    parked = suspending.refuse_while_parked(state)
    if parked is not None:
        return parked
    event = ctx.audit(state, "sign_off")
    off = LaneState(
        next_receipt_no=state.next_receipt_no,
        scale=state.scale,
        scale_at=state.scale_at,
        last_receipt=state.last_receipt,
        drawer_open=state.drawer_open,
        message=Message.of(Msg.SIGNED_OFF),
        next_park_no=state.next_park_no,  # suspend numbers are never given twice
        training=state.training,  # a lane mode, not the cashier's: it stays
        next_training_no=state.next_training_no,
    )
    return off, (SaveSession(None), event)


def _qty(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if state.sale is not None and state.sale.live_tenders:
        return refuse(state, Msg.FINISH_PAYMENT)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    if not state.entry.isdigit() or int(state.entry) < 1:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    qty = int(state.entry)
    if qty > ctx.setup.rules.max_quantity:
        return refuse(state, Msg.QTY_TOO_BIG, max=ctx.setup.rules.max_quantity)
    return replace(state, entry="", qty=qty, message=Message.of(Msg.QTY_SET, qty=qty)), ()


def _plu(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    if not state.entry.isdigit():
        return refuse(state, Msg.BAD_ENTRY, key=key)
    return selling.add_by_plu(state, int(state.entry), ctx)


def _void(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    sale = state.sale
    if sale is not None and sale.live_tenders:
        if state.entry:  # lines are paid for: a number cannot mean a line now
            return refuse(state, Msg.PAID_LINES_LOCKED)
        return _choose_tender(state, ctx)
    if sale is None or not sale.live_lines:
        return refuse(state, Msg.NOTHING_TO_VOID)
    if not state.entry:
        return _void_line(state, sale.live_lines[-1].no, ctx)
    if not state.entry.isdigit():
        return refuse(state, Msg.BAD_ENTRY, key=key)
    no = int(state.entry)
    if not any(line.no == no for line in sale.live_lines):
        return refuse(state, Msg.NO_SUCH_LINE, line=no)
    return _ask_supervisor(state, Approval(Action.VOID_LINE, line=no), ctx)


def _void_line(state: LaneState, no: int, ctx: Ctx, **details: object) -> Outcome:
    assert state.sale is not None
    line = next(ln for ln in state.sale.lines if ln.no == no)
    sale = state.sale.void_line(no)
    after = replace(
        state, sale=sale, entry="", message=Message.of(Msg.LINE_VOIDED, line=no, name=line.name)
    )
    event = ctx.audit(after, "line_void", line=no, sku=line.sku, amount=line.amount, **details)
    return after, (SaveSale(sale), event)


def _cancel(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    sale = state.sale
    if sale is None:
        return refuse(state, Msg.NO_SALE)
    if not sale.lines:  # nothing was entered: nothing to record
        after = replace(state, sale=None, entry="", qty=None)
        return replace(after, message=Message.of(Msg.SALE_CANCELLED)), (DiscardSale(sale.id),)
    return _ask_supervisor(state, Approval(Action.CANCEL), ctx)


def _subtotal(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if state.sale is None:
        return refuse(state, Msg.NO_SALE)
    due = ctx.money(state.sale.due)
    return replace(state, entry="", message=Message.of(Msg.SUBTOTAL, due=due)), ()


def _member(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if not state.entry or not state.entry.isdigit():
        return refuse(state, Msg.NEEDS_ENTRY if not state.entry else Msg.BAD_ENTRY, key=key)
    return selling.set_member(state, state.entry, ctx)


def _no_sale(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    if state.sale is not None:
        return refuse(state, Msg.SALE_OPEN)
    return _ask_supervisor(state, Approval(Action.NO_SALE), ctx)


# --- voiding a tender: the cashier picks it from a list --------------------------


def _choose_tender(state: LaneState, ctx: Ctx) -> Outcome:
    assert state.sale is not None
    message = replace(Message.of(Msg.CHOOSE_TENDER), choices=paying.tender_choices(state.sale, ctx))
    return replace(state, mode=Mode.CHOOSE_TENDER, entry="", message=message), ()


def _choose_tender_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """The tender's number and ENTER (or YES); NO leaves the list."""
    if key == "NO":
        return _clear_choice(replace(state, entry=""), ctx)
    if key not in ("ENTER", "YES"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    sale = state.sale
    assert sale is not None
    no = int(state.entry)
    if sale.tender(no) is None:
        choices = paying.tender_choices(sale, ctx)
        return refused(state, replace(Message.of(Msg.NO_SUCH_TENDER, no=no), choices=choices))
    back = replace(state, mode=Mode.READY, entry="")
    return _ask_supervisor(back, Approval(Action.VOID_TENDER, tender=no), ctx)


def _clear_choice(state: LaneState, ctx: Ctx) -> Outcome:
    """CLEAR in the list: the number keyed so far, then the list itself."""
    if state.entry:
        return _choose_tender(state, ctx)
    return replace(state, mode=Mode.READY, message=None), ()


# --- supervisor approval (roles and approvals: lane.approvals decides who approves) ---


def _ask_supervisor(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """Do the action now if the rules let the signed-on person, else wait for a supervisor."""
    return approvals.ask(state, approval, ctx, _approved)


def _supervisor_id_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    return approvals.on_supervisor_id(state, key, ctx)


def _supervisor_pin_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    return approvals.on_supervisor_pin(state, key, ctx, _approved)


def _approved(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """Do an approved action (``approvals`` has recorded the approval before it)."""
    if approval.action is Action.VOID_LINE:
        assert approval.line is not None
        after, effects = _void_line(
            state, approval.line, ctx, supervisor=approval.supervisor or None
        )
    elif approval.action is Action.VOID_TENDER:
        assert approval.tender is not None
        after, effects = paying.void_tender(state, approval.tender, ctx, approval.supervisor)
    elif approval.action is Action.CANCEL:
        after, effects = paying.cancel(state, ctx, approval.supervisor)
    # Training mode, cash movements, reports:
    elif approval.action in (Action.PAID_IN, Action.PAID_OUT):
        after, effects = cash.approved(state, approval, ctx)
    elif approval.action is Action.TRAINING:
        after, effects = training.toggled(state, approval, ctx)
    elif approval.action is Action.Z_REPORT:
        after, effects = reporting.z_approved(state, approval, ctx)
    # Price override and discounts:
    elif approval.action in (Action.PRICE_OVERRIDE, Action.RETURN_PRICE):  # and returns
        after, effects = repricing.approved(state, approval, ctx)
    elif approval.action is Action.DISCOUNT:
        after, effects = discounting.approved(state, approval, ctx)
    elif approval.action is Action.RETURN_NO_RECEIPT:  # returns
        after, effects = returns.no_receipt_approved(state, ctx)
    elif approval.action is Action.NO_SALE:
        no_sale = ctx.audit(state, "no_sale", supervisor=approval.supervisor or None)
        after = replace(state, message=Message.of(Msg.DRAWER_OPENED))
        effects = (no_sale, KickDrawer())
    else:  # an action nobody taught this function yet: never mistaken for another one
        return refuse(state, Msg.NOT_AVAILABLE, key=approval.action.value)
    return after, effects


SCALE_KEYS = {"ZERO": ScaleCommand.ZERO, "TARE": ScaleCommand.TARE}


def _scale_command(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    command = SCALE_KEYS[key]
    message = Message.of(Msg.SCALE_COMMAND, command=command.value)
    return replace(state, entry="", message=message), (SendScaleCommand(command),)


def _reprint(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """The last receipt again, marked as a copy (logged)."""
    receipt = state.last_receipt
    if receipt is None:
        return refuse(state, Msg.NO_RECEIPT)
    copy = with_banner(receipt, "copy", ctx.setup)
    message = Message.of(Msg.RECEIPT_REPRINTED, receipt=receipt.number)
    event = ctx.audit(state, "reprint", receipt=receipt.number)
    return replace(state, entry="", message=message), (event, PrintReceipt(copy))


# --- keys that may need a supervisor -------------------------------------------------------

Asker = Callable[[LaneState, str, Ctx], Outcome | Approval]


def _then_supervisor(ask: Asker) -> Callable[[LaneState, str, Ctx], Outcome]:
    """A key whose module answers a refusal or outcome, or the ``Approval`` it needs:
    that goes to the supervisor (lane.approvals decides whether one is asked)."""

    def handler(state: LaneState, key: str, ctx: Ctx) -> Outcome:
        asked = ask(state, key, ctx)
        if not isinstance(asked, Approval):
            return asked
        return _ask_supervisor(state, asked, ctx)

    return handler


def _z_asked(state: LaneState, key: str, ctx: Ctx) -> Outcome | Approval:
    asked = reporting.z_asked(state, key, ctx)
    if isinstance(asked, Approval):  # the day closes with no sale parked
        return suspending.refuse_while_parked(state) or asked
    return asked


# --- restrictions: the answer to the age question --------------------------------------


def _age_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    answer = restrictions.answer_key(state, key, ctx)
    if isinstance(answer, PendingItem):
        return selling.add_confirmed(state, ctx)
    return answer


KeyHandler = Callable[[LaneState, str, Ctx], Outcome]

READY_KEYS: dict[str, KeyHandler] = {
    "SIGNOFF": _sign_off,
    "QTY": _qty,
    "PLU": _plu,
    "VOID": _void,
    "CANCEL": _cancel,
    "SUBTOTAL": _subtotal,
    "CASH": paying.on_cash,
    "CARD": paying.on_card,
    "MOBILE": paying.on_card,
    "MEMBER": _member,
    "NOSALE": _no_sale,
    "ZERO": _scale_command,
    "TARE": _scale_command,
    "REPRINT": _reprint,
    # Suspend and resume.
    "SUSPEND": suspending.suspend,
    "RESUME": suspending.resume_key,
    # Training mode, cash movements, reports:
    "PAIDIN": _then_supervisor(cash.keyed),
    "PAIDOUT": _then_supervisor(cash.keyed),
    "TRAINING": _then_supervisor(training.asked),
    "XREPORT": reporting.x_report,
    "ZREPORT": _then_supervisor(_z_asked),
    # Price override and discounts:
    "PRICE": _then_supervisor(repricing.asked),
    "DISC": _then_supervisor(discounting.asked),
    # Returns:
    "RETURN": _then_supervisor(returns.return_key),
}

MODE_KEYS: dict[Mode, KeyHandler] = {
    Mode.SIGNED_OFF: _signed_off_key,
    Mode.PIN: _pin_key,
    Mode.READY: _ready_key,
    Mode.SUPERVISOR_ID: _supervisor_id_key,
    Mode.SUPERVISOR_PIN: _supervisor_pin_key,
    Mode.TERMINAL: terminal.terminal_key,
    Mode.CHOOSE_TENDER: _choose_tender_key,
    Mode.CHOOSE_PARKED: suspending.choose_key,  # suspend and resume
    Mode.CASH_REASON: cash.reason_key,  # cash movements
    Mode.COUNTED_CASH: reporting.counted_key,  # reports
    Mode.AGE_CHECK: _age_key,  # restrictions
    Mode.PRICE_REASON: repricing.reason_key,  # price override and discounts
    Mode.CHOOSE_RETURN: returns.choose_key,  # returns
}
