"""Supervisor approvals: who must approve an action, and approving it on the spot.

``required(action, rules)`` is the whole policy, a pure function of the action and
the config's ``ApprovalRules``: an action needs a supervisor unless the config
lets whoever is signed on do it alone, so an ``Action`` added later is covered
without a word here. A signed-on supervisor acts alone, except for the actions
the config gives to a second supervisor.

A supervisor approves at the lane with id, ``ENTER``, PIN, ``ENTER``, or by
scanning their badge (``badge_prefix`` and the id; the badge is the credential,
no PIN, as on most store badges). Nobody approves their own action: the id of
whoever is signed on is refused as the approver. Each approval is recorded as an
``approval`` event before the action's own effects, so it is durable first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import replace

from firmware_app.lane import lockout
from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.rules import ApprovalRules
from firmware_app.lane.state import Action, Approval, LaneState, Mode

CarryOut = Callable[[LaneState, Approval, Ctx], Outcome]
"""Does the approved action (``machine._approved``); the approval event comes first."""

WAITING = (Mode.SUPERVISOR_ID, Mode.SUPERVISOR_PIN)


class Needs(enum.Enum):
    NOBODY = "nobody"  # whoever is signed on does it alone
    SUPERVISOR = "supervisor"  # a supervisor: the one signed on, or one called to the lane
    OTHER_SUPERVISOR = "other_supervisor"  # a supervisor, never the one signed on


def required(action: Action, rules: ApprovalRules) -> Needs:
    """Who must approve ``action`` under ``rules``; unknown to the rules: a supervisor."""
    if action in rules.without_supervisor:
        return Needs.NOBODY
    if action in rules.second_supervisor:
        return Needs.OTHER_SUPERVISOR
    return Needs.SUPERVISOR


def ask(state: LaneState, approval: Approval, ctx: Ctx, carry_out: CarryOut) -> Outcome:
    """Do ``approval``'s action when the rules allow it now, else wait for a supervisor."""
    need = required(approval.action, ctx.setup.rules.approvals)
    ready = replace(state, entry="")
    if need is Needs.NOBODY:
        return carry_out(ready, approval, ctx)
    cashier = state.cashier
    is_supervisor = cashier is not None and cashier.role is Role.SUPERVISOR
    if need is Needs.SUPERVISOR and cashier is not None and is_supervisor:
        return approved(
            ready, replace(approval, supervisor=cashier.id, via="signed_on"), ctx, carry_out
        )
    prompt = Msg.OTHER_SUPERVISOR if is_supervisor else Msg.SUPERVISOR_ID
    return replace(
        ready, mode=Mode.SUPERVISOR_ID, approval=approval, message=Message.of(prompt)
    ), ()


