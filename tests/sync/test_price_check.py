"""The store server's price check (``hw_sim.store_server.recompute``): an honest sale
passes; a line's promotion share, its discount, a tax or the points changed on the way
are each reported; a catalog that is no snapshot is refused with the file and reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from firmware_app.lane.effects import CommitSale
from firmware_app.lane.promotions import Loyalty
from firmware_app.sync.contract import sale_body
from hw_sim.store_server.errors import StoreServerError
from hw_sim.store_server.recompute import PriceBook, check_sale, load_price_book
from tests.unit.test_basket_pricing import COLA_CODE, MILK, THREE_COLAS, till_with
from tests.unit.till import FakeCatalog

ITEMS = {i.sku: i for i in (*FakeCatalog().items, MILK)}
LOYALTY = Loyalty(100, 1)
SAMPLE = Path(__file__).parents[2] / "hw_sim" / "samples" / "catalog-promotions.json"


def honest_sale() -> dict[str, Any]:
    """Three colas for 10.00 (3 for 10) and a bread, paid cash: as the lane sends it."""
    till = till_with(THREE_COLAS).do(*[f"scan {COLA_CODE}"] * 3, "scan 96385074", "key CASH")
    record = next(e for e in till.effects if isinstance(e, CommitSale)).record
    body = sale_body(record, "S001", "07")
    wire: dict[str, Any] = json.loads(json.dumps(body))  # as it comes off the wire
    return wire


def test_an_honest_sale_matches() -> None:
    sale = honest_sale()
    assert sale["totals"]["discount"] == 50
    assert check_sale(sale, ITEMS, (THREE_COLAS,)) == []


def _changed(change: str) -> dict[str, Any]:
    sale = copy.deepcopy(honest_sale())
    first = sale["lines"][0]
    if change == "share":
        first["promotions"][0]["discount"] += 1
        sale["lines"][1]["promotions"][0]["discount"] -= 1
    elif change == "discount":
        first["discount"] += 1
    elif change == "tax":
        sale["taxes"][0]["tax"] += 1
    elif change == "dropped":
        first["promotions"] = []
    return sale


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        ("share", "line 1: promotions"),
        ("discount", "line 1: discount"),
        ("tax", "taxes"),
        ("dropped", "line 1: promotions [], expected [('P1', 17)]"),
    ],
)
def test_what_changed_on_the_way_is_reported(change: str, reported: str) -> None:
    problems = check_sale(_changed(change), ITEMS, (THREE_COLAS,))
    assert any(reported in p for p in problems), problems


def test_a_promotion_the_catalog_does_not_have_is_reported() -> None:
    assert check_sale(honest_sale(), ITEMS, ()) != []


def test_a_members_points_are_checked() -> None:
    sale = honest_sale()
    sale["member"] = "6221234567891"
    sale["points"] = 20  # 20.00 paid: 20 points
    assert check_sale(sale, ITEMS, (THREE_COLAS,), LOYALTY) == []
    sale["points"] = 21
    assert check_sale(sale, ITEMS, (THREE_COLAS,), LOYALTY) == ["points 21, expected 20"]


def test_the_sample_catalog_loads_as_a_price_book() -> None:
    book = load_price_book(SAMPLE)
    assert isinstance(book, PriceBook)
    assert len(book.promotions) == 6 and book.loyalty == Loyalty(100, 1)
    assert book.items["100235"].member_price == 180


def test_a_catalog_change_or_a_bad_file_is_refused_with_its_name(tmp_path: Path) -> None:
    change = tmp_path / "change.json"
    doc = json.loads(SAMPLE.read_text("utf-8"))
    doc["base_version"] = 1
    change.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(StoreServerError, match=r"change\.json: a catalog change"):
        load_price_book(change)
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "store.catalog/1", "version": 0}', "utf-8")
    with pytest.raises(StoreServerError, match=r"broken\.json: version"):
        load_price_book(broken)
    with pytest.raises(StoreServerError, match=r"missing\.json"):
        load_price_book(tmp_path / "missing.json")
