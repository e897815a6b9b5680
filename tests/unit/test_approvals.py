"""Roles and supervisor approvals, as tables: what each role may key, who must approve
what (by default and as configured, including actions the rules never heard of), nobody
approving their own action, the second-supervisor rule, badges, and the events."""

from __future__ import annotations

import enum
import json
from dataclasses import replace
from typing import Any

import pytest

from firmware_app.lane import approvals
from firmware_app.lane.approvals import Needs
from firmware_app.lane.context import Ctx, Outcome
from firmware_app.lane.effects import KickDrawer, RecordEvent
from firmware_app.lane.machine import _ask_supervisor
from firmware_app.lane.messages import Msg
from firmware_app.lane.rules import ApprovalRules
from firmware_app.lane.state import Action, Approval, LaneState, Mode
from firmware_app.sync.contract import event_message
from firmware_app.sync.validation import validate
from tests.unit.till import Till, setup_with

TECHNICIAN = ("key 7 0 0 1 SIGNON 7 7 7 7 ENTER",)
CASHIER = ("signon",)
SUPERVISOR = ("supervisor",)
COLA = "scan 6954767410388"


def till_with(**rules: Any) -> Till:
    base: dict[str, Any] = {"badge_prefix": "SV"}
    base.update(rules)
    return Till(setup=setup_with(approvals=ApprovalRules(**base)))


def events(till: Till, type: str) -> list[dict[str, str]]:
    """The details of the last step's audit events of ``type``."""
    return [
        dict(e.event.details)
        for e in till.effects
        if isinstance(e, RecordEvent) and e.event.type == type
    ]


# --- roles ---------------------------------------------------------------------------