def on_supervisor_id(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """``ENTER`` after the supervisor's id: on to the PIN, unless the id is the signed-on
    person's own or locked (then the lane waits for another id)."""
    if key != "ENTER":
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    approval = state.approval
    if not state.entry or approval is None:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    who = state.entry
    again = replace(state, entry="")
    refusal = _not_this_one(again, approval, who, ctx)
    if refusal is not None:
        return refusal
    return replace(
        again,
        mode=Mode.SUPERVISOR_PIN,
        approval=replace(approval, supervisor=who),
        message=Message.of(Msg.SUPERVISOR_PIN),
    ), ()


def on_supervisor_pin(state: LaneState, key: str, ctx: Ctx, carry_out: CarryOut) -> Outcome:
    """``ENTER`` after the PIN: approved, or refused (a wrong PIN counts towards the lock)."""
    if key != "ENTER":
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    approval = state.approval
    assert approval is not None
    who = approval.supervisor
    back = replace(state, mode=Mode.READY, approval=None, entry="")
    locked = lockout.refuse_if_locked(back, who, ctx)
    if locked is not None:
        return locked
    found = ctx.ports.cashiers.verify(who, state.entry)
    if found is None:
        effects, lock_message = lockout.wrong_pin(back, who, "approval", ctx)
        return replace(back, message=lock_message or Message.of(Msg.NOT_SUPERVISOR)), effects
    cleared = lockout.right_pin(who, ctx)
    refusal = _not_a_supervisor(back, approval, found, ctx)
    if refusal is not None:
        return refusal[0], (*cleared, *refusal[1])
    after, effects = approved(back, replace(approval, via="pin"), ctx, carry_out)
    return after, (*cleared, *effects)


def is_badge(data: str, ctx: Ctx) -> bool:
    prefix = ctx.setup.rules.approvals.badge_prefix
    return bool(prefix) and data.startswith(prefix)


def on_badge(state: LaneState, data: str, ctx: Ctx, carry_out: CarryOut) -> Outcome:
    """A supervisor's badge scanned: approves the action waiting for one; at any other
    time it is refused (never looked up as an item)."""
    approval = state.approval
    if state.mode not in WAITING or approval is None:
        return refuse(state, Msg.BADGE_NOT_NOW)
    who = data[len(ctx.setup.rules.approvals.badge_prefix) :]
    refusal = _not_this_one(state, approval, who, ctx)
    if refusal is not None:
        return refusal
    back = replace(state, mode=Mode.READY, approval=None, entry="")
    found = ctx.ports.cashiers.find(who) if who.isdigit() else None
    refused = _not_a_supervisor(back, replace(approval, supervisor=who), found, ctx)
    if refused is not None:
        return refused
    return approved(back, replace(approval, supervisor=who, via="badge"), ctx, carry_out)


def approved(state: LaneState, approval: Approval, ctx: Ctx, carry_out: CarryOut) -> Outcome:
    """Record the approval (what, by whom, how), then do the action."""
    event = ctx.audit(
        state,
        "approval",
        action=approval.action.value,
        supervisor=approval.supervisor,
        via=approval.via,
        **_what(state, approval),
    )
    after, effects = carry_out(state, approval, ctx)
    return after, (event, *effects)


def _what(state: LaneState, approval: Approval) -> dict[str, object]:
    """The line, tender and amount (minor units) the approval is about, where known."""
    details: dict[str, object] = {"line": approval.line, "tender": approval.tender}
    sale = state.sale
    amount = approval.amount
    if sale is not None and approval.line is not None:
        line = next((ln for ln in sale.lines if ln.no == approval.line), None)
        if line is not None:
            details["sku"] = line.sku
            amount = line.amount if amount is None else amount
            if approval.action in (Action.PRICE_OVERRIDE, Action.RETURN_PRICE):  # from, to
                details["from"], details["to"] = line.unit_price, approval.amount
    if sale is not None and approval.tender is not None:
        tender = sale.tender(approval.tender)
        if tender is not None and amount is None:
            amount = tender.amount
    details["amount"] = amount
    return details


def _not_this_one(state: LaneState, approval: Approval, who: str, ctx: Ctx) -> Outcome | None:
    """The signed-on person's own id, or a locked id, cannot approve: say so (the lane
    waits on for another supervisor)."""
    cashier = state.cashier
    if cashier is not None and cashier.id == who:
        event = ctx.audit(
            state,
            "supervisor_refused",
            action=approval.action.value,
            supervisor=who,
            reason="own_action",
        )
        return replace(state, message=Message.of(Msg.SELF_APPROVAL, cashier=who)), (event,)
    return lockout.refuse_if_locked(state, who, ctx)


def _not_a_supervisor(
    state: LaneState, approval: Approval, found: Cashier | None, ctx: Ctx
) -> Outcome | None:
    if found is not None and found.role is Role.SUPERVISOR:
        return None
    event = ctx.audit(
        state,
        "supervisor_refused",
        action=approval.action.value,
        supervisor=approval.supervisor,
        reason="not_supervisor",
    )
    return replace(state, message=Message.of(Msg.NOT_SUPERVISOR)), (event,)
