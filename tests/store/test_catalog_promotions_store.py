"""Promotions and loyalty in ``catalog.db``: through a technician's import, a snapshot and a
change (in one message or in parts) over real SQLite; all or nothing with the items; and
the catalog port's copy in memory, read again only after the catalog changed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_app.app.catalog_updates import CatalogUpdates
from firmware_app.app.cli import main
from firmware_app.errors import CatalogError
from firmware_app.lane.promotions import Loyalty
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog
from hw_sim.store_server.catalog import split_catalog
from tests.store.catalog_docs import ANY_JSON
from tests.store.test_catalog_promotions import EXPECTED, PROMOS, doc, raw
from tests.store.test_store import item

ALL = tuple(sorted(EXPECTED.values(), key=lambda p: p.id))
SAMPLE_PROMOTIONS = Path(__file__).parents[2] / "hw_sim/samples/catalog-promotions.json"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[StoreCatalog]:
    db = open_catalog(tmp_path / "catalog.db")
    yield StoreCatalog(db)
    db.close()


def state(catalog: StoreCatalog) -> tuple[Any, ...]:
    """The catalog as the lane sells from it, read from SQLite (not the port's copy)."""
    conn = catalog.db.connection()
    return (
        catalog.version(),
        conn.execute("SELECT sku, price FROM catalogitem ORDER BY sku").fetchall(),
        conn.execute("SELECT id, body FROM catalogpromotion ORDER BY id").fetchall(),
        conn.execute("SELECT value FROM meta WHERE key = 'catalog.loyalty'").fetchall(),
    )


# --- every type, every way in ------------------------------------------------------------


def test_every_type_round_trips_through_a_technicians_import(tmp_path: Path) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n')
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc(loyalty={"per": 100, "points": 1}), ensure_ascii=False))
    assert main(["catalog", "import", str(path), "--config", str(config)]) == 0
    db = open_catalog(tmp_path / "data" / "catalog.db")
    try:
        catalog = StoreCatalog(db)
        assert catalog.promotions() == ALL
        assert catalog.loyalty() == Loyalty(per=100, points=1)
    finally:
        db.close()


def test_an_import_with_a_bad_promotion_names_it_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n')
    bad = {**PROMOS["multi_buy"], "id": "P7", "items": ["A", "123"]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc(promotions=[PROMOS["percent_off"], PROMOS["buy_get"], bad])))
    assert main(["catalog", "import", str(path), "--config", str(config)]) == 1
    assert f'{path}: promotions[2] (P7).items: unknown sku "123"' in capsys.readouterr().err


