"""``[members]``: member number forms, the answer's time limit and a points rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_app import config as config_mod
from firmware_app.errors import ConfigError
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.rules import MemberRules

LANE = {"store": "S1", "lane": "1"}


def test_the_defaults_take_any_digits_and_wait_a_second() -> None:
    assert config_mod.parse({"lane": LANE}).rules.members == MemberRules()
    assert MemberRules().answer_timeout_ms == 1000


def test_members_are_read() -> None:
    raw = {
        "lane": LANE,
        "members": {
            "lengths": [13, 11, 13],
            "check_digit": "mod10-gs1",
            "answer_timeout": 1.5,
            "points_per": "1.00",
            "points": 2,
        },
    }
    assert config_mod.parse(raw).rules.members == MemberRules(
        lengths=(11, 13), check_digit="mod10-gs1", answer_timeout_ms=1500, loyalty=Loyalty(100, 2)
    )


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({"lengths": 13}, "members.lengths: expected a list"),
        ({"lengths": [0]}, "members.lengths: expected a list"),
        ({"lengths": [21]}, "members.lengths: expected a list"),
        ({"lengths": [True]}, "members.lengths: expected a list"),
        ({"lengths": [1], "check_digit": "luhn"}, "members.lengths: a number with a check"),
        ({"check_digit": "mod11"}, "members.check_digit: expected one of"),
        ({"answer_timeout": 0}, "members.answer_timeout: expected a number"),
        ({"answer_timeout": 60}, "members.answer_timeout: expected a number"),
        ({"points_per": 1.5}, "members.points_per"),
        ({"points": 0}, "members.points: expected an integer"),
        ({"lenghts": [13]}, "members.lenghts: unknown key"),
    ],
)
def test_bad_members_settings_are_refused_by_key(members: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason.replace(".", r"\.", 1)):
        config_mod.parse({"lane": LANE, "members": members})


def test_the_example_config_has_a_members_section() -> None:
    example = Path(config_mod.__file__).parent / "lane.example.toml"
    assert "[members]" in example.read_text(encoding="utf-8")
