"""Catalog documents with promotions and loyalty under fuzzing, applied to a real
``catalog.db``.

The start is hw_sim's sample (hw_sim/samples/catalog-promotions.json: every promotion
type, member prices, a loyalty rule), as a snapshot one version on and as a change on
top of it, mutated (tests/fuzz/test_fuzz_data_mutations.py) and also given random JSON
where the promotions and the loyalty rule go. Whatever comes, the parser raises
``CatalogError`` or gives a change; applying (whole or in parts) raises ``CatalogError``
or applies it; and a refused document leaves every row of every table of the database
as it was.
"""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from firmware_app.errors import CatalogError
from firmware_app.lane.catalog import Unit
from firmware_app.lane.money import amount_of
from firmware_app.lane.pricing import BasketLine, price_basket
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import CatalogChange, parse_catalog
from firmware_app.store.db import open_catalog
from hw_sim.store_server.catalog import split_catalog
from tests.fuzz.test_fuzz_data_mutations import (
    Deep,
    Huge,
    Pairs,
    fuzz_settings,
    json_values,
    mutated,
    odd_values,
    to_json,
)

SAMPLE_PATH = Path(__file__).parents[2] / "hw_sim/samples/catalog-promotions.json"
SAMPLE: dict[str, Any] = json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def snapshot_on() -> dict[str, Any]:
    """The sample as the next version's snapshot."""
    return {**copy.deepcopy(SAMPLE), "version": SAMPLE["version"] + 1}


def change_on() -> dict[str, Any]:
    """A change on top of the sample: a price, a promotion replaced and one removed, a
    new loyalty rule."""
    items = copy.deepcopy(SAMPLE["items"][:3])
    items[0]["price"] = 360
    promotion = copy.deepcopy(SAMPLE["promotions"][1])
    promotion["price"] = 900
    return {
        "schema": "store.catalog/1",
        "at": "2026-12-03T09:00:00+08:00",
        "version": SAMPLE["version"] + 1,
        "base_version": SAMPLE["version"],
        "items": items,
        "removed": ["400001"],
        "promotions": [promotion],
        "removed_promotions": [SAMPLE["promotions"][0]["id"]],
        "loyalty": {"per": 200, "points": 3},
    }


# --- a real catalog.db, fresh for each example --------------------------------------------


def everything(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through a connection of its own (what is committed)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables
        }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """catalog.db holding the sample, closed (its WAL folded in): copied for each example."""
    path = tmp_path_factory.mktemp("template") / "catalog.db"
    db = open_catalog(path)
    StoreCatalog(db).apply(parse_catalog(json.dumps(SAMPLE).encode()))
    db.close()
    return path


