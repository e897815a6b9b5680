"""``[restrictions]`` (sale hours by department) and ``[sale] default_min_age``."""

from __future__ import annotations

from datetime import time

import pytest

from firmware_app import config as config_mod
from firmware_app.errors import ConfigError

LANE = {"store": "S1", "lane": "1"}


def test_department_hours_and_the_default_age_are_read() -> None:
    raw = {
        "lane": LANE,
        "sale": {"default_min_age": 20},
        "restrictions": {"alcohol": ["08:00", "22:00"], "late": ["22:00", "06:00"]},
    }
    rules = config_mod.parse(raw).rules
    assert rules.default_min_age == 20
    assert rules.department_hours == (
        ("alcohol", time(8), time(22)),
        ("late", time(22), time(6)),
    )


def test_the_defaults() -> None:
    rules = config_mod.parse({"lane": LANE}).rules
    assert (rules.default_min_age, rules.department_hours) == (18, ())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"restrictions": {"alcohol": ["8:00", "22:00"]}}, "restrictions.alcohol: expected"),
        ({"restrictions": {"alcohol": "08:00-22:00"}}, "restrictions.alcohol: expected"),
        ({"restrictions": {"alcohol": ["22:00", "22:00"]}}, "restrictions.alcohol: start and end"),
        ({"restrictions": {"alcohol": ["08:00", "24:00"]}}, "restrictions.alcohol"),
        ({"sale": {"default_min_age": 0}}, "sale.default_min_age"),
    ],
)
def test_bad_restrictions_are_refused_by_key(raw: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason.replace(".", r"\.", 1)):
        config_mod.parse({"lane": LANE, **raw})
