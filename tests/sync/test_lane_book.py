"""``lane_book`` counts stock as the lane's stock messages do: a sale takes goods out, a
return (its lines below zero) brings them back, a cancelled sale moves nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from firmware_app.ids import uuid7
from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import CommitSale
from firmware_app.lane.money import amount_of
from firmware_app.lane.sale import Line, Sale, SaleKind, Tender, TenderType, finish
from firmware_app.store.db import open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.sync.lanes import STORE, lane_book
from tests.unit.till import CST

AT = datetime(2026, 12, 3, 10, 0, tzinfo=CST)


def line(no: int, sku: str, qty: int, price: int, unit: Unit = Unit.EACH) -> Line:
    return Line(
        no=no,
        sku=sku,
        code=sku,
        name=sku,
        unit=unit,
        qty=qty,
        unit_price=price,
        amount=amount_of(qty, price),
        tax_rate=Decimal("13"),
    )


def committed(store: SalesStore, no: int, kind: SaleKind, *lines: Line) -> None:
    sale = Sale(id=uuid7(), opened_at=AT, cashier="1001", lines=lines)
    paid = sale.total if kind is not SaleKind.CANCELLED else 0
    sale = replace(sale, tenders=(Tender(TenderType.CASH, paid),) if paid else ())
    at = AT + timedelta(minutes=no)
    store.apply([CommitSale(finish(sale, kind=kind, receipt_no=no, closed_at=at, currency="CNY"))])


def test_stock_moves_with_sales_and_returns_only(tmp_path: Path) -> None:
    db = open_database(tmp_path / "lane.db")
    store = SalesStore(db, messages=LaneUplink(Topics("pos", STORE, "01")))
    committed(store, 1, SaleKind.SALE, line(1, "cola", 2000, 350), line(2, "apple", 532, 1280))
    committed(store, 2, SaleKind.RETURN, line(1, "cola", -1000, 350))
    committed(store, 3, SaleKind.CANCELLED, line(1, "noodles", 3000, 450))
    sent: dict[str, Decimal] = {}
    for row in store.outbox.unacked(limit=100):
        body = json.loads(row.payload)
        for delta in body.get("deltas", ()) if body["schema"] == "lane.stock/1" else ():
            sent[delta["sku"]] = sent.get(delta["sku"], Decimal(0)) + Decimal(delta["qty"])
    db.close()

    assert lane_book(tmp_path).stock == {"cola": Decimal(-1), "apple": Decimal("-0.532")}
    assert lane_book(tmp_path).stock == {sku: qty for sku, qty in sent.items() if qty}
