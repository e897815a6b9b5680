"""Returns in a real SQLite lane database: a sale, a partial return, the rest, then a
further return refused; what the lookup finds, what the messages say, and the day's
report counting the returns."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from firmware_app.lane.effects import DURABLE
from firmware_app.lane.messages import Msg
from firmware_app.lane.return_source import NotReturnable, ReturnSource
from firmware_app.lane.sale import ReturnRef
from firmware_app.store.db import open_database
from firmware_app.store.reports import StoreReports
from firmware_app.store.returns import SaleLookup
from firmware_app.store.sales import NEXT_RECEIPT, SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.validation import validate
from tests.unit.till import CST, T0, Till

COLA_SCAN = "scan 6954767410388"


def lane(tmp_path: Path, keep_days: int = 90) -> tuple[SalesStore, Till]:
    """A store on a real file and a till whose returns port reads that file."""
    store = SalesStore(
        open_database(tmp_path / "lane.db"), messages=LaneUplink(Topics("pos", "S001", "07"))
    )
    till = Till()
    lookup = SaleLookup(store.db, "07", keep_days=keep_days, clock=lambda: till.now)
    till.ports = replace(till.ports, returns=lookup)
    return store, till


def run(store: SalesStore, till: Till, *steps: str) -> None:
    for step in steps:
        till.do(step)
        store.apply([e for e in till.effects if isinstance(e, DURABLE)], at=till.now)


def published(store: SalesStore) -> list[dict[str, Any]]:
    rows = store.m.OutboxMessage.select().order_by(store.m.OutboxMessage.seq)
    return [json.loads(bytes(r.payload)) for r in rows]


def test_a_sale_returned_in_two_goes_then_nothing_is_left(tmp_path: Path) -> None:
    store, till = lane(tmp_path)
    run(store, till, "signon", "key 3 QTY", COLA_SCAN, "key CASH")  # receipt 1: 3 × 3.50
    run(store, till, "key 1 RETURN", "key 1 QTY", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    assert till.message == Msg.REFUND
    found = till.ports.returns.sale_by_receipt(1)  # type: ignore[union-attr]
    assert isinstance(found, ReturnSource) and found.returned == ((1, 1000),)

    run(store, till, "key 1 RETURN", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    assert till.message == Msg.REFUND
    run(store, till, "key 1 RETURN", "key 1 ENTER")
    assert till.message == Msg.RETURN_NOTHING_LEFT

    messages = published(store)
    for message in messages:
        validate(message)
    sales = [m for m in messages if m["schema"] == "lane.sale/1"]
    assert [s["kind"] for s in sales] == ["sale", "return", "return"]
    assert [s["tenders"][0]["amount"] for s in sales] == [1050, -350, -700]
    assert sales[1]["lines"][0]["return_of"] == {"lane": "07", "receipt_no": 1, "line": 1}
    assert "return_of" not in sales[0]["lines"][0]
    stock = [m for m in messages if m["schema"] == "lane.stock/1"]
    assert [d["qty"] for m in stock for d in m["deltas"]] == ["-3", "1", "2"]
    events = [m for m in messages if m["schema"] == "lane.event/1" and m["event"] == "return"]
    assert [e["details"]["amount"] for e in events] == ["350", "700"]

    # A return of a return is refused; the report counts the returns.
    run(store, till, "key CLEAR", "key CLEAR", "key 2 RETURN")
    assert till.message == Msg.RETURN_OF_RETURN
    report = StoreReports(store.db, CST).day(T0.date())
    assert (report.returns.count, report.returns.total) == (2, -1050)
    assert (report.sales.count, report.sales.total) == (1, 1050)


def test_an_open_return_survives_a_restart_with_its_link(tmp_path: Path) -> None:
    store, till = lane(tmp_path)
    run(store, till, "signon", "key 2 QTY", COLA_SCAN, "key CASH")
    run(store, till, "key 1 RETURN", "key 1 QTY", "key 1 ENTER")
    again = SalesStore(store.db, messages=store.messages).load_open_sale()
    assert again is not None
    assert again.lines[0].return_of == ReturnRef("07", 1, 1)
    assert again.lines[0].qty == -1000


def test_why_a_receipt_is_not_found(tmp_path: Path) -> None:
    store, till = lane(tmp_path, keep_days=1)
    run(store, till, "signon", COLA_SCAN, "key CASH")  # receipt 1
    lookup = till.ports.returns
    assert lookup is not None
    assert isinstance(lookup.sale_by_receipt(1), ReturnSource)
    assert lookup.sale_by_receipt(2) is NotReturnable.UNKNOWN
    till.now += timedelta(days=2)
    assert lookup.sale_by_receipt(1) is NotReturnable.PRUNED  # older than kept
    # Pruned as ``SalesStore.prune`` leaves it: the row gone, its number set aside.
    conn = store.db.connection()
    conn.execute('INSERT INTO "meta" (key, value) VALUES (?, ?)', (NEXT_RECEIPT, "2"))
    conn.execute('DELETE FROM "transaction"')
    till.now -= timedelta(days=2)
    assert lookup.sale_by_receipt(1) is NotReturnable.PRUNED


def test_a_training_receipt_is_told_apart(tmp_path: Path) -> None:
    store, till = lane(tmp_path)
    run(store, till, "supervisor", "key TRAINING", COLA_SCAN, "key CASH")  # training no 1
    lookup = till.ports.returns
    assert lookup is not None
    assert lookup.sale_by_receipt(1) is NotReturnable.TRAINING
