"""Every integer the contract carries is bounded, in the published schemas and in the
parsers: a store server's absurd number is refused at the door, never carried into
SQLite (whose integers end at 2**63 - 1) or into a sum."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from firmware_app.errors import CatalogError
from firmware_app.store.catalog_doc import MAX_PRICE, parse_catalog
from firmware_app.sync.contract import (
    MAX_INT,
    SCHEMA_NAMES,
    ContractError,
    ack_message,
    encode,
    load_schema,
    parse_ack,
    validate,
)
from tests.sync.test_contract import AT

PAST = [MAX_INT + 1, 2**63 - 1, 2**63, 2**64 + 5, 10**400]
PAST_IDS = ["2^53", "2^63-1", "2^63", "2^64+5", "10^400"]


def integer_nodes(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        kinds = node.get("type")
        if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
            yield where, node
        for key, value in node.items():
            yield from integer_nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from integer_nodes(value, f"{where}/{i}")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_integer_in_every_schema_has_both_bounds(name: str) -> None:
    for where, node in integer_nodes(load_schema(name)):
        assert -MAX_INT <= node.get("minimum", -(2**64)) <= MAX_INT, f"{name}{where}: minimum"
        assert node.get("maximum", 2**64) <= MAX_INT, f"{name}{where}: maximum"


def test_the_largest_ack_parses() -> None:
    assert parse_ack(encode(ack_message(MAX_INT, at=AT))) == MAX_INT


@pytest.mark.parametrize("upto", [*PAST, -1, -(2**63) - 1])
def test_an_ack_past_its_bounds_is_refused(upto: int) -> None:
    with pytest.raises(ContractError, match="upto"):
        parse_ack(encode(ack_message(upto, at=AT)))


def catalog(**changes: Any) -> dict[str, Any]:
    item = {"sku": "100234", "name": "可口可乐 330ml", "codes": ["6954767410388"], "plu": 12,
            "unit": "each", "price": 350, "tax_rate": "13"}  # fmt: skip
    item.update(changes.pop("item", {}))
    doc = {"schema": "store.catalog/1", "at": "2026-11-28T08:00:00+08:00", "version": 58,
           "base_version": 57, "items": [item], "removed": [], "promotions": []}  # fmt: skip
    doc.update(changes)
    return doc


@pytest.mark.parametrize("big", PAST, ids=PAST_IDS)
@pytest.mark.parametrize(
    "where",
    ["version", "base_version", "price", "plu", "part", "parts"],
)
def test_catalog_integers_past_their_bounds_are_refused(where: str, big: int) -> None:
    validate(catalog())
    if where in ("price", "plu"):
        doc = catalog(item={where: big})
    elif where == "base_version":
        doc = catalog(version=MAX_INT, base_version=big)
    else:
        doc = catalog(**{where: big})
    with pytest.raises(ContractError):
        validate(doc)


@pytest.mark.parametrize("big", PAST, ids=PAST_IDS)
@pytest.mark.parametrize("where", ["version", "base_version", "price", "plu", "part", "parts"])
def test_the_catalog_parser_refuses_what_the_schema_refuses(where: str, big: int) -> None:
    parse_catalog(encode(catalog()))
    if where in ("price", "plu"):
        doc = catalog(item={where: big})
    elif where == "base_version":
        doc = catalog(version=MAX_INT, base_version=big)
    else:
        doc = catalog(**{where: big})
    with pytest.raises(CatalogError):
        parse_catalog(encode(doc))


def test_the_largest_integers_pass_both_the_schema_and_the_catalog_parser() -> None:
    doc = catalog(version=MAX_INT, base_version=MAX_INT - 1, item={"price": MAX_PRICE})
    validate(doc)
    change = parse_catalog(encode(doc))
    assert (change.version, change.items[0].price) == (MAX_INT, MAX_PRICE)


def test_a_price_past_the_lanes_bound_fails_both() -> None:
    """A price times a quantity, summed over a basket, must stay inside SQLite's integers:
    the schema and the parser hold prices to the same bound."""
    doc = catalog(version=2, base_version=1, item={"price": MAX_PRICE + 1})
    with pytest.raises(ContractError):
        validate(doc)
    with pytest.raises(CatalogError, match="price"):
        parse_catalog(encode(doc))