class Rig:
    def __init__(self, template: Path, where: Path) -> None:
        self.path = where / "catalog.db"
        shutil.copyfile(template, self.path)
        self.db = open_catalog(self.path)
        self.catalog = StoreCatalog(self.db)

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def fresh(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    rigs: list[Rig] = []

    def make() -> Rig:
        rigs.append(Rig(template, tmp_path_factory.mktemp("catalog")))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def sells_from(catalog: StoreCatalog, change: CatalogChange) -> None:
    """An applied change is one the lane can sell from: every item by its codes and PLU,
    its promotions and loyalty rule read back."""
    for item in change.items:
        for key, sku in change.codes:
            if sku == item.sku:
                found = catalog.by_code(key)
                assert found is not None and found.sku == item.sku
        if item.plu is not None:
            assert catalog.by_plu(item.plu) is not None
    sent = {p.id: p for p in change.promotions}
    kept = {p.id: p for p in catalog.promotions()}
    assert all(kept[pid] == promotion for pid, promotion in sent.items())
    assert not set(change.removed_promotions) & set(kept) - set(sent)
    if change.loyalty_sent:
        assert catalog.loyalty() == change.loyalty
    prices_a_basket(catalog)


def prices_a_basket(catalog: StoreCatalog) -> None:
    """A basket of three of every item the catalog sells by a code or a PLU (1.5 kg of a
    weighed one), priced under its promotions for a member and for anyone: every line's
    discount from zero to its amount."""
    with closing(sqlite3.connect(f"file:{catalog.db.database}?mode=ro", uri=True)) as conn:
        codes = [row[0] for row in conn.execute("SELECT code FROM itemcode")]
        plus = [row[0] for row in conn.execute("SELECT plu FROM catalogitem WHERE plu IS NOT NULL")]
    found = [catalog.by_code(code) for code in codes] + [catalog.by_plu(plu) for plu in plus]
    items = sorted({item.sku: item for item in found if item is not None}.items())
    lines = []
    for no, (_, item) in enumerate(items, 1):
        qty = 1500 if item.unit is Unit.KG else 3000
        amount = amount_of(qty, item.price)
        lines.append(
            BasketLine(
                no, item.sku, item.department, item.unit, qty, item.price, item.member_price, amount
            )
        )
    for member in (True, False):
        priced = price_basket(lines, member=member, now=T0, promotions=catalog.promotions())
        for line in lines:
            assert 0 <= priced[line.no].discount <= line.amount


def apply_or_refuse(rig: Rig, payload: bytes) -> bool:
    """Parse and apply ``payload``; True when applied. A refusal changes nothing."""
    before = everything(rig.path)
    try:
        change = parse_catalog(payload)
        applied = rig.catalog.apply(change)
    except CatalogError as e:
        assert str(e)  # says why
        assert everything(rig.path) == before
        event(f"refused: {type(e).__name__}")
        return False
    assert applied.version == change.version == rig.catalog.version()
    sells_from(rig.catalog, change)
    event("applied")
    return True


# --- the parser alone ---------------------------------------------------------------------

documents = mutated(snapshot_on()) | mutated(change_on())


@fuzz_settings(150)
@given(documents)
@example(Pairs((("schema", "store.catalog/1"), ("version", 3), ("version", "3"))))
@example({**SAMPLE, "promotions": [Deep(50_000, objects=True)]})
@example({**SAMPLE, "loyalty": {"per": Huge(5000), "points": 1}})
@example({**SAMPLE, "promotions": [{**SAMPLE["promotions"][0], "percent": "\ud800"}]})
def test_the_parser_raises_only_catalog_errors(doc: Any) -> None:
    try:
        change = parse_catalog(to_json(doc))
    except CatalogError as e:
        assert str(e)
        return
    assert change.version >= 1


# --- applied to catalog.db ------------------------------------------------------------------


@fuzz_settings(80)
@given(documents)
def test_a_refused_document_changes_nothing_and_an_applied_one_sells(fresh: Any, doc: Any) -> None:
    apply_or_refuse(fresh(), to_json(doc))


@fuzz_settings(40)
@given(
    promotions=json_values | st.lists(odd_values | json_values, max_size=3),
    loyalty=odd_values | json_values,
    removed=json_values,
)
def test_random_promotions_and_loyalty_change_nothing_when_refused(
    fresh: Any, promotions: Any, loyalty: Any, removed: Any
) -> None:
    doc = {**change_on(), "promotions": promotions, "loyalty": loyalty}
    doc["removed_promotions"] = removed
    apply_or_refuse(fresh(), to_json(doc))


@fuzz_settings(25)
@given(st.data())
def test_a_change_in_parts_with_one_part_mutated_changes_nothing_until_whole(
    fresh: Any, data: st.DataObject
) -> None:
    """The snapshot in parts of five items; one part mutated. A part the parser refuses
    changes nothing; one it takes is kept, and the catalog itself changes only when the
    last part comes. Parts that do not make one valid change then are refused whole: the
    catalog as it was, the version's kept parts forgotten (store.catalog, ``stage``)."""
    rig = fresh()
    parts = split_catalog(snapshot_on(), part_items=5)
    bad = data.draw(st.integers(0, len(parts) - 1))
    parts[bad] = data.draw(mutated(parts[bad]))
    for i, part in enumerate(parts):
        before = everything(rig.path)
        try:
            change = parse_catalog(to_json(part))
        except CatalogError:
            assert everything(rig.path) == before
            event("part refused by the parser")
            continue
        try:
            applied = rig.catalog.stage(change, T0)
        except CatalogError:
            after = everything(rig.path)
            assert _catalog_only(after) == _catalog_only(before)
            assert all(row[0] != change.version for t in STAGES for row in after[t])
            event("the parts refused whole")
            continue
        after = everything(rig.path)
        if applied is None:  # kept: the catalog's own tables are as they were
            assert _catalog_only(after) == _catalog_only(before)
        else:
            event(f"applied at part {i + 1} of {len(parts)}")
            assert rig.catalog.version() == applied.version


STAGES = ("catalogstagepart", "catalogstageitem", "catalogstagecode", "catalogstageremoved")


def _catalog_only(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog as the lane sells from it: every table but the staged parts."""
    return {t: rows for t, rows in tables.items() if t not in STAGES}
