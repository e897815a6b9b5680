"""Members in the core: a member number checked for its form, put on the sale at once,
verified or refused by the store server's answer, or left unverified when no answer
comes in time; and the points a member's sale and its returns carry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.effects import AskMember, CommitSale, MemberIgnored
from firmware_app.lane.events import MemberAnswer
from firmware_app.lane.member_check import CheckState, MemberStatus
from firmware_app.lane.messages import Msg
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.rules import MemberRules
from firmware_app.lane.sale import FinishedSale
from tests.unit.till import FakeCatalog, Till, setup_with

COLA = "scan 6954767410388"  # 3.50
CARD = "6221234567891"  # 13 digits, GS1 check digit 1
RULES = MemberRules(lengths=(10, 13), check_digit="mod10-gs1", loyalty=Loyalty(100, 1))


def keyed(number: str) -> str:
    return "key " + " ".join(number) + " MEMBER"


def till(rules: MemberRules = RULES) -> Till:
    return Till(setup=setup_with(members=rules))


def answer(t: Till, status: MemberStatus, name: str = "王芳", points: int | None = 120) -> Till:
    sale = t.state.sale
    assert sale is not None and sale.member_check is not None and sale.member is not None
    return t.send(MemberAnswer(sale.member_check.request_id, sale.member, status, name, points))


ASKED = ["SaveSale", "AskMember"]
SCAN_CARD, SCAN_BAD = "scan M" + CARD, "scan M" + CARD[:-1] + "2"
UNANSWERED = ("signon", keyed(CARD), "wait 1")

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    ("a well-formed number", ("signon",), keyed(CARD), Msg.MEMBER_SET, ASKED),
    ("a card scanned", ("signon", COLA), SCAN_CARD, Msg.MEMBER_SET, ASKED),
    ("a wrong check digit", ("signon",), keyed(CARD[:-1] + "8"), Msg.MEMBER_MALFORMED, []),
    ("a wrong length", ("signon",), keyed(CARD[:-2]), Msg.MEMBER_MALFORMED, []),
    ("a card with a wrong digit", ("signon", COLA), SCAN_BAD, Msg.MEMBER_MALFORMED, []),
    ("MEMBER without a number", ("signon",), "key MEMBER", Msg.NEEDS_ENTRY, []),
    ("selling goes on while asked", ("signon", keyed(CARD)), COLA, Msg.ITEM_ADDED, ["SaveSale"]),
    ("no answer in time", UNANSWERED, "tick", Msg.MEMBER_UNVERIFIED, ["SaveSale"]),
    ("still time to answer", ("signon", keyed(CARD), "wait 0.9"), "tick", Msg.MEMBER_SET, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "before", "step", "message", "effects"), CASES, ids=[c[0] for c in CASES]
)
def test_member_paths(
    name: str, before: tuple[str, ...], step: str, message: Msg, effects: list[str]
) -> None:
    t = till().do(*before)
    t.do(step)
    assert t.message == message
    assert t.effect_types() == effects


def test_a_malformed_number_changes_nothing_but_the_message() -> None:
    t = till().do("signon", COLA, "key 1 2 3")
    before = t.state
    t.do("key MEMBER")
    assert t.message is Msg.MEMBER_MALFORMED
    assert replace(t.state, message=None) == replace(before, message=None)


def test_a_malformed_number_opens_no_sale() -> None:
    t = till().do("signon", keyed("12345"))
    assert t.state.sale is None and t.effects == []


def test_a_well_formed_number_is_on_the_sale_at_once_and_asked_about() -> None:
    t = till().do("signon", COLA, keyed(CARD))
    sale = t.state.sale
    assert sale is not None and sale.member == CARD
    assert sale.member_check is not None and sale.member_check.state is CheckState.ASKED
    asked = t.effects[-1]
    assert asked == AskMember(sale.member_check.request_id, CARD)


def test_an_active_member_is_verified_with_name_and_points() -> None:
    t = till().do("signon", COLA, keyed(CARD), "wait 0.5")
    answer(t, MemberStatus.ACTIVE, "王芳", 120)
    assert t.message is Msg.MEMBER_VERIFIED
    assert t.state.message is not None
    assert t.state.message.render("zh") == "会员 王芳：积分 120"
    check = t.state.sale.member_check if t.state.sale else None
    assert check is not None and check.verified and check.name == "王芳" and check.balance == 120
    assert t.effect_types() == ["SaveSale"]


@pytest.mark.parametrize(
    ("status", "message", "zh"),
    [
        (MemberStatus.BLOCKED, Msg.MEMBER_BLOCKED, "会员已冻结"),
        (MemberStatus.UNKNOWN, Msg.MEMBER_UNKNOWN, "会员号不存在"),
    ],
)
def test_a_blocked_or_unknown_member_is_taken_off_the_sale(
    status: MemberStatus, message: Msg, zh: str
) -> None:
    t = till().do("signon", COLA, keyed(CARD))
    answer(t, status)
    assert t.message is message
    assert t.state.message is not None and t.state.message.render("zh").startswith(zh)
    sale = t.state.sale
    assert sale is not None and sale.member is None and sale.member_check is None
    assert len(sale.live_lines) == 1  # the goods stay
    assert t.effect_types() == ["SaveSale"]


def test_a_refused_member_alone_leaves_no_sale() -> None:
    t = till().do("signon", keyed(CARD))
    answer(t, MemberStatus.UNKNOWN)
    assert t.state.sale is None
    assert t.effect_types() == ["DiscardSale"]


def test_without_an_answer_the_member_stays_unverified_on_the_sale_message() -> None:
    t = till().do("signon", COLA, keyed(CARD), "wait 1.2", "tick", "key CASH")
    commit = next(e for e in t.effects if isinstance(e, CommitSale))
    assert commit.record.member == CARD and not commit.record.member_verified
    assert commit.record.points == 3  # 3.50: points all the same


def test_a_late_answer_is_ignored() -> None:
    t = till().do("signon", COLA, keyed(CARD), "wait 1", "tick")
    before = t.state
    answer(t, MemberStatus.BLOCKED)
    assert t.state == before
    assert [type(e) for e in t.effects] == [MemberIgnored]


def test_an_answer_after_the_time_but_before_the_tick_is_late_too() -> None:
    t = till().do("signon", COLA, keyed(CARD), "wait 1.5")
    answer(t, MemberStatus.ACTIVE)
    check = t.state.sale.member_check if t.state.sale else None
    assert check is not None and check.state is CheckState.UNVERIFIED
    assert t.message is Msg.MEMBER_UNVERIFIED
    assert t.effect_types() == ["SaveSale", "MemberIgnored"]


def test_an_answer_to_another_question_is_ignored() -> None:
    t = till().do("signon", COLA, keyed(CARD))
    before = t.state
    t.send(MemberAnswer("someone-else", CARD, MemberStatus.BLOCKED))
    assert t.state == before and t.effect_types() == ["MemberIgnored"]
    sale = t.state.sale
    assert sale is not None and sale.member_check is not None
    t.send(MemberAnswer(sale.member_check.request_id, "6901234567892", MemberStatus.BLOCKED))
    assert t.state == before and t.effect_types() == ["MemberIgnored"]


def test_a_second_member_replaces_the_first_and_its_answer_is_ignored() -> None:
    t = till().do("signon", COLA, keyed(CARD))
    first = t.state.sale.member_check if t.state.sale else None
    assert first is not None
    t.do(keyed("6901234567892"))
    t.send(MemberAnswer(first.request_id, CARD, MemberStatus.BLOCKED))
    assert t.state.sale is not None and t.state.sale.member == "6901234567892"
    assert t.effect_types() == ["MemberIgnored"]


def test_a_verified_member_stays_verified_on_a_parked_and_resumed_sale() -> None:
    t = till().do("signon", COLA, keyed(CARD))
    answer(t, MemberStatus.ACTIVE, "王芳", 120)
    verified = t.state.sale
    t.do("key SUSPEND")
    assert t.state.sale is None
    t.do("wait 30", "key 1 RESUME", "tick")
    assert t.state.sale is not None
    assert t.state.sale.member == CARD and t.state.sale.member_check == (
        verified.member_check if verified else None
    )


def test_an_unanswered_member_parked_is_unverified_once_resumed() -> None:
    t = till().do("signon", COLA, keyed(CARD), "key SUSPEND", "wait 30", "key 1 RESUME", "tick")
    check = t.state.sale.member_check if t.state.sale else None
    assert check is not None and check.state is CheckState.UNVERIFIED


def test_the_default_rules_take_any_digits_up_to_twenty() -> None:
    t = till(MemberRules()).do("signon", keyed("88"))
    assert t.message is Msg.MEMBER_SET
    t.do("scan M" + "1" * 21)
    assert t.message is Msg.MEMBER_MALFORMED


# --- points ----------------------------------------------------------------------------------


def committed(t: Till) -> FinishedSale:
    return next(e.record for e in t.effects if isinstance(e, CommitSale))


def test_a_member_sale_earns_a_point_per_full_step_after_discounts() -> None:
    t = till().do("signon", "key 3 QTY", COLA, keyed(CARD))
    answer(t, MemberStatus.ACTIVE)
    t.do("key CASH")
    record = committed(t)
    assert record.total == 1050 and record.points == 10 and record.member_verified


def test_no_member_or_no_rule_no_points() -> None:
    assert committed(till().do("signon", "key 3 QTY", COLA, "key CASH")).points == 0
    t = till(replace(RULES, loyalty=None)).do("signon", "key 3 QTY", COLA, keyed(CARD), "key CASH")
    assert committed(t).points == 0


class RuledCatalog(FakeCatalog):
    def __init__(self, rule: Loyalty) -> None:
        super().__init__()
        self.rule = rule

    def loyalty(self) -> Loyalty | None:
        return self.rule


def test_the_catalog_rule_comes_first() -> None:
    t = till()
    t.ports = replace(t.ports, catalog=RuledCatalog(Loyalty(per=50, points=2)))
    t.do("signon", "key 3 QTY", COLA, keyed(CARD), "key CASH")
    assert committed(t).points == 42  # 1050 // 50 * 2


def _member_sale() -> Till:
    """Receipt 1: three colas (3.50) and a bread (10.00) for a member: 20.50, 20 points."""
    t = till().do("signon", "key 3 QTY", COLA, "scan 96385074", keyed(CARD))
    answer(t, MemberStatus.ACTIVE)
    t.do("key CASH")
    assert committed(t).points == 20
    return t


def test_a_partial_return_takes_back_the_points_of_what_came_back() -> None:
    t = _member_sale().do("key 1 RETURN", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    record = committed(t)
    # 20.50 - 10.50 = 10.00 left: 10 points; 10 of the 20 come back.
    assert record.member == CARD and record.points == -10
    assert record.member_verified


def test_returns_in_parts_take_back_exactly_what_was_earned() -> None:
    t = _member_sale()
    taken = 0
    for step in ("key 1 QTY", "key 1 QTY", "key 1 QTY"):
        t.do("key 1 RETURN", step, "key 1 ENTER", "key SUBTOTAL", "key CASH")
        taken += committed(t).points
    assert taken == -10  # 10.50 of colas back, a piece at a time: 17.00, 13.50, 10.00 left
    t.do("key 1 RETURN", "key 2 ENTER", "key SUBTOTAL", "key CASH")
    taken += committed(t).points
    assert taken == -20


def test_a_return_without_receipt_changes_no_points() -> None:
    t = _member_sale().do("key RETURN", "approve", COLA, keyed(CARD), "key CASH")
    assert committed(t).points == 0


def test_training_earns_no_points() -> None:
    t = till().do("signon", "key TRAINING", "approve", "key 3 QTY", COLA, keyed(CARD), "key CASH")
    assert committed(t).training and committed(t).points == 0


# --- the receipt ---------------------------------------------------------------------------------


def test_the_receipt_prints_the_member_name_points_and_balance() -> None:
    t = till().do("signon", "key 3 QTY", COLA, keyed(CARD))
    answer(t, MemberStatus.ACTIVE, "王芳", 120)
    t.do("key CASH")
    info = t.state.last_receipt.info if t.state.last_receipt else ()
    assert f"会员 Member: {CARD} 王芳" in info
    assert "积分 Points: +10   积分余额 Balance: 130" in info


def test_the_receipt_of_an_unverified_member_has_no_name_nor_balance() -> None:
    t = till().do("signon", "key 3 QTY", COLA, keyed(CARD), "wait 2", "tick", "key CASH")
    info = t.state.last_receipt.info if t.state.last_receipt else ()
    assert f"会员 Member: {CARD}" in info and "积分 Points: +10" in info


def test_the_receipt_of_a_return_shows_the_points_taken_back() -> None:
    t = _member_sale().do("key 1 RETURN", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    info = t.state.last_receipt.info if t.state.last_receipt else ()
    assert f"会员 Member: {CARD}" in info and "积分 Points: -10" in info


def test_the_screen_shows_the_member_name_and_points() -> None:
    from firmware_app.lane.view import MemberView, ScreenSetup, screen_view

    t = till().do("signon", COLA, keyed(CARD))
    view = screen_view(t.state, t.setup, ScreenSetup(), t.now)
    assert view.member == MemberView(CARD, "asked")
    answer(t, MemberStatus.ACTIVE, "王芳", 120)
    view = screen_view(t.state, t.setup, ScreenSetup(), t.now)
    assert view.member == MemberView(CARD, "verified", "王芳", 120)
    assert view.message is not None and view.message.text == "会员 王芳：积分 120"
