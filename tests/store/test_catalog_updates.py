"""Catalog changes as the store server sends them: in parts, out of order, malformed,
or not following the lane's version; and prices that change mid-sale."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_app.app.catalog_updates import CatalogUpdates
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog
from hw_sim.lane_sim import SAMPLE_CATALOG
from tests.store.catalog_docs import RAW

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


def snapshot(version: int, **changes: object) -> bytes:
    return json.dumps({**SAMPLE, "version": version, "base_version": None, **changes}).encode()


def fingerprint(catalog: StoreCatalog) -> tuple[object, ...]:
    """Everything the lane sells by: the version, every item and every code."""
    m = catalog.m
    items = list(m.CatalogItem.select().order_by(m.CatalogItem.sku).tuples())
    codes = list(m.ItemCode.select().order_by(m.ItemCode.code).tuples())
    return catalog.version(), items, codes


def test_an_older_snapshot_is_rejected_and_changes_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.send(snapshot(5))
    before = fingerprint(rig.catalog)
    cheaper = [{**item, "price": 1} for item in SAMPLE["items"]]
    rig.send(snapshot(2, items=cheaper))
    assert fingerprint(rig.catalog) == before
    assert rig.updates.rejected == 1 and rig.applied == [5] and rig.requests == []
    assert "snapshot version 2 is older than the lane's catalog version 5" in caplog.text


def test_a_snapshot_in_parts_older_than_the_lane_is_rejected(rig: Rig) -> None:
    rig.send(snapshot(5))
    before = fingerprint(rig.catalog)
    rig.send(*parts_of({**SAMPLE, "version": 3}, 2))
    assert fingerprint(rig.catalog) == before and rig.updates.rejected == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schema": "store.catalog/1", "version": 2, "items": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        b'{"schema": "store.catalog/1", "version": 2, "promotions": ['
        + b'{"a":' * 500
        + b"1"
        + b"}" * 500
        + b"]}",
        b'{"schema": "store.catalog/1", "version": 1' + b"0" * 5000 + b"}",
    ],
    ids=["nested", "nested-items", "nested-promotion", "huge-int"],
)
def test_a_document_of_any_shape_is_counted_rejected(
    rig: Rig, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    rig.send(SAMPLE_CATALOG.read_bytes())
    before = fingerprint(rig.catalog)
    rig.send(payload)
    assert fingerprint(rig.catalog) == before
    assert rig.updates.rejected == 1 and rig.requests == []
    assert "rejected, nothing changed" in caplog.text
    assert "Traceback" not in caplog.text


def test_two_items_with_one_plu_are_rejected(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.send(SAMPLE_CATALOG.read_bytes())
    before = fingerprint(rig.catalog)
    items = [dict(item) for item in SAMPLE["items"]]
    items[3]["plu"] = 1  # 200001 富士苹果 has PLU 1
    rig.send(snapshot(2, items=items))
    assert fingerprint(rig.catalog) == before and rig.updates.rejected == 1
    assert "items[5] (sku 200001).plu: 1 is also the PLU of sku 100237" in caplog.text


def test_a_delta_giving_a_kept_items_plu_to_another_is_rejected(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.send(SAMPLE_CATALOG.read_bytes())
    before = fingerprint(rig.catalog)
    new = {**SAMPLE["items"][0], "sku": "500001", "codes": [], "plu": 101}
    delta = {**SAMPLE, "version": 2, "base_version": 1, "items": [new], "removed": []}
    rig.send(json.dumps(delta).encode())
    assert fingerprint(rig.catalog) == before and rig.updates.rejected == 1
    assert "items[0] (sku 500001).plu: 101 is also the PLU of sku 200003" in caplog.text
    # Once 200003 goes in the same change, 500001 may have its PLU.
    rig.send(json.dumps({**delta, "removed": ["200003"]}).encode())
    assert rig.catalog.version() == 2 and rig.catalog.by_plu(101).sku == "500001"


def test_a_plu_in_two_parts_is_rejected(rig: Rig) -> None:
    items = [dict(item) for item in SAMPLE["items"]]
    items[0]["plu"] = 9  # 400001, in the other part, has PLU 9
    rig.send(*parts_of({**SAMPLE, "items": items}, 2))
    assert rig.catalog.count() == 0 and rig.updates.rejected == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RAW, min_size=1, max_size=3))
def test_any_message_is_applied_or_rejected_never_half(payloads: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rig = Rig(Path(folder))
        try:
            rig.send(SAMPLE_CATALOG.read_bytes())
            for payload in payloads:
                before, rejected, applied = (
                    fingerprint(rig.catalog),
                    rig.updates.rejected,
                    rig.applied[:],
                )
                rig.send(payload)  # never raises: the sync thread must go on
                if rig.updates.rejected > rejected:
                    assert fingerprint(rig.catalog) == before and rig.applied == applied
                elif fingerprint(rig.catalog) != before:
                    assert rig.applied == [*applied, rig.catalog.version()]
        finally:
            rig.db.close()
