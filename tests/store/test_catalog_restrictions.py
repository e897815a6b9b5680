"""Restrictions in the catalog: ``department``, ``min_age``, ``sale_hours`` and
``member_price`` are checked when a document is parsed, kept in ``catalog.db`` (an older
file gets the columns on open), and read back into the core's ``Item``."""

from __future__ import annotations

import json
import sqlite3
from datetime import time
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from firmware_app.errors import CatalogError
from firmware_app.lane.effects import SaveSale
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.store.test_catalog_import import SAMPLE, catalog_file, config  # noqa: F401
from tests.store.test_store import doc, item
from tests.unit.till import Till


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"department": ""}, "items[0] (sku A).department: expected a short id"),
        ({"department": 7}, "items[0] (sku A).department: expected a short id"),
        ({"department": "x" * 33}, "items[0] (sku A).department"),
        ({"department": " alcohol"}, "items[0] (sku A).department"),
        ({"min_age": 0}, "items[0] (sku A).min_age: expected an integer from 1 to 150, got 0"),
        ({"min_age": "18"}, "items[0] (sku A).min_age"),
        ({"min_age": True}, "items[0] (sku A).min_age"),
        ({"min_age": 151}, "items[0] (sku A).min_age"),
        ({"member_price": -1}, "items[0] (sku A).member_price"),
        ({"member_price": 1.5}, "items[0] (sku A).member_price"),
        ({"sale_hours": "08:00-22:00"}, "items[0] (sku A).sale_hours: expected"),
        ({"sale_hours": ["08:00"]}, "items[0] (sku A).sale_hours: expected"),
        ({"sale_hours": ["8:00", "22:00"]}, "got ['8:00', '22:00']"),
        ({"sale_hours": ["08:00", "24:00"]}, "items[0] (sku A).sale_hours"),
        ({"sale_hours": ["08:60", "22:00"]}, "items[0] (sku A).sale_hours"),
        ({"sale_hours": ["08:00", 22]}, "items[0] (sku A).sale_hours"),
        ({"sale_hours": ["08:00", "08:00"]}, "items[0] (sku A).sale_hours: start and end"),
    ],
)
def test_bad_restriction_fields_refuse_the_whole_document(extra: dict, reason: str) -> None:
    with pytest.raises(CatalogError) as err:
        parse_catalog(doc(1, None, [item("B"), item("A", **extra)]))
    assert reason.replace("items[0]", "items[1]") in str(err.value)


def test_restriction_fields_parse() -> None:
    change = parse_catalog(
        doc(
            1,
            None,
            [
                item("A", department="alcohol", min_age=18, sale_hours=["08:00", "22:00"]),
                item("B", sale_hours=["22:00", "06:00"], member_price=299),
                item("C", department=None, min_age=None, sale_hours=None, member_price=None),
            ],
        )
    )
    a, b, c = change.items
    assert (a.department, a.min_age, a.sale_hours) == ("alcohol", 18, (time(8), time(22)))
    assert (b.sale_hours, b.member_price) == ((time(22), time(6)), 299)
    assert (c.department, c.min_age, c.sale_hours, c.member_price) == (None, None, None, None)


def test_restrictions_round_trip_through_catalog_import(
    config: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    items = [dict(i) for i in SAMPLE["items"]]
    beer = next(i for i in items if i["sku"] == "100238")
    beer.update(department="alcohol", min_age=20, sale_hours=["08:00", "22:00"], member_price=550)
    path = catalog_file(tmp_path, 3, items=items)
    assert main(["catalog", "import", str(path), "--config", str(config)]) == 0
    db = open_catalog(tmp_path / "data" / "catalog.db")
    try:
        catalog = StoreCatalog(db)
        by_code = catalog.by_code("06901035603423")
        cola = catalog.by_code("06954767410388")
    finally:
        db.close()
    assert by_code is not None and cola is not None
    assert by_code.department == "alcohol"
    assert by_code.min_age == 20
    assert by_code.sale_hours == (time(8), time(22))
    assert by_code.member_price == 550
    assert by_code.age_restricted
    assert (cola.department, cola.min_age, cola.sale_hours, cola.member_price) == (
        None,
        None,
        None,
        None,
    )


OLD_ITEM_TABLE = (
    "CREATE TABLE catalogitem (sku TEXT PRIMARY KEY, name TEXT, unit TEXT, price INTEGER, "
    "tax_rate TEXT, plu INTEGER, age_restricted INTEGER, active INTEGER)"
)
OLD_STAGE_TABLE = (
    "CREATE TABLE catalogstageitem (version INTEGER, part INTEGER, pos INTEGER, sku TEXT, "
    "name TEXT, unit TEXT, price INTEGER, tax_rate TEXT, plu INTEGER, age_restricted INTEGER, "
    "active INTEGER, PRIMARY KEY (version, part, pos))"
)


def test_an_older_catalog_file_gets_the_new_columns_on_open(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path)
    conn.execute(OLD_ITEM_TABLE)
    conn.execute(OLD_STAGE_TABLE)
    conn.execute("INSERT INTO catalogitem VALUES ('A', '啤酒', 'each', 600, '13', 5, 1, 1)")
    conn.commit()
    conn.close()
    db = open_catalog(path)
    try:
        catalog = StoreCatalog(db)
        old = catalog.by_plu(5)
        assert old is not None and old.age_restricted and old.min_age is None
        catalog.apply(parse_catalog(doc(2, None, [item("B", plu=6, min_age=21)])))
        new = catalog.by_plu(6)
        assert new is not None and new.min_age == 21
    finally:
        db.close()


def test_catalog_import_refuses_a_bad_field_by_name(
    config: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = [dict(i) for i in SAMPLE["items"]]
    items[4]["sale_hours"] = ["22:00"]
    path = catalog_file(tmp_path, 3, items=items)
    assert main(["catalog", "import", str(path), "--config", str(config)]) == 1
    assert f"items[4] (sku {items[4]['sku']}).sale_hours" in capsys.readouterr().err
    assert json.loads(path.read_text())["version"] == 3


def test_the_open_sale_keeps_its_age_checks_over_a_restart(tmp_path: Path) -> None:
    till = Till().do("signon", "scan 06901035603423", "key YES")
    assert till.state.sale is not None and till.state.sale.age_checked == (18,)
    db = open_database(tmp_path / "lane.db")
    store = SalesStore(db, messages=LaneUplink(Topics("pos", "S001", "07")))
    store.apply([e for e in till.all_effects if isinstance(e, SaveSale)])
    db.close()
    again = SalesStore(open_database(tmp_path / "lane.db"), messages=store.messages)
    try:
        assert again.load_open_sale() == till.state.sale
    finally:
        again.db.close()


def test_an_older_lane_database_gets_the_age_checks_column(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE opensale (id TEXT PRIMARY KEY, opened_at TEXT, cashier TEXT, "
        "member TEXT, rounding INTEGER DEFAULT 0, tenders TEXT DEFAULT '[]')"
    )
    conn.execute(
        "INSERT INTO opensale VALUES ('s1', '2026-11-28T09:00:00+08:00', '1001', NULL, 0, '[]')"
    )
    conn.commit()
    conn.close()
    store = SalesStore(open_database(path), messages=LaneUplink(Topics("pos", "S1", "1")))
    try:
        sale = store.load_open_sale()
        assert sale is not None and sale.id == "s1" and sale.age_checked == ()
    finally:
        store.db.close()
