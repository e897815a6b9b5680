"""Catalog changes as the store server sends them: in parts, out of order, malformed,
or not following the lane's version; and prices that change mid-sale."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from firmware_app.catalog_updates import CatalogUpdates
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog
from hw_sim.lane_sim import SAMPLE_CATALOG

SAMPLE = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))


def parts_of(doc: dict, n: int, **changes: object) -> list[bytes]:
    """``doc`` split into ``n`` parts, as a store server sends a big change."""
    items = doc["items"]
    size = -(-len(items) // n)
    return [
        json.dumps(
            {**doc, "items": items[i * size : (i + 1) * size], "part": i + 1, "parts": n,
             **changes},
            ensure_ascii=False,
        ).encode()
        for i in range(n)
    ]  # fmt: skip


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.db = open_catalog(tmp_path / "catalog.db")
        self.catalog = StoreCatalog(self.db)
        self.requests: list[int] = []
        self.applied: list[int] = []
        self.updates = CatalogUpdates(
            self.catalog,
            request_snapshot=self.requests.append,
            on_applied=self.applied.append,
            clock=lambda: datetime.now().astimezone(),
        )

    def send(self, *payloads: bytes) -> None:
        for payload in payloads:
            self.updates.handle("pos/S001/catalog", payload)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.db.close()


def test_parts_in_any_order_apply_once_all_have_come(rig: Rig) -> None:
    one, two, three = parts_of(SAMPLE, 3)
    rig.send(three, one)
    assert rig.catalog.version() == 0 and rig.catalog.count() == 0
    rig.send(two)
    assert rig.catalog.version() == 1 and rig.catalog.count() == 12
    assert rig.applied == [1]
    assert rig.catalog.by_code("06954767410388").name == "可口可乐 330ml"


def test_a_part_sent_twice_is_harmless(rig: Rig) -> None:
    one, two = parts_of(SAMPLE, 2)
    rig.send(one, one, two)
    assert rig.catalog.count() == 12 and rig.applied == [1]


def test_a_malformed_part_means_nothing_of_that_version_applies(rig: Rig) -> None:
    doc = json.loads(json.dumps(SAMPLE))
    doc["items"][11]["price"] = -30
    one, two = parts_of(doc, 2)
    rig.send(one, two)
    assert rig.catalog.version() == 0 and rig.catalog.count() == 0
    assert rig.updates.rejected == 1


def test_parts_that_do_not_belong_together_are_refused(rig: Rig) -> None:
    one, _ = parts_of(SAMPLE, 2)
    _, two = parts_of(SAMPLE, 2, base_version=5)
    rig.send(one, two)
    assert rig.catalog.count() == 0 and rig.updates.rejected == 1


def test_a_sku_in_two_parts_is_refused(rig: Rig) -> None:
    doc = {**SAMPLE, "items": SAMPLE["items"] + SAMPLE["items"][:1]}
    one, two = parts_of(doc, 2)
    rig.send(one, two)
    assert rig.catalog.count() == 0 and rig.updates.rejected == 1


def test_a_delta_on_another_version_asks_for_a_snapshot(rig: Rig) -> None:
    rig.send(SAMPLE_CATALOG.read_bytes())
    delta = {**SAMPLE, "version": 9, "base_version": 7, "items": SAMPLE["items"][:1]}
    rig.send(json.dumps(delta).encode())
    assert rig.requests == [1] and rig.catalog.version() == 1


@pytest.mark.parametrize(
    "payload",
    [b"\xff\xfe", b"[1, 2]", b'{"schema": "store.catalog/1"}', b"{" * 100_000, b"null"],
)
def test_garbage_changes_nothing(rig: Rig, payload: bytes) -> None:
    rig.send(SAMPLE_CATALOG.read_bytes())
    rig.send(payload)
    assert rig.catalog.version() == 1 and rig.catalog.count() == 12


def test_a_big_snapshot_in_parts(rig: Rig) -> None:
    items = [
        {"sku": f"{n:07d}", "name": f"商品 {n}", "codes": [], "plu": None, "unit": "each",
         "price": 100 + n, "tax_rate": "13", "age_restricted": False, "active": True}
        for n in range(100_000)
    ]  # fmt: skip
    doc = {**SAMPLE, "version": 2, "items": items}
    rig.send(*parts_of(doc, 4))
    assert rig.catalog.version() == 2 and rig.catalog.count() == 100_000
    assert parse_catalog(parts_of(doc, 4)[3]).part == 4