class Rig:
    """The catalog thread's handler over a real catalog.db, fed what a store server sends."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = open_catalog(tmp_path / "catalog.db")
        self.catalog = StoreCatalog(self.db)
        self.updates = CatalogUpdates(
            self.catalog,
            request_snapshot=lambda have: None,
            on_applied=lambda version: None,
            clock=lambda: datetime.now().astimezone(),
        )

    def send(self, message: dict[str, Any], part_items: int = 20_000) -> None:
        for part in split_catalog(message, part_items):
            self.updates.handle("pos/S001/catalog", raw(part))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.db.close()


@pytest.mark.parametrize("part_items", [20_000, 1], ids=["one message", "in parts"])
def test_every_type_round_trips_through_a_snapshot_and_a_change(rig: Rig, part_items: int) -> None:
    rig.send(doc(loyalty={"per": 100, "points": 1}), part_items)
    assert rig.catalog.promotions() == ALL
    assert rig.catalog.loyalty() == Loyalty(100, 1)
    # A change: P4 again with another price, P5 taken away, the rest as they were.
    p4 = {**PROMOS["multi_buy"], "price": 900}
    rig.send(doc(2, 1, promotions=[p4], removed_promotions=["P5"]), part_items)
    by_id = {p.id: p for p in rig.catalog.promotions()}
    assert sorted(by_id) == ["P1", "P2", "P3", "P4", "P6"]
    assert by_id["P4"].price == 900 and by_id["P1"] == EXPECTED["percent_off"]
    assert rig.catalog.loyalty() == Loyalty(100, 1)  # not sent: as it was
    assert rig.updates.rejected == 0


def test_the_hw_sim_sample_with_promotions_goes_down_in_parts(rig: Rig) -> None:
    sample = json.loads(SAMPLE_PROMOTIONS.read_text(encoding="utf-8"))
    parts = split_catalog(sample, 5)
    assert len(parts) == 3
    assert [("loyalty" in p, len(p["promotions"])) for p in parts] == [
        (True, 6), (False, 0), (False, 0)
    ]  # fmt: skip
    rig.send(sample, 5)
    assert rig.catalog.version() == 2 and rig.catalog.count() == 12
    assert len(rig.catalog.promotions()) == 6
    assert {p.type.value for p in rig.catalog.promotions()} == {t for t in PROMOS}
    assert rig.catalog.loyalty() == Loyalty(per=100, points=1)


def test_a_change_may_clear_the_loyalty_rule_and_a_snapshot_replaces_everything(
    catalog: StoreCatalog,
) -> None:
    catalog.apply(parse_catalog(raw(doc(loyalty={"per": 100, "points": 1}))))
    catalog.apply(parse_catalog(raw(doc(2, 1, promotions=[], loyalty={"per": 50, "points": 2}))))
    assert catalog.loyalty() == Loyalty(50, 2) and catalog.promotions() == ALL
    catalog.apply(parse_catalog(raw(doc(3, 2, promotions=[], loyalty=None))))
    assert catalog.loyalty() is None and catalog.promotions() == ALL
    catalog.apply(parse_catalog(raw(doc(4, 3, promotions=[], loyalty={"per": 100, "points": 1}))))
    # A snapshot holds the whole catalog: what it does not send is gone.
    catalog.apply(parse_catalog(raw(doc(5, promotions=[PROMOS["buy_get"]]))))
    assert catalog.promotions() == (EXPECTED["buy_get"],) and catalog.loyalty() is None


def test_removing_an_unknown_promotion_is_harmless_and_removal_comes_first(
    catalog: StoreCatalog,
) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    again = {**PROMOS["percent_off"], "percent": "15"}
    catalog.apply(
        parse_catalog(raw(doc(2, 1, promotions=[again], removed_promotions=["P1", "NOPE"])))
    )
    by_id = {p.id: p for p in catalog.promotions()}
    assert len(by_id) == 6 and str(by_id["P1"].percent) == "15"


# --- all or nothing ----------------------------------------------------------------------


def test_a_promotion_naming_no_item_refuses_the_change_items_and_all(
    catalog: StoreCatalog,
) -> None:
    catalog.apply(parse_catalog(raw(doc(loyalty={"per": 100, "points": 1}))))
    before = state(catalog)
    bad = {**PROMOS["multi_buy"], "id": "P7", "items": ["A", "123"]}
    promotions = [PROMOS["percent_off"], PROMOS["buy_get"], bad]
    change = doc(2, 1, items=[item("A", price=999), item("C")], promotions=promotions, loyalty=None)
    with pytest.raises(CatalogError) as err:
        catalog.apply(parse_catalog(raw(change)))
    assert str(err.value) == 'promotions[2] (P7).items: unknown sku "123"'
    assert state(catalog) == before
    assert catalog.promotions() == ALL and catalog.loyalty() == Loyalty(100, 1)


def test_a_promotion_may_name_an_item_of_the_same_change(catalog: StoreCatalog) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    promo = {**PROMOS["amount_off"], "id": "P9", "items": ["C"]}
    catalog.apply(parse_catalog(raw(doc(2, 1, items=[item("C")], promotions=[promo]))))
    assert "P9" in {p.id for p in catalog.promotions()}


def test_removing_an_item_a_kept_promotion_names_is_refused(catalog: StoreCatalog) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    before = state(catalog)
    with pytest.raises(CatalogError) as err:
        catalog.apply(parse_catalog(raw(doc(2, 1, items=[], promotions=[], removed=["B"]))))
    assert str(err.value) == (
        'promotion P2 (in the lane\'s catalog).items: sku "B" is removed by this change; '
        "send the promotion again without it, or remove the promotion"
    )
    assert state(catalog) == before
    # Sent again without it, the item can go.
    p2 = {**PROMOS["amount_off"], "items": ["A"]}
    p4 = {**PROMOS["multi_buy"], "items": ["A"]}
    catalog.apply(parse_catalog(raw(doc(2, 1, items=[], promotions=[p2, p4], removed=["B"]))))
    assert catalog.count() == 1


def test_a_snapshot_in_parts_checks_skus_against_every_part(rig: Rig) -> None:
    many = [item(f"S{n}") for n in range(4)]
    promo = {**PROMOS["buy_get"], "items": ["S3"]}
    rig.send(doc(items=many, promotions=[promo]), part_items=2)  # S3 comes in part 2
    assert [p.id for p in rig.catalog.promotions()] == ["P5"]
    bad = {**promo, "items": ["S3", "S4"]}
    rig.send(doc(2, items=many, promotions=[bad]), part_items=2)
    assert rig.updates.rejected == 1 and rig.catalog.version() == 1


def test_parts_that_send_two_loyalty_rules_are_refused(rig: Rig) -> None:
    parts = split_catalog(doc(items=[item(f"S{n}") for n in range(4)], promotions=[]), 2)
    parts[0]["loyalty"] = {"per": 100, "points": 1}
    parts[1]["loyalty"] = {"per": 100, "points": 2}
    with pytest.raises(CatalogError, match="the parts send different loyalty"):
        for part in parts:
            rig.catalog.stage(parse_catalog(raw(part)), datetime.now().astimezone())
    assert rig.catalog.version() == 0 and rig.catalog.loyalty() is None


def test_a_promotion_id_in_two_parts_is_refused(rig: Rig) -> None:
    parts = split_catalog(doc(items=[item(f"S{n}") for n in range(4)], promotions=[]), 2)
    promo = {**PROMOS["percent_off"], "items": ["S0"]}
    parts[0]["promotions"] = parts[1]["promotions"] = [promo]
    with pytest.raises(CatalogError, match=r"version 1 \(all parts\): promotion P1 is in two"):
        for part in parts:
            rig.catalog.stage(parse_catalog(raw(part)), datetime.now().astimezone())
    assert rig.catalog.version() == 0 and rig.catalog.promotions() == ()


FIELDS = [
    "id",
    "name",
    "type",
    "items",
    "departments",
    "members_only",
    "starts",
    "ends",
    "hours",
    "percent",
    "amount",
    "price",
    "qty",
    "buy",
    "get",
    "min",
    "off",
    "repeat",
]
PLAUSIBLE = st.sampled_from(
    ["P1", "P2", "", " ", "promo", "bogo", *PROMOS, ["A"], ["Z"], ["A", "B"], [], ["snacks"],
     [""], "2026-12-01T00:00:00+08:00", "2026-12-01", "2026-11-01T00:00:00Z", ["19:00", "22:00"],
     ["19:00", "19:00"], "10", "0", "100", "12.345", -1, 0, 1, 3, 999, 1000, 10_000, True]
)  # fmt: skip


@st.composite
def promotion_like(draw: st.DrawFn) -> dict[str, Any]:
    """A good promotion of some type with up to three fields taken away or made anything."""
    promo = dict(draw(st.sampled_from(list(PROMOS.values()))))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            promo.pop(key, None)
        else:
            promo[key] = draw(PLAUSIBLE | ANY_JSON)
    return promo


PROMOTIONS = ANY_JSON | st.lists(promotion_like() | ANY_JSON, max_size=3)
LOYALTY = st.sampled_from([None, {"per": 100, "points": 1}, {"per": 0, "points": 1}]) | ANY_JSON


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(promotions=PROMOTIONS, loyalty=LOYALTY)
def test_any_json_as_promotions_applies_whole_or_changes_nothing(
    catalog: StoreCatalog, promotions: Any, loyalty: Any
) -> None:
    if catalog.version() == 0:
        catalog.apply(parse_catalog(raw(doc(loyalty={"per": 100, "points": 1}))))
    before, promotions_before = state(catalog), catalog.promotions()
    change = {**doc(catalog.version() + 1, catalog.version(), items=[item("A", price=1)]),
              "promotions": promotions, "loyalty": loyalty}  # fmt: skip
    try:
        applied = catalog.apply(parse_catalog(raw(change)))
    except CatalogError:
        assert state(catalog) == before
        assert catalog.promotions() == promotions_before
        return
    assert applied.version == before[0] + 1
    sent = {p["id"] for p in promotions}
    assert sent <= {p.id for p in catalog.promotions()}


# --- the port's copy in memory -----------------------------------------------------------


def test_the_port_reads_sqlite_once_per_change(catalog: StoreCatalog) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    statements: list[str] = []
    catalog.db.connection().set_trace_callback(statements.append)
    try:
        assert catalog.promotions() == ALL
        statements.clear()
        for _ in range(100):
            assert catalog.promotions() == ALL and catalog.loyalty() is None
        # Nothing but the cheap check that no other connection wrote.
        assert set(statements) == {"PRAGMA data_version"}
        catalog.apply(parse_catalog(raw(doc(2, 1, promotions=[], removed_promotions=["P1"]))))
        assert "P1" not in {p.id for p in catalog.promotions()}
    finally:
        catalog.db.connection().set_trace_callback(None)


def test_a_change_from_another_connection_shows_on_the_next_read(
    catalog: StoreCatalog, tmp_path: Path
) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    assert catalog.promotions() == ALL and catalog.loyalty() is None
    # As a technician's import in another process: another connection, another cache.
    other_db = open_catalog(tmp_path / "catalog.db")
    try:
        other = StoreCatalog(other_db)
        other.apply(parse_catalog(raw(doc(2, 1, promotions=[], removed_promotions=["P6"],
                                          loyalty={"per": 200, "points": 1}))))  # fmt: skip
    finally:
        other_db.close()
    assert "P6" not in {p.id for p in catalog.promotions()}
    assert catalog.loyalty() == Loyalty(200, 1)


def test_a_hand_edited_promotion_is_left_out_not_fatal(catalog: StoreCatalog) -> None:
    catalog.apply(parse_catalog(raw(doc())))
    path = catalog.db.database
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE catalogpromotion SET body = '{\"id\": \"P1\"}' WHERE id = 'P1'")
    assert [p.id for p in catalog.promotions()] == ["P2", "P3", "P4", "P5", "P6"]


def test_a_catalog_db_of_an_older_version_gets_the_new_columns_and_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    open_catalog(path).close()
    with sqlite3.connect(path) as conn:  # as an older version left it, with a part waiting
        conn.execute("DROP TABLE catalogpromotion")
        conn.execute("ALTER TABLE catalogstagepart DROP COLUMN removed_promotions")
        conn.execute("ALTER TABLE catalogstagepart DROP COLUMN loyalty")
        conn.execute(
            "INSERT INTO catalogstagepart (version, part, parts, base_version, promotions, "
            "received_at) VALUES (1, 1, 2, NULL, '[]', '2026-12-01T08:00:00+08:00')"
        )
        conn.execute(
            "INSERT INTO catalogstageitem (version, part, pos, sku, name, unit, price, tax_rate, "
            "age_restricted, active) VALUES (1, 1, 0, 'A', 'a', 'each', 100, '13', 0, 1)"
        )
    db = open_catalog(path)
    try:
        catalog = StoreCatalog(db)
        two = split_catalog(doc(items=[item("A"), item("B")], promotions=[]), 1)[1]
        assert catalog.stage(parse_catalog(raw(two)), datetime.now().astimezone()) is not None
        assert catalog.count() == 2 and catalog.promotions() == () and catalog.loyalty() is None
    finally:
        db.close()
