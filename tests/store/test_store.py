"""The SQLite store: catalog versions, cashiers, the open sale, commits, journal and outbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from firmware_app.errors import CatalogError, CatalogOlder, StoreError
from firmware_app.lane.effects import CommitSale, SaveSale
from firmware_app.lane.ports import Role
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.journal import GENESIS_HASH, canonical, chain_hash
from firmware_app.store.outbox import Outbox
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.store.catalog_docs import RAW
from tests.unit.till import T0, Till


def doc(version: int, base: int | None, items: list[dict], removed: list[str] = ()) -> bytes:
    return json.dumps(
        {
            "schema": "store.catalog/1",
            "at": "2026-11-28T09:00:00+08:00",
            "version": version,
            "base_version": base,
            "items": items,
            "removed": list(removed),
            "promotions": [],
        }
    ).encode()


def item(sku: str, price: int = 350, codes: list[str] | None = None, **extra: object) -> dict:
    return {
        "sku": sku,
        "name": f"商品 {sku}",
        "codes": codes or [],
        "plu": None,
        "unit": "each",
        "price": price,
        "tax_rate": "13",
        "age_restricted": False,
        "active": True,
        **extra,
    }


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(tmp_path / "lane.db")
    yield database
    database.close()


@pytest.fixture
def catalog_db(tmp_path: Path):
    database = open_catalog(tmp_path / "catalog.db")
    yield database
    database.close()


def test_database_is_wal_with_full_sync(db) -> None:
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_snapshot_then_delta(catalog_db) -> None:
    catalog = StoreCatalog(catalog_db)
    catalog.apply(parse_catalog(doc(1, None, [item("A", codes=["6954767410388"]), item("B")])))
    assert catalog.version() == 1 and catalog.count() == 2
    assert catalog.by_code("06954767410388").sku == "A"
    catalog.apply(parse_catalog(doc(2, 1, [item("A", price=399, codes=["6954767410388"])], ["B"])))
    assert catalog.version() == 2 and catalog.count() == 1
    assert catalog.by_code("06954767410388").price == 399


def test_delta_on_the_wrong_base_changes_nothing(catalog_db) -> None:
    catalog = StoreCatalog(catalog_db)
    catalog.apply(parse_catalog(doc(5, None, [item("A")])))
    with pytest.raises(CatalogError, match=r"base_version 3 does not match .* 5"):
        catalog.apply(parse_catalog(doc(6, 3, [item("A", price=1)])))
    assert catalog.version() == 5 and catalog.by_plu(0) is None


def test_code_clash_rolls_back_the_whole_change(catalog_db) -> None:
    catalog = StoreCatalog(catalog_db)
    catalog.apply(parse_catalog(doc(1, None, [item("A", codes=["6954767410388"]), item("B")])))
    change = parse_catalog(doc(2, 1, [item("B", price=1, codes=["6954767410388"])]))
    with pytest.raises(CatalogError, match="already belongs"):
        catalog.apply(change)
    assert catalog.version() == 1
    assert catalog.by_code("06954767410388").sku == "A"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (json.dumps({"schema": "store.catalog/2", "version": 1}).encode(), "schema"),
        (doc(0, None, []), "version"),
        (doc(2, 2, []), "base_version"),
        (doc(1, None, [item("A", price=-5)]), "items[0] (sku A).price"),
        (doc(1, None, [item("A", price=1.5)]), "items[0] (sku A).price"),
        (doc(1, None, [item("A", unit="box")]), "items[0] (sku A).unit"),
        (doc(1, None, [item("A", tax_rate=13)]), "items[0] (sku A).tax_rate"),
        (doc(1, None, [item("A", tax_rate="130")]), "items[0] (sku A).tax_rate"),
        (doc(1, None, [item("A"), item("A")]), "items[1].sku: duplicate"),
        (
            doc(1, None, [item("A", codes=["6954767410388"]), item("B", codes=["06954767410388"])]),
            "items[1] (sku B).codes",
        ),
        (doc(1, None, [item("A", codes=["6954767410381"])]), "wrong check digit"),
        (doc(1, None, [item("A", name="")]), "items[0] (sku A).name"),
        (doc(1, None, [item("A", active="yes")]), "items[0] (sku A).active"),
        (
            doc(1, None, [item("A", plu=7), item("B", plu=7)]),
            "items[1] (sku B).plu: 7 is also the PLU of sku A",
        ),
        (doc(1, None, [item("A", unit=["each"])]), "items[0] (sku A).unit: expected 'each'"),
        (doc(1, None, [], ["A", ""]), "removed[1]: expected"),
    ],
)
def test_malformed_catalogs_are_refused_with_the_field(raw: bytes, reason: str) -> None:
    with pytest.raises(CatalogError) as err:
        parse_catalog(raw)
    assert reason in str(err.value)


def test_an_older_snapshot_never_replaces_a_newer_one(catalog_db) -> None:
    catalog = StoreCatalog(catalog_db)
    catalog.apply(parse_catalog(doc(5, None, [item("A", 500, ["6954767410388"]), item("B")])))
    older = parse_catalog(doc(2, None, [item("A", 300, ["6954767410388"])]))
    with pytest.raises(CatalogOlder, match=r"snapshot version 2 is older than the lane.s .* 5"):
        catalog.apply(older)
    assert catalog.version() == 5 and catalog.count() == 2
    assert catalog.by_code("06954767410388").price == 500
    # The same version again (a snapshot sent twice) is no step back.
    catalog.apply(parse_catalog(doc(5, None, [item("A", 500, ["6954767410388"])])))
    assert catalog.version() == 5 and catalog.count() == 1
    # Going back on purpose (a technician's --allow-older).
    catalog.apply(older, allow_older=True)
    assert catalog.version() == 2 and catalog.by_code("06954767410388").price == 300


def test_a_delta_cannot_give_a_kept_items_plu_to_another(catalog_db) -> None:
    catalog = StoreCatalog(catalog_db)
    catalog.apply(parse_catalog(doc(1, None, [item("A", plu=7), item("B", plu=8)])))
    clash = parse_catalog(doc(2, 1, [item("C", plu=7)]))
    with pytest.raises(
        CatalogError, match=r"items\[0\] \(sku C\)\.plu: 7 is also the PLU of sku A"
    ):
        catalog.apply(clash)
    assert catalog.version() == 1 and catalog.count() == 2
    assert catalog.by_plu(7).sku == "A"
    # A PLU may move to another item when its holder goes, or changes, in the same change.
    catalog.apply(parse_catalog(doc(2, 1, [item("C", plu=7)], ["A"])))
    assert catalog.by_plu(7).sku == "C"
    catalog.apply(parse_catalog(doc(3, 2, [item("B", plu=9), item("D", plu=8)])))
    assert catalog.by_plu(8).sku == "D" and catalog.by_plu(9).sku == "B"


# --- any document at all: the parser's own error or a change, nothing else ---------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RAW)
def test_any_document_gives_a_change_or_the_parsers_own_error(raw: bytes) -> None:
    try:
        change = parse_catalog(raw)
    except CatalogError as e:
        assert 0 < len(str(e)) < 400  # a reason a technician can read, never the document
        return
    assert change.version >= 1


def test_pins_are_hashed_never_stored_plain(db, tmp_path: Path) -> None:
    cashiers = Cashiers(db)
    cashiers.add("1001", Role.CASHIER, "1234", now=T0)
    assert cashiers.verify("1001", "1234").role is Role.CASHIER
    assert cashiers.verify("1001", "4321") is None
    assert cashiers.verify("9999", "1234") is None
    cashiers.add("1002", Role.CASHIER, "1234", now=T0)
    rows = sqlite3.connect(tmp_path / "lane.db").execute("select * from cashieraccount").fetchall()
    hashes = [row[2] for row in rows]
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes)
    assert hashes[0] != hashes[1]  # salted: the same PIN never hashes the same
    assert not any("1234" in str(field) for row in rows for field in row if field != row[2])


@pytest.mark.parametrize(("cid", "pin"), [("10a1", "1234"), ("1001", "12"), ("1001", "12ab")])
def test_bad_cashier_id_or_pin(db, cid: str, pin: str) -> None:
    with pytest.raises(StoreError):
        Cashiers(db).add(cid, Role.CASHIER, pin, now=T0)


def sales_store(db) -> SalesStore:
    return SalesStore(db, messages=LaneUplink(Topics("pos", "S001", "07")))


def test_open_sale_survives_a_reopen(tmp_path: Path) -> None:
    db = open_database(tmp_path / "lane.db")
    till = Till().do(
        "signon",
        "key 2 QTY",
        "scan 6954767410388",
        "scale 0.532",
        "key 1 PLU",
        "key VOID",
        "key 5 CASH",
    )
    store = sales_store(db)
    for effect in till.all_effects:
        if isinstance(effect, SaveSale):
            store.apply([effect])
    db.close()
    again = sales_store(open_database(tmp_path / "lane.db"))
    assert again.load_open_sale() == till.state.sale


def paid_sales(count: int) -> list[CommitSale]:
    till = Till().do("signon")
    for _ in range(count):
        till.do("scan 6954767410388", "key 1 0 CASH")
    return [e for e in till.all_effects if isinstance(e, CommitSale)]


def test_commit_writes_transaction_journal_and_gapless_outbox(db) -> None:
    store = sales_store(db)
    for commit in paid_sales(3):
        store.apply([commit])
    rows = Outbox(db).unacked(limit=100)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.topic.rsplit("/", 1)[1] for r in rows] == ["sales", "stock"] * 3
    sale = json.loads(rows[0].payload)
    assert (sale["schema"], sale["seq"], sale["receipt_no"], sale["totals"]["total"]) == (
        "lane.sale/1",
        1,
        1,
        350,
    )
    stock = json.loads(rows[1].payload)
    assert stock["deltas"] == [{"sku": "100234", "qty": "-1", "unit": "each"}]
    assert store.next_receipt_no() == 4
    assert store.load_open_sale() is None


def test_journal_chain_links_every_sale(db) -> None:
    store = sales_store(db)
    for commit in paid_sales(3):
        store.apply([commit])
    prev = GENESIS_HASH
    rows = db.execute_sql("select prev_hash, hash, record from journalentry order by no").fetchall()
    sales = [json.loads(r.payload) for r in Outbox(db).unacked() if r.topic.endswith("sales")]
    for (prev_hash, digest, record), sale in zip(rows, sales, strict=True):
        assert prev_hash == prev
        assert digest == chain_hash(prev, json.loads(record)) == sale["journal_hash"]
        body = {k: v for k, v in sale.items() if k not in ("schema", "at", "seq", "journal_hash")}
        assert canonical(body) == record
        prev = digest


def test_a_failed_commit_writes_nothing(db) -> None:
    store = sales_store(db)
    first, second = paid_sales(2)
    store.apply([first])
    clash = CommitSale(second.record.__class__(**{**second.record.__dict__, "receipt_no": 1}))
    with pytest.raises(Exception, match="UNIQUE"):
        store.apply([clash])
    assert [r.seq for r in Outbox(db).unacked()] == [1, 2]
    assert db.execute_sql("select count(*) from journalentry").fetchone()[0] == 1


def test_old_acknowledged_sales_are_pruned_with_a_journal_checkpoint(db) -> None:
    from datetime import timedelta

    store = sales_store(db)
    till = Till().do("signon")
    for _ in range(4):
        till.do("scan 6954767410388", "key 1 0 CASH", "wait 86400")  # one sale a day
    for commit in (e for e in till.all_effects if isinstance(e, CommitSale)):
        store.apply([commit])
    outbox = Outbox(db)
    outbox.ack_upto(4, T0)  # the store server has the first two sales (2 messages each)
    cutoff = T0 + timedelta(days=3)  # the first three sales are old enough
    assert store.prune(cutoff) == 2  # the third is old but not yet acknowledged: kept
    assert store.prune(cutoff) == 0
    left = db.execute_sql("select receipt_no from 'transaction' order by receipt_no").fetchall()
    assert left == [(3,), (4,)]
    journal = db.execute_sql("select no, prev_hash from journalentry order by no").fetchall()
    checkpoint = json.loads(
        db.execute_sql("select value from meta where key = 'journal.checkpoint'").fetchone()[0]
    )
    assert checkpoint["no"] == 2 and journal[0] == (3, checkpoint["hash"])
    assert db.execute_sql("select count(*) from transactionline").fetchone()[0] == 2
