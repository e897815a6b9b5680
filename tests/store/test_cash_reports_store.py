"""Cash movements, the training flag and the day's reports in a real SQLite lane
database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import peewee
import pytest

from firmware_app.app.cli import main
from firmware_app.lane.cash_movement import CashKind, CashMovement
from firmware_app.lane.day_report import Count, details
from firmware_app.lane.effects import (
    DURABLE,
    AuditEvent,
    Effect,
    RecordCashMovement,
    RecordEvent,
    RecordZReport,
    SaveTraining,
)
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Role
from firmware_app.store import reports
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.db import models_of, open_database
from firmware_app.store.journal import verify_connection
from firmware_app.store.reports import StoreReports
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.validation import validate
from tests.store.test_lane_loop import Rig
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


# --- the day's numbers ------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 28)


def run_day(store: SalesStore, wait: str = "wait 90000") -> Till:
    """A day at a lane: cash (with a void and change), card, mobile, a no-sale, paid-in
    and paid-out, a cancelled sale, training sales, and a sale on the next day."""
    till = Till()

    def do(*steps: str) -> None:
        for step in steps:
            done = len(till.all_effects)
            till.do(step)
            new = till.all_effects[done:]
            store.apply([e for e in new if isinstance(e, DURABLE)], at=till.now)

    do("supervisor", "key 2 0 0 PAIDIN", "key 1 ENTER")
    do("key 2 QTY", "scan 6954767410388", "scan 96385074", "key VOID", "key 2 0 CASH")
    do("wait 60", "scan 6954767410388", "key CARD", "terminal approve")
    do("scan 96385074", "scan 6954767410388", "key MOBILE", "terminal approve")
    do("key NOSALE", "key 5 0 PAIDOUT", "key 1 ENTER")
    do("scan 96385074", "key CANCEL")
    do("key TRAINING", "scan 96385074", "key 2 0 CASH", "key TRAINING")
    do(wait, "scan 6954767410388", "key CASH")  # by default, the next day
    return till


def published(store: SalesStore) -> list[dict[str, Any]]:
    rows = store.m.OutboxMessage.select().order_by(store.m.OutboxMessage.seq)
    return [json.loads(bytes(r.payload)) for r in rows]


def test_the_days_numbers_match_what_was_published(store: SalesStore) -> None:
    run_day(store)
    messages = published(store)
    day = [
        m for m in messages if datetime.fromisoformat(m["at"]).astimezone(SHANGHAI).date() == DAY
    ]
    sales = [m for m in day if m["schema"] == "lane.sale/1" and not m.get("training")]
    sold = [s for s in sales if s["kind"] == "sale"]
    tenders: dict[str, list[int]] = {}
    for s in sold:
        for t in s["tenders"]:
            if not t.get("voided"):
                tenders.setdefault(t["type"], []).append(t["amount"])
    taxes: dict[str, list[int]] = {}
    for s in sold:
        for t in s["taxes"]:
            taxes.setdefault(t["rate"], [0, 0])
            taxes[t["rate"]][0] += t["gross"]
            taxes[t["rate"]][1] += t["tax"]
    events = [m["event"] for m in day if m["schema"] == "lane.event/1"]
    cash_in = sum(int(m["details"]["amount"]) for m in day if m.get("event") == "cash_in")
    cash_out = sum(int(m["details"]["amount"]) for m in day if m.get("event") == "cash_out")

    report = StoreReports(store.db, SHANGHAI).day(DAY)

    assert report.sales == Count(len(sold), sum(s["totals"]["total"] for s in sold))
    assert report.sales.count == 3 and report.returns == Count(0, 0)
    assert report.cancelled == 1
    assert {t.type: (t.count, t.amount) for t in report.tenders} == {
        k: (len(v), sum(v)) for k, v in tenders.items()
    }
    assert {t.rate: [t.gross, t.tax] for t in report.taxes} == taxes
    assert report.voids == sum(ln["voided"] for s in sold for ln in s["lines"]) == 1
    assert report.no_sales == events.count("no_sale") == 1
    assert report.discounts == sum(s["totals"]["discount"] for s in sold)
    assert (report.paid_in, report.paid_out) == (cash_in, cash_out) == (20000, 5000)
    cash = sum(tenders["cash"]) - sum(s["change"] for s in sold)
    assert report.cash_expected == cash + 20000 - 5000
    assert (report.first_seq, report.last_seq) == (day[0]["seq"], day[-1]["seq"])


def test_a_business_date_is_the_lanes_local_date(store: SalesStore) -> None:
    run_day(store)
    # The morning's sales (09:00 +08:00 on the 28th) are the 27th's in New York, and the
    # next day's (10:01 +08:00 on the 29th) is the 28th's there.
    next_day = StoreReports(store.db, SHANGHAI).day(date(2026, 11, 29))
    assert next_day.sales.count == 1
    assert StoreReports(store.db, SHANGHAI).day(date(2026, 11, 27)).sales.count == 0
    assert (
        StoreReports(store.db, ZoneInfo("America/New_York"))
        .day(DAY - timedelta(days=1))
        .sales.count
        == 3
    )


def test_report_x_prints_the_days_numbers_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lane.toml"
    data = tmp_path / "data"
    config.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\ntimezone = "Asia/Shanghai"\n'
    )
    store = SalesStore(
        open_database(data / "lane.db"), messages=LaneUplink(Topics("pos", "S1", "1"))
    )
    run_day(store)
    expected = details(StoreReports(store.db, SHANGHAI).day(DAY))
    assert main(["report", "x", "--date", "2026-11-28", "--config", str(config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == expected and printed["sales"]["count"] == 3
    assert main(["report", "x", "--date", "2026-11-28", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == printed  # reproducible
    assert main(["report", "z", "--date", "2026-11-28", "--config", str(config)]) == 1
    assert "no Z report (the day is open" in capsys.readouterr().err
    assert main(["report", "x", "--date", "28.11.2026", "--config", str(config)]) == 2


def test_a_z_report_closes_the_day_once_and_the_command_line_repeats_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lane.toml"
    data = tmp_path / "data"
    config.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\ntimezone = "Asia/Shanghai"\n'
    )
    store = SalesStore(
        open_database(data / "lane.db"), messages=LaneUplink(Topics("pos", "S1", "1"))
    )
    till = run_day(store, wait="wait 600")  # all on the 28th
    till.ports = replace(till.ports, reports=StoreReports(store.db, SHANGHAI))
    for step in ("key ZREPORT", "key 1 9 0 DOT 5 ENTER"):
        done = len(till.all_effects)
        till.do(step)
        store.apply([e for e in till.all_effects[done:] if isinstance(e, DURABLE)], at=till.now)
    assert till.message is Msg.Z_REPORT_DONE
    event = published(store)[-1]
    validate(event)
    assert event["event"] == "z_report"
    body = event["details"]
    assert body["z_no"] == 1 and body["business_date"] == "2026-11-28"
    assert body["sales"]["count"] == 4 and body["cash_counted"] == 19050
    assert body["difference"] == 19050 - body["cash_expected"]
    assert body["last_seq"] == event["seq"] - 1
    assert main(["report", "z", "--date", "2026-11-28", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == body
    # Later the same day: a second Z is refused, the first printed again.
    till.do("key ZREPORT")
    assert till.message is Msg.DAY_CLOSED and till.effect_types() == ["PrintReceipt"]
    with pytest.raises(peewee.IntegrityError):
        store.apply([replace(e, z_no=2) for e in till.all_effects if isinstance(e, RecordZReport)])
    # A sale after the Z is the next business date's (in its X), and the Z stays as
    # it was published.
    done = len(till.all_effects)
    till.do("wait 60", "scan 6954767410388", "key CASH")
    store.apply([e for e in till.all_effects[done:] if isinstance(e, DURABLE)], at=till.now)
    assert main(["report", "z", "--date", "2026-11-28", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == body
    assert main(["report", "x", "--date", "2026-11-28", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["sales"]["count"] == 4
    assert main(["report", "x", "--date", "2026-11-29", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["sales"]["count"] == 1


# --- the lane loop: the movement is on disk before the drawer opens ---------------------


def movements_on_disk(rig: Rig) -> int:
    with sqlite3.connect(rig.path) as reader:
        return int(reader.execute("select count(*) from cashmovement").fetchone()[0])


def paid_in_at_a_real_lane(rig: Rig) -> list[int]:
    """Sign on as a supervisor and pay 200.00 in; what another reader of the database
    saw as the drawer was kicked."""
    Cashiers(rig.db).add("9001", Role.SUPERVISOR, "9999", now=T0)
    seen: list[int] = []
    listener = rig.sim_drawer.kick_pin.on_level

    def on_kick(level: bool) -> None:
        if level:
            seen.append(movements_on_disk(rig))
        assert listener is not None
        listener(level)

    rig.sim_drawer.kick_pin.on_level = on_kick
    rig.keys("9", "0", "0", "1", "SIGNON", "9", "9", "9", "9", "ENTER")
    rig.keys("2", "0", "0", "PAIDIN", "1", "ENTER")
    return seen


def test_a_paid_in_is_committed_before_the_drawer_opens(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        seen = paid_in_at_a_real_lane(rig)
        assert rig.lane.state.message is not None
        assert rig.lane.state.message.id is Msg.PAID_IN_DONE
        assert seen == [1] and rig.sim_drawer.kicks == 1
    finally:
        rig.close()


def test_a_paid_in_that_cannot_be_saved_opens_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        rig.db.execute_sql(
            "CREATE TRIGGER disk_full BEFORE INSERT ON cashmovement "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
        seen = paid_in_at_a_real_lane(rig)
        assert rig.lane.state.message is not None
        assert rig.lane.state.message.id is Msg.SAVE_FAILED
        assert seen == [] and rig.sim_drawer.kicks == 0 and movements_on_disk(rig) == 0
        events = [
            json.loads(bytes(r.payload)).get("event")
            for r in rig.lane.sales.m.OutboxMessage.select()
        ]
        assert "cash_in" not in events
    finally:
        rig.close()


def test_pruning_takes_the_days_movements_marks_and_training_sales_with_its_sales(
    store: SalesStore,
) -> None:
    till = run_day(store, wait="wait 600")
    store.outbox.ack_upto(store.outbox.last_seq(), till.now)
    m = store.m
    assert m.CashMovement.select().count() == 2 and m.TrainingSale.select().count() == 1
    assert store.prune(till.now - timedelta(days=1)) == 0  # nothing that old yet
    assert m.UplinkMark.select().count() > 0
    store.prune(till.now + timedelta(days=1))
    for table in (m.CashMovement, m.TrainingSale, m.UplinkMark, m.Transaction):
        assert table.select().count() == 0, table
