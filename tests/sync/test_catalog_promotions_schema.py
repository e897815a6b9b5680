"""The published ``store.catalog/1`` schema and the lane's parser agree on promotions and
loyalty: whatever the lane takes, the schema takes (the schema cannot know which skus a
catalog holds, so it is the looser of the two), and the schema refuses what is plainly
wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from firmware_app.errors import CatalogError
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.sync.contract import ContractError, validate
from tests.store.test_catalog_promotions import PROMOS, doc
from tests.store.test_catalog_promotions_store import (
    LOYALTY,
    PROMOTIONS,
    SAMPLE_PROMOTIONS,
)


def test_the_hw_sim_sample_with_promotions_validates() -> None:
    validate(json.loads(SAMPLE_PROMOTIONS.read_text(encoding="utf-8")))


@pytest.mark.parametrize("kind", PROMOS)
def test_every_type_validates(kind: str) -> None:
    validate(doc(promotions=[PROMOS[kind]], loyalty={"per": 100, "points": 1}))
    validate(doc(2, 1, promotions=[PROMOS[kind]], removed_promotions=["P0"], loyalty=None))


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"type": "bogo"}, "promotions[0].type"),
        ({"type": None}, "promotions[0].type: required"),
        ({"id": ""}, "promotions[0].id"),
        ({"items": None, "departments": None}, "promotions[0]"),
        ({"percent": None}, "promotions[0]"),
        ({"percent": 10}, "promotions[0].percent"),
        ({"members_only": "yes"}, "promotions[0].members_only"),
        ({"starts": "2026-12-01"}, "promotions[0].starts"),
        ({"hours": ["7:00", "22:00"]}, "promotions[0].hours[0]"),
    ],
)
def test_plainly_wrong_promotions_are_refused(changes: dict[str, Any], where: str) -> None:
    promo = {**PROMOS["percent_off"], **changes}
    promo = {k: v for k, v in promo.items() if v is not None}
    with pytest.raises(ContractError, match=re.escape(f"store.catalog/1: {where}")):
        validate(doc(promotions=[promo]))


@pytest.mark.parametrize(
    "loyalty", [{"per": 0, "points": 1}, {"per": 100}, {"per": 100, "points": 2**53}, 100]
)
def test_a_bad_loyalty_rule_is_refused(loyalty: Any) -> None:
    with pytest.raises(ContractError, match=r"store\.catalog/1: loyalty"):
        validate(doc(loyalty=loyalty))


@settings(max_examples=300, deadline=None)
@given(promotions=PROMOTIONS, loyalty=LOYALTY)
def test_what_the_lane_takes_the_schema_takes(promotions: Any, loyalty: Any) -> None:
    message = {**doc(), "promotions": promotions, "loyalty": loyalty}
    try:
        parse_catalog(json.dumps(message).encode())
    except CatalogError:
        return
    validate(message)


def test_the_documented_example_is_what_the_lane_and_the_schema_take() -> None:
    text = (Path(__file__).parents[2] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    after = text.split("**Promotions and loyalty.**", 1)[1]
    example = json.loads(after.split("```json", 1)[1].split("```", 1)[0])
    validate(example)
    change = parse_catalog(json.dumps(example).encode())
    assert len(change.promotions) == 6 and change.loyalty_sent
    assert {p.type.value for p in change.promotions} == set(PROMOS)
