"""``[approvals]``: the rules reach the lane typed, and every mistake names the key."""

from __future__ import annotations

from typing import Any

import pytest

from firmware_app import config
from firmware_app.errors import ConfigError
from firmware_app.lane.rules import ApprovalRules
from firmware_app.lane.state import Action


def parse(approvals: dict[str, Any], sale: dict[str, Any] | None = None) -> ApprovalRules:
    doc: dict[str, Any] = {"lane": {"store": "S1", "lane": "1"}, "approvals": approvals}
    if sale is not None:
        doc["sale"] = sale
    return config.parse(doc, source="lane.toml").rules.approvals


def test_the_defaults_need_a_supervisor_for_everything() -> None:
    assert parse({}) == ApprovalRules()
    assert ApprovalRules() == ApprovalRules(frozenset(), frozenset(), "", 5, 15)


def test_configured_rules_reach_the_lane_typed() -> None:
    rules = parse(
        {
            "without_supervisor": ["void_line"],
            "second_supervisor": ["cancel", "no_sale"],
            "badge_prefix": "SV",
            "pin_tries": 3,
            "lockout_min": 60,
        }
    )
    assert rules.without_supervisor == {Action.VOID_LINE}
    assert rules.second_supervisor == {Action.CANCEL, Action.NO_SALE}
    assert (rules.badge_prefix, rules.pin_tries, rules.lockout_min) == ("SV", 3, 60)


@pytest.mark.parametrize(
    ("approvals", "sale", "where"),
    [
        ({"without_supervisor": ["void"]}, None, "approvals.without_supervisor: unknown action"),
        ({"second_supervisor": "cancel"}, None, "approvals.second_supervisor: expected a list"),
        ({"badge_prefix": "12"}, None, "approvals.badge_prefix: '12' does not match"),
        ({"badge_prefix": "MX"}, None, "approvals.badge_prefix: 'MX' overlaps sale.member_prefix"),
        ({"badge_prefix": "S"}, {"member_prefix": "SV"}, "approvals.badge_prefix: 'S' overlaps"),
        ({"pin_tries": 20}, None, "approvals.pin_tries: expected an integer from 3 to 10"),
        ({"lockout_min": 1}, None, "approvals.lockout_min: expected an integer from 5 to 1440"),
        ({"lockout": 15}, None, "approvals.lockout: unknown key"),
    ],
)
def test_mistakes_name_the_key(approvals: dict[str, Any], sale: Any, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(approvals, sale)
    assert str(err.value).startswith(f"lane.toml: {where}"), str(err.value)
