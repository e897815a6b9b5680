"""Promotions and the loyalty rule in ``store.catalog/1``: every field checked when a
document is parsed (each refusal with its reason), the skus they name checked against
the catalog a change leaves, and all or nothing with the items."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firmware_app.errors import CatalogError
from firmware_app.lane.promotions import Loyalty, Promotion, PromoType
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog
from firmware_app.store.promotions_doc import parse_promotion, promotion_json
from tests.store.test_store import item

CST = timezone(timedelta(hours=8))

# One of each type, as a store server sends them.
PROMOS: dict[str, dict[str, Any]] = {
    "percent_off": {"id": "P1", "name": "会员九折", "type": "percent_off", "items": ["A"],
                    "members_only": True, "percent": "10"},
    "amount_off": {"id": "P2", "name": "立减 3 元", "type": "amount_off", "items": ["B"],
                   "starts": "2026-12-01T00:00:00+08:00", "ends": "2027-01-01T00:00:00Z",
                   "amount": 300},
    "fixed_price": {"id": "P3", "name": "晚间面包", "type": "fixed_price",
                    "departments": ["bakery"], "hours": ["19:00", "22:00"], "price": 600},
    "multi_buy": {"id": "P4", "name": "3 for 10.00", "type": "multi_buy", "items": ["A", "B"],
                  "qty": 3, "price": 1000},
    "buy_get": {"id": "P5", "name": "第二件半价", "type": "buy_get", "items": ["A"],
                "buy": 1, "get": 1, "percent": "50"},
    "threshold": {"id": "P6", "name": "满100减20", "type": "threshold",
                  "departments": ["snacks", "drinks"], "min": 10000, "off": 2000,
                  "repeat": True},
}  # fmt: skip

EXPECTED = {
    "percent_off": Promotion("P1", "会员九折", PromoType.PERCENT_OFF, items=frozenset({"A"}),
                             members_only=True, percent=Decimal("10")),
    "amount_off": Promotion("P2", "立减 3 元", PromoType.AMOUNT_OFF, items=frozenset({"B"}),
                            starts=datetime(2026, 12, 1, tzinfo=CST),
                            ends=datetime(2027, 1, 1, tzinfo=UTC), amount=300),
    "fixed_price": Promotion("P3", "晚间面包", PromoType.FIXED_PRICE,
                             departments=frozenset({"bakery"}), hours=(time(19), time(22)),
                             price=600),
    "multi_buy": Promotion("P4", "3 for 10.00", PromoType.MULTI_BUY,
                           items=frozenset({"A", "B"}), qty=3, price=1000),
    "buy_get": Promotion("P5", "第二件半价", PromoType.BUY_GET, items=frozenset({"A"}), buy=1,
                         get=1, percent=Decimal("50")),
    "threshold": Promotion("P6", "满100减20", PromoType.THRESHOLD,
                           departments=frozenset({"snacks", "drinks"}), min=10000, off=2000,
                           repeat=True),
}  # fmt: skip

ITEMS = [item("A"), item("B")]


def doc(
    version: int = 1,
    base: int | None = None,
    *,
    items: list[dict] | None = None,
    promotions: list[dict] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "schema": "store.catalog/1",
        "at": "2026-12-01T08:00:00+08:00",
        "version": version,
        "base_version": base,
        "items": ITEMS if items is None else items,
        "removed": [],
        "promotions": list(PROMOS.values()) if promotions is None else promotions,
        **extra,
    }


def raw(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


@pytest.fixture
def catalog(tmp_path: Path):
    db = open_catalog(tmp_path / "catalog.db")
    yield StoreCatalog(db)
    db.close()


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PROMOS)
def test_every_type_parses_to_the_cores_promotion(kind: str) -> None:
    change = parse_catalog(raw(doc(promotions=[PROMOS[kind]])))
    assert change.promotions == (EXPECTED[kind],)


@pytest.mark.parametrize("kind", PROMOS)
def test_the_kept_form_reads_back_the_same(kind: str) -> None:
    kept = promotion_json(EXPECTED[kind])
    assert parse_promotion(json.loads(json.dumps(kept)), "p") == EXPECTED[kind]


def with_(kind: str, **changes: Any) -> dict[str, Any]:
    """The ``kind`` promotion with fields changed (None: taken away)."""
    promo = {**PROMOS[kind], **changes}
    return {k: v for k, v in promo.items() if v is not None or k not in changes}


def without(kind: str, *keys: str) -> dict[str, Any]:
    return {k: v for k, v in PROMOS[kind].items() if k not in keys}


REFUSED = [
    # The promotion itself
    ("not an object", "P", "promotions[1]: expected an object, got 'P'"),
    ("no id", without("percent_off", "id"),
     "promotions[1].id: expected a non-empty string of up to 64 printable characters, "
     "got None"),
    ("empty id", with_("percent_off", id=""),
     "promotions[1].id: expected a non-empty string of up to 64 printable characters, got ''"),
    ("id a number", with_("percent_off", id=7),
     "promotions[1].id: expected a non-empty string of up to 64 printable characters, got 7"),
    ("id too long", with_("percent_off", id="X" * 65),
     "promotions[1].id: expected a non-empty string of up to 64 printable characters, "
     "got 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX…"),
    ("duplicate id", with_("amount_off", id="P0"), "promotions[1].id: duplicate promotion id 'P0'"),
    ("no name", without("percent_off", "name"),
     "promotions[1] (P1).name: expected a non-empty string of up to 200, got None"),
    ("blank name", with_("percent_off", name="  "),
     "promotions[1] (P1).name: expected a non-empty string of up to 200, got '  '"),
    ("control in name", with_("percent_off", name="a\nb"),
     "promotions[1] (P1).name: contains control characters"),
    ("unknown type", with_("percent_off", type="bogo"),
     "promotions[1] (P1).type: expected one of percent_off, amount_off, fixed_price, "
     "multi_buy, buy_get, threshold, got 'bogo'"),
    ("no type", without("percent_off", "type"),
     "promotions[1] (P1).type: expected one of percent_off, amount_off, fixed_price, "
     "multi_buy, buy_get, threshold, got None"),
    # What qualifies
    ("items not a list", with_("percent_off", items="A"),
     "promotions[1] (P1).items: expected a list of skus (non-empty strings of up to 64 "
     "printable characters), got 'A'"),
    ("an empty sku", with_("percent_off", items=["A", ""]),
     "promotions[1] (P1).items: expected a list of skus (non-empty strings of up to 64 "
     "printable characters), got a list of 2"),
    ("departments not strings", with_("threshold", departments=[3]),
     "promotions[1] (P6).departments: expected a list of department ids (1 to 32 "
     "printable characters), got a list of 1"),
    ("an empty department", with_("threshold", departments=[""]),
     "promotions[1] (P6).departments: expected a list of department ids (1 to 32 "
     "printable characters), got a list of 1"),
    ("nothing qualifies", with_("percent_off", items=[]),
     "promotions[1] (P1): names no items and no departments: it would apply to nothing"),
    ("neither field", without("percent_off", "items"),
     "promotions[1] (P1): names no items and no departments: it would apply to nothing"),
    ("members_only not a bool", with_("percent_off", members_only="yes"),
     "promotions[1] (P1).members_only: expected true or false, got 'yes'"),
    # The window
    ("starts without offset", with_("amount_off", starts="2026-12-01T00:00:00"),
     'promotions[1] (P2).starts: expected an RFC 3339 time with its offset (like '
     '"2026-12-01T00:00:00+08:00"), got \'2026-12-01T00:00:00\''),
    ("starts a date", with_("amount_off", starts="2026-12-01"),
     'promotions[1] (P2).starts: expected an RFC 3339 time with its offset (like '
     '"2026-12-01T00:00:00+08:00"), got \'2026-12-01\''),
    ("ends not a time", with_("amount_off", ends="2026-02-30T00:00:00+08:00"),
     'promotions[1] (P2).ends: expected an RFC 3339 time with its offset (like '
     '"2026-12-01T00:00:00+08:00"), got \'2026-02-30T00:00:00+08:00\''),
    ("ends a number", with_("amount_off", ends=1764547200),
     'promotions[1] (P2).ends: expected an RFC 3339 time with its offset (like '
     '"2026-12-01T00:00:00+08:00"), got 1764547200'),
    ("ends before starts", with_("amount_off", ends="2026-11-30T23:00:00+08:00"),
     "promotions[1] (P2).ends: '2026-11-30T23:00:00+08:00' is not after starts "
     "'2026-12-01T00:00:00+08:00'"),
    ("ends at starts", with_("amount_off", ends="2026-11-30T16:00:00Z"),
     "promotions[1] (P2).ends: '2026-11-30T16:00:00Z' is not after starts "
     "'2026-12-01T00:00:00+08:00'"),
    ("hours a string", with_("fixed_price", hours="19:00-22:00"),
     'promotions[1] (P3).hours: expected ["HH:MM", "HH:MM"] (00:00 to 23:59), '
     "got '19:00-22:00'"),
    ("hours unpadded", with_("fixed_price", hours=["7:00", "22:00"]),
     'promotions[1] (P3).hours: expected ["HH:MM", "HH:MM"] (00:00 to 23:59), '
     "got ['7:00', '22:00']"),
    ("hours equal", with_("fixed_price", hours=["19:00", "19:00"]),
     "promotions[1] (P3).hours: start and end are both 19:00 (no hours to sell in), "
     "got ['19:00', '19:00']"),
    # The type's fields
    ("percent a number", with_("percent_off", percent=10),
     'promotions[1] (P1).percent: expected a decimal string above 0 and at most 100, with '
     'at most 2 decimals (like "12.5"), got 10'),
    ("percent zero", with_("percent_off", percent="0"),
     'promotions[1] (P1).percent: expected a decimal string above 0 and at most 100, with '
     "at most 2 decimals (like \"12.5\"), got '0'"),
    ("percent over 100", with_("buy_get", percent="100.01"),
     'promotions[1] (P5).percent: expected a decimal string above 0 and at most 100, with '
     "at most 2 decimals (like \"12.5\"), got '100.01'"),
    ("percent 3 decimals", with_("percent_off", percent="12.345"),
     'promotions[1] (P1).percent: expected a decimal string above 0 and at most 100, with '
     "at most 2 decimals (like \"12.5\"), got '12.345'"),
    ("percent exponent", with_("percent_off", percent="1e1"),
     'promotions[1] (P1).percent: expected a decimal string above 0 and at most 100, with '
     "at most 2 decimals (like \"12.5\"), got '1e1'"),
    ("no percent", without("buy_get", "percent"),
     'promotions[1] (P5).percent: expected a decimal string above 0 and at most 100, with '
     'at most 2 decimals (like "12.5"), got None'),
    ("amount zero", with_("amount_off", amount=0),
     "promotions[1] (P2).amount: expected an integer from 1 to 9999999999, got 0"),
    ("amount a string", with_("amount_off", amount="300"),
     "promotions[1] (P2).amount: expected an integer from 1 to 9999999999, got '300'"),
    ("amount past the bounds", with_("amount_off", amount=2**63),
     "promotions[1] (P2).amount: expected an integer from 1 to 9999999999, "
     "got 9223372036854775808"),
    ("price negative", with_("fixed_price", price=-1),
     "promotions[1] (P3).price: expected an integer from 0 to 9999999999, got -1"),
    ("price a float", with_("fixed_price", price=6.0),
     "promotions[1] (P3).price: expected an integer from 0 to 9999999999, got 6.0"),
    ("no price", without("multi_buy", "price"),
     "promotions[1] (P4).price: expected an integer from 0 to 9999999999, got None"),
    ("qty zero", with_("multi_buy", qty=0),
     "promotions[1] (P4).qty: expected an integer from 1 to 999, got 0"),
    ("qty a bool", with_("multi_buy", qty=True),
     "promotions[1] (P4).qty: expected an integer from 1 to 999, got True"),
    ("buy zero", with_("buy_get", buy=0),
     "promotions[1] (P5).buy: expected an integer from 1 to 999, got 0"),
    ("get too many", with_("buy_get", get=1000),
     "promotions[1] (P5).get: expected an integer from 1 to 999, got 1000"),
    ("min zero", with_("threshold", min=0),
     "promotions[1] (P6).min: expected an integer from 1 to 9999999999, got 0"),
    ("off zero", with_("threshold", off=0),
     "promotions[1] (P6).off: expected an integer from 1 to 9999999999, got 0"),
    ("off over min", with_("threshold", off=10001),
     "promotions[1] (P6).off: 10001 is more than min 10000"),
    ("repeat not a bool", with_("threshold", repeat=1),
     "promotions[1] (P6).repeat: expected true or false, got 1"),
    # Fields of another type
    ("percent on a fixed price", with_("fixed_price", percent="10"),
     "promotions[1] (P3).percent: a fixed_price promotion takes price, not percent"),
    ("qty on a buy_get", with_("buy_get", qty=2),
     "promotions[1] (P5).qty: a buy_get promotion takes buy, get, percent, not qty"),
    ("repeat on a percent_off", with_("percent_off", repeat=False),
     "promotions[1] (P1).repeat: a percent_off promotion takes percent, not repeat"),
]  # fmt: skip


@pytest.mark.parametrize(("promo", "reason"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_bad_promotion_refuses_the_document_with_its_reason(promo: Any, reason: str) -> None:
    first = {**PROMOS["percent_off"], "id": "P0"}
    with pytest.raises(CatalogError) as err:
        parse_catalog(raw(doc(promotions=[first, promo])))
    assert str(err.value) == reason


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"promotions": {}}, "promotions: expected a list, got an object"),
        ({"removed_promotions": "P1"}, "removed_promotions: expected a list of ids, got 'P1'"),
        (
            {"removed_promotions": ["P1", ""]},
            "removed_promotions[1]: expected a promotion id (a non-empty string of up to 64 "
            "printable characters), got ''",
        ),
        ({"loyalty": 100}, 'loyalty: expected {"per": …, "points": …} or null, got 100'),
        ({"loyalty": {"per": 0, "points": 1}},
         "loyalty.per: expected an integer from 1 to 9999999999, got 0"),
        ({"loyalty": {"per": 100}},
         "loyalty.points: expected an integer from 1 to 1000000, got None"),
        ({"loyalty": {"per": 100, "points": "1"}},
         "loyalty.points: expected an integer from 1 to 1000000, got '1'"),
    ],
)  # fmt: skip
def test_bad_promotion_lists_and_loyalty_are_refused(extra: dict, reason: str) -> None:
    with pytest.raises(CatalogError) as err:
        parse_catalog(raw(doc(**extra)))
    assert str(err.value) == reason


def test_null_fields_of_other_types_and_unknown_fields_are_ignored() -> None:
    promo = {**PROMOS["percent_off"], "amount": None, "qty": None, "repeat": None,
             "starts": None, "hours": None, "colour": "red", "items": ["A"]}  # fmt: skip
    assert parse_catalog(raw(doc(promotions=[promo]))).promotions == (EXPECTED["percent_off"],)


def test_loyalty_parses_and_says_whether_it_was_sent() -> None:
    sent = parse_catalog(raw(doc(loyalty={"per": 100, "points": 1})))
    assert (sent.loyalty, sent.loyalty_sent) == (Loyalty(100, 1), True)
    cleared = parse_catalog(raw(doc(loyalty=None)))
    assert (cleared.loyalty, cleared.loyalty_sent) == (None, True)
    absent = parse_catalog(raw(doc()))
    assert (absent.loyalty, absent.loyalty_sent) == (None, False)