# (name, who, steps before, the step under test, expected message)
ROLE_CASES = [
    ("technician signs on", (), (), TECHNICIAN[0], Msg.SIGNED_ON),
    ("technician scans", TECHNICIAN, (), COLA, Msg.TECHNICIAN_CANNOT_SELL),
    ("technician PLU", TECHNICIAN, (), "key 2 3 4 PLU", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician QTY", TECHNICIAN, (), "key 3 QTY", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician CASH", TECHNICIAN, (), "key 5 CASH", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician CARD", TECHNICIAN, (), "key CARD", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician MOBILE", TECHNICIAN, (), "key MOBILE", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician MEMBER", TECHNICIAN, (), "key 8 8 MEMBER", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician VOID", TECHNICIAN, (), "key VOID", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician CANCEL", TECHNICIAN, (), "key CANCEL", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician SUBTOTAL", TECHNICIAN, (), "key SUBTOTAL", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician member card", TECHNICIAN, (), "scan M8800123", Msg.TECHNICIAN_CANNOT_SELL),
    ("technician zeroes the scale", TECHNICIAN, (), "key ZERO", Msg.SCALE_COMMAND),
    ("technician tares the scale", TECHNICIAN, (), "key TARE", Msg.SCALE_COMMAND),
    ("technician test print", TECHNICIAN, (), "key REPRINT", Msg.NO_RECEIPT),
    ("technician no-sale asks", TECHNICIAN, (), "key NOSALE", Msg.SUPERVISOR_ID),
    ("technician signs off", TECHNICIAN, (), "key SIGNOFF", Msg.SIGNED_OFF),
    ("cashier scans", CASHIER, (), COLA, Msg.ITEM_ADDED),
    ("cashier PLU", CASHIER, (), "key 2 3 4 PLU", Msg.ITEM_ADDED),
    ("cashier pays", CASHIER, (COLA,), "key CASH", Msg.CHANGE),
    ("cashier no-sale asks", CASHIER, (), "key NOSALE", Msg.SUPERVISOR_ID),
    ("supervisor scans", SUPERVISOR, (), COLA, Msg.ITEM_ADDED),
    ("supervisor pays", SUPERVISOR, (COLA,), "key CASH", Msg.CHANGE),
    ("supervisor no-sale alone", SUPERVISOR, (), "key NOSALE", Msg.DRAWER_OPENED),
]


@pytest.mark.parametrize(
    ("who", "before", "step", "message"),
    [case[1:] for case in ROLE_CASES],
    ids=[case[0] for case in ROLE_CASES],
)
def test_each_role_may_key_what_is_theirs(
    who: tuple[str, ...], before: tuple[str, ...], step: str, message: Msg
) -> None:
    till = Till().do(*who, *before)
    previous = till.state
    till.do(step)
    assert till.message is message, till.state.message
    if message is Msg.TECHNICIAN_CANNOT_SELL:
        assert till.effects == []
        assert replace(till.state, message=None, entry="") == replace(
            previous, message=None, entry=""
        )


def test_a_technicians_refusal_names_the_key() -> None:
    till = Till().do(*TECHNICIAN, COLA)
    assert till.state.message is not None
    assert till.state.message.render("en") == "Technician: SCAN not allowed (no selling)"
    assert till.state.message.render("zh") == "技术员不能销售：SCAN"


def test_a_technician_signs_on_as_a_technician() -> None:
    till = Till().do(*TECHNICIAN)
    assert events(till, "sign_on") == [{"role": "technician"}]


# --- who must approve ------------------------------------------------------------------


class LaterAction(enum.Enum):
    """Stands for an action another feature adds later (paid-in, Z report, training…)."""

    PAID_IN = "paid_in"
    Z_REPORT = "z_report"


@pytest.mark.parametrize("action", [*Action, *LaterAction], ids=lambda a: a.value)
def test_by_default_every_action_needs_a_supervisor(action: Any) -> None:
    assert approvals.required(action, ApprovalRules()) is Needs.SUPERVISOR


RULES = ApprovalRules(
    without_supervisor=frozenset([Action.VOID_LINE]),
    second_supervisor=frozenset([Action.CANCEL]),
)


@pytest.mark.parametrize(
    ("action", "needs"),
    [
        (Action.VOID_LINE, Needs.NOBODY),
        (Action.CANCEL, Needs.OTHER_SUPERVISOR),
        (Action.NO_SALE, Needs.SUPERVISOR),
        (Action.VOID_TENDER, Needs.SUPERVISOR),
        (LaterAction.PAID_IN, Needs.SUPERVISOR),  # the rules never heard of it
    ],
    ids=lambda v: v.value,
)
def test_configured_rules(action: Any, needs: Needs) -> None:
    assert approvals.required(action, RULES) is needs


def test_an_action_the_rules_never_heard_of_waits_for_a_supervisor_then_is_done() -> None:
    till = Till().do("signon")
    done: list[Approval] = []

    def carry_out(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
        done.append(approval)
        return state, ()

    ctx = Ctx(till.ports, till.setup, till.now)
    asked = approvals.ask(till.state, Approval(LaterAction.PAID_IN, amount=5000), ctx, carry_out)  # type: ignore[arg-type]
    assert asked[0].mode is Mode.SUPERVISOR_ID and not done
    till.state = asked[0]
    till.do("key 9 0 0 1 ENTER 9 9 9 9")
    state, effects = approvals.on_supervisor_pin(till.state, "ENTER", ctx, carry_out)
    assert [a.supervisor for a in done] == ["9001"] and state.mode is Mode.READY
    assert [e.event.type for e in effects if isinstance(e, RecordEvent)] == ["approval"]
    details = dict(effects[0].event.details)  # type: ignore[union-attr]
    assert details == {"action": "paid_in", "supervisor": "9001", "via": "pin", "amount": "5000"}


def test_an_approved_action_nobody_taught_the_lane_is_refused_never_mistaken() -> None:
    till = Till().do("supervisor")
    ctx = Ctx(till.ports, till.setup, till.now)
    state, effects = _ask_supervisor(till.state, Approval(LaterAction.Z_REPORT), ctx)  # type: ignore[arg-type]
    assert state.message is not None and state.message.id is Msg.NOT_AVAILABLE
    assert not any(isinstance(e, KickDrawer) for e in effects)


def test_an_action_without_supervisor_is_done_by_the_cashier_alone_unrecorded() -> None:
    till = till_with(without_supervisor=frozenset([Action.NO_SALE])).do("signon", "key NOSALE")
    assert till.message is Msg.DRAWER_OPENED
    assert till.effect_types() == ["RecordEvent", "KickDrawer"]
    assert events(till, "approval") == []
    assert events(till, "no_sale") == [{}]


def test_a_void_of_an_earlier_line_without_supervisor_when_configured() -> None:
    till = till_with(without_supervisor=frozenset([Action.VOID_LINE]))
    till.do("signon", COLA, COLA, "key 1 VOID")
    assert till.message is Msg.LINE_VOIDED


# --- approving --------------------------------------------------------------------------


def test_a_signed_on_supervisor_acts_alone_and_the_approval_is_recorded() -> None:
    till = Till().do("supervisor", COLA, "key 1 VOID")
    assert till.message is Msg.LINE_VOIDED
    assert events(till, "approval") == [
        {
            "action": "void_line",
            "supervisor": "9001",
            "via": "signed_on",
            "line": "1",
            "sku": "100234",
            "amount": "350",
        }
    ]


def test_a_supervisor_approves_a_cashiers_void_with_id_and_pin() -> None:
    till = Till().do("signon", COLA, "key 1 VOID 9 0 0 1 ENTER 9 9 9 9 ENTER")
    assert till.message is Msg.LINE_VOIDED
    assert till.effect_types() == ["RecordEvent", "SaveSale", "RecordEvent"]
    assert events(till, "approval")[0]["via"] == "pin"
    assert events(till, "line_void")[0]["supervisor"] == "9001"


def test_a_void_tender_approval_carries_the_tenders_amount() -> None:
    till = Till().do("signon", COLA, "key 1 CASH", "key VOID 1 ENTER", "approve")
    assert events(till, "approval") == [
        {
            "action": "void_tender",
            "supervisor": "9001",
            "via": "pin",
            "tender": "1",
            "amount": "100",
        }
    ]


# (name, rules, signed on as, steps, message)
SELF_CASES = [
    ("cashier keys own id", {}, "signon", "key 1 VOID 1 0 0 1 ENTER", Msg.SELF_APPROVAL),
    (
        "second supervisor: the signed-on one is asked for another",
        {"second_supervisor": frozenset([Action.VOID_LINE])},
        "supervisor",
        "key 1 VOID",
        Msg.OTHER_SUPERVISOR,
    ),
    (
        "second supervisor: own id refused",
        {"second_supervisor": frozenset([Action.VOID_LINE])},
        "supervisor",
        "key 1 VOID 9 0 0 1 ENTER",
        Msg.SELF_APPROVAL,
    ),
    (
        "second supervisor: own badge refused",
        {"second_supervisor": frozenset([Action.VOID_LINE])},
        "supervisor",
        "key 1 VOID|scan SV9001",
        Msg.SELF_APPROVAL,
    ),
    (
        "second supervisor: another one approves",
        {"second_supervisor": frozenset([Action.VOID_LINE])},
        "supervisor",
        "key 1 VOID 9 0 0 2 ENTER 8 8 8 8 ENTER",
        Msg.LINE_VOIDED,
    ),
    (
        "second supervisor: a cashier's approval",
        {"second_supervisor": frozenset([Action.VOID_LINE])},
        "supervisor",
        "key 1 VOID 1 0 0 1 ENTER 1 2 3 4 ENTER",
        Msg.NOT_SUPERVISOR,
    ),
    (
        "second supervisor only for the actions named",
        {"second_supervisor": frozenset([Action.CANCEL])},
        "supervisor",
        "key 1 VOID",
        Msg.LINE_VOIDED,
    ),
]


@pytest.mark.parametrize(
    ("rules", "who", "steps", "message"),
    [case[1:] for case in SELF_CASES],
    ids=[case[0] for case in SELF_CASES],
)
def test_nobody_approves_their_own_action(
    rules: dict[str, Any], who: str, steps: str, message: Msg
) -> None:
    till = till_with(**rules).do(who, COLA, *steps.split("|"))
    assert till.message is message, till.state.message
    if message is Msg.SELF_APPROVAL:
        assert till.state.mode is Mode.SUPERVISOR_ID  # waiting for somebody else
        assert till.state.sale is not None and till.state.sale.live_lines
        assert events(till, "supervisor_refused")[0]["reason"] == "own_action"


def test_the_second_supervisor_is_named_in_the_approval() -> None:
    till = till_with(second_supervisor=frozenset([Action.VOID_LINE]))
    till.do("supervisor", COLA, "key 1 VOID 9 0 0 2 ENTER 8 8 8 8 ENTER")
    # The approval leads: recorded before the action's own effects.
    assert isinstance(till.effects[0], RecordEvent) and till.effects[0].event.type == "approval"
    assert till.effects[0].event.cashier == "9001"
    assert events(till, "approval")[0]["supervisor"] == "9002"


# --- badges ----------------------------------------------------------------------------


def test_a_badge_approves_without_a_pin() -> None:
    till = Till().do("signon", COLA, "key 1 VOID", "scan SV9001")
    assert till.message is Msg.LINE_VOIDED
    assert events(till, "approval")[0]["via"] == "badge"
    assert events(till, "approval")[0]["supervisor"] == "9001"


def test_a_badge_also_serves_once_an_id_was_keyed() -> None:
    till = Till().do("signon", "key NOSALE 9 0 0 2 ENTER", "scan SV9001")
    assert till.message is Msg.DRAWER_OPENED
    assert events(till, "approval")[0]["supervisor"] == "9001"


@pytest.mark.parametrize("badge", ["SV1002", "SV5555", "SVabc", "SV"])
def test_a_badge_that_is_not_a_supervisors_is_refused(badge: str) -> None:
    till = Till().do("signon", COLA, "key 1 VOID", f"scan {badge}")
    assert till.message is Msg.NOT_SUPERVISOR
    assert till.state.mode is Mode.READY and till.state.sale is not None
    assert till.state.sale.live_lines
    assert till.effect_types() == ["RecordEvent"]
    assert events(till, "supervisor_refused")[0]["reason"] == "not_supervisor"


@pytest.mark.parametrize("before", [(), ("signon",), ("signon", COLA)], ids=["off", "on", "sale"])
def test_a_badge_outside_an_approval_is_refused_never_sold(before: tuple[str, ...]) -> None:
    till = Till().do(*before)
    previous = till.state
    till.do("scan SV9001")
    assert till.message is Msg.BADGE_NOT_NOW
    assert till.effects == []
    assert replace(till.state, message=None) == replace(previous, message=None)


def test_without_a_badge_prefix_a_badge_is_just_a_code() -> None:
    till = till_with(badge_prefix="").do("signon", "key NOSALE", "scan SV9001")
    assert till.message is Msg.KEY_NOT_ALLOWED  # a scan while waiting for a supervisor
    assert till.state.mode is Mode.SUPERVISOR_ID


# --- the events follow the contract ----------------------------------------------------


def test_the_approval_events_validate_against_the_contract() -> None:
    till = till_with(second_supervisor=frozenset([Action.CANCEL]))
    till.do("supervisor", COLA, "key 1 VOID", "key CANCEL 9 0 0 1 ENTER", "scan SV1002")
    till.do("key CANCEL 9 0 0 2 ENTER 1 1 1 1 ENTER", "key CANCEL", "scan SV9002")
    seen = set()
    for seq, effect in enumerate(till.all_effects, start=1):
        if isinstance(effect, RecordEvent):
            message = event_message(effect.event, "S001", "07", seq=seq)
            validate(json.loads(json.dumps(message)))
            seen.add(effect.event.type)
    assert {"approval", "supervisor_refused", "pin_failed"} <= seen
