"""Cash movements, the training flag and the day's reports in a real SQLite lane
database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import peewee
import pytest

from firmware_app.lane.cash_movement import CashKind, CashMovement
from firmware_app.lane.effects import (
    DURABLE,
    AuditEvent,
    Effect,
    RecordCashMovement,
    RecordEvent,
    SaveTraining,
)
from firmware_app.store import reports
from firmware_app.store.db import models_of, open_database
from firmware_app.store.journal import verify_connection
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.validation import validate
from tests.unit.till import T0, Till


@pytest.fixture
def store(tmp_path: Path) -> SalesStore:
    return SalesStore(
        open_database(tmp_path / "lane.db"), messages=LaneUplink(Topics("pos", "S1", "1"))
    )


def movement(id: str = "m1", kind: CashKind = CashKind.IN, amount: int = 10000) -> CashMovement:
    return CashMovement(id, kind, amount, "备用金 float", "1001", "9001", T0)


def test_a_cash_movement_and_its_event_commit_together(store: SalesStore) -> None:
    event = AuditEvent("cash_in", T0, "1001", None, (("amount", "10000"),))
    store.apply([RecordCashMovement(movement()), RecordEvent(event)], at=T0)
    m = models_of(store.db)
    row = m.CashMovement.get()
    assert (row.kind, row.amount, row.reason, row.supervisor) == (
        "in",
        10000,
        "备用金 float",
        "9001",
    )
    assert row.at == "2026-11-28T09:00:00.000+08:00"
    message = json.loads(bytes(m.OutboxMessage.get().payload))
    validate(message)
    assert message["event"] == "cash_in"


def test_a_failed_transaction_stores_no_movement(store: SalesStore) -> None:
    store.apply([RecordCashMovement(movement())], at=T0)
    event = AuditEvent("cash_in", T0, "1001")
    with pytest.raises(peewee.IntegrityError):
        # The same id again: the whole transaction fails, its event is not sent either.
        store.apply([RecordEvent(event), RecordCashMovement(movement())], at=T0)
    m = models_of(store.db)
    assert m.CashMovement.select().count() == 1
    assert m.OutboxMessage.select().count() == 0


def test_training_mode_survives_a_restart(store: SalesStore, tmp_path: Path) -> None:
    assert not reports.load_training(store.m)
    store.apply([SaveTraining(True)], at=T0)
    again = open_database(tmp_path / "lane.db")
    assert reports.load_training(models_of(again))
    store.apply([SaveTraining(False)], at=T0)
    assert not reports.load_training(store.m)


def commits(till: Till) -> list[Effect]:
    return [e for e in till.effects if isinstance(e, DURABLE)]


def test_a_training_sale_is_sent_marked_without_stock_and_kept_out_of_the_journal(
    store: SalesStore, tmp_path: Path
) -> None:
    till = Till().do("supervisor", "scan 6954767410388", "key 1 0 CASH")
    store.apply(commits(till), at=T0)
    till.do("key TRAINING")
    store.apply(commits(till), at=T0)
    till.do("scan 6954767410388", "key 1 0 CASH")
    store.apply(commits(till), at=T0)
    m = store.m
    payloads = [
        json.loads(bytes(r.payload)) for r in m.OutboxMessage.select().order_by(m.OutboxMessage.seq)
    ]
    for message in payloads:
        validate(message)
    sales = [p for p in payloads if p["schema"] == "lane.sale/1"]
    assert [s.get("training") for s in sales] == [None, True]
    assert sum(p["schema"] == "lane.stock/1" for p in payloads) == 1  # the real sale's only
    assert [t.receipt_no for t in m.Transaction.select()] == [1]
    assert [t.training_no for t in m.TrainingSale.select()] == [1]
    assert store.next_receipt_no() == 2
    assert reports.next_training_no(m) == 2
    conn = sqlite3.connect(tmp_path / "lane.db", isolation_level=None)
    assert verify_connection(conn).ok
