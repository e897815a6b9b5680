"""Points arithmetic (lane.points) and the form of member numbers (lane.members)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.lane.members import gs1_ok, luhn_ok, malformed
from firmware_app.lane.points import earned_after_refunds, points_for, reversal
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.rules import MemberRules

RULE = Loyalty(per=100, points=1)


@pytest.mark.parametrize(
    ("paid", "rule", "points"),
    [
        (0, RULE, 0),
        (99, RULE, 0),
        (100, RULE, 1),
        (1050, RULE, 10),
        (1050, Loyalty(per=50, points=2), 42),
        (-500, RULE, 0),  # nothing paid, nothing earned
        (1050, None, 0),
        (1050, Loyalty(per=0, points=1), 0),
        (1050, Loyalty(per=100, points=0), 0),
    ],
)
def test_points_for(paid: int, rule: Loyalty | None, points: int) -> None:
    assert points_for(paid, rule) == points


rules = st.one_of(st.none(), st.builds(Loyalty, st.integers(1, 10_000), st.integers(1, 10)))


@given(
    paid=st.integers(1, 10**7),
    cuts=st.lists(st.integers(1, 10**6), max_size=8),
    rule=rules,
    earned_rule=rules,
)
def test_reversals_of_returns_in_parts_add_up_to_what_was_earned(
    paid: int, cuts: list[int], rule: Loyalty | None, earned_rule: Loyalty | None
) -> None:
    """Whatever the split, and even with a rule changed since the sale: never more taken
    back than earned, never any given, and a full return takes back all of it."""
    earned = points_for(paid, earned_rule)
    refunded, taken = 0, 0
    parts = []
    for cut in cuts:
        part = min(cut, paid - refunded)
        if part <= 0:
            break
        parts.append(part)
        refunded += part
    if refunded < paid:
        parts.append(paid - refunded)
    refunded = 0
    for part in parts:
        step = reversal(earned, paid, refunded, part, rule)
        assert step <= 0
        taken += step
        refunded += part
        assert -taken <= earned
    assert taken == -earned


@given(paid=st.integers(1, 10**7), back=st.integers(0, 10**7))
def test_what_is_left_earns_by_the_rule(paid: int, back: int) -> None:
    back = min(back, paid)
    earned = points_for(paid, RULE)
    left = earned_after_refunds(earned, paid, back, RULE)
    assert left == (earned if back == 0 else points_for(paid - back, RULE))


def _with_digit(body: str, ok: object) -> str:
    return next(body + d for d in "0123456789" if ok(body + d))  # type: ignore[operator]


@given(st.text("0123456789", min_size=1, max_size=19))
def test_a_check_digit_rejects_any_single_wrong_digit(body: str) -> None:
    for check in (luhn_ok, gs1_ok):
        good = _with_digit(body, check)
        assert check(good)
        for d in "0123456789":
            if d != good[-1]:
                assert not check(good[:-1] + d)


@pytest.mark.parametrize(
    ("number", "rules", "why"),
    [
        ("6901234567892", MemberRules(lengths=(13,), check_digit="mod10-gs1"), None),
        ("6901234567893", MemberRules(lengths=(13,), check_digit="mod10-gs1"), "check digit"),
        ("79927398713", MemberRules(lengths=(11,), check_digit="luhn"), None),  # the classic
        ("79927398710", MemberRules(check_digit="luhn"), "check digit"),
        ("13800138000", MemberRules(lengths=(11,)), None),  # a phone number: no check digit
        ("1380013800", MemberRules(lengths=(11,)), "length"),
        ("88", MemberRules(), None),
        ("", MemberRules(), "digits only"),
        ("12a4", MemberRules(), "digits only"),
        ("١٢٣", MemberRules(), "digits only"),  # digits, but not ASCII ones
        ("1" * 21, MemberRules(), "length"),
    ],
)
def test_malformed(number: str, rules: MemberRules, why: str | None) -> None:
    assert malformed(number, rules) == why


@given(st.text(max_size=40))
def test_malformed_never_raises(number: str) -> None:
    for check in ("none", "luhn", "mod10-gs1"):
        why = malformed(number, MemberRules(lengths=(10, 13), check_digit=check))
        assert why is None or why in ("digits only", "length", "check digit")
