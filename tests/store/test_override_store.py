"""Price overrides and discounts in a real SQLite file: the open sale keeps them over a
restart (line by line, changed and undone), and a committed sale's message carries them
and validates against the contract."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from firmware_app.lane.effects import DURABLE, CommitSale
from firmware_app.store.db import open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics, validate
from tests.unit.till import Till

COLA, BREAD = "scan 6954767410388", "scan 96385074"


def store_at(path: Path) -> SalesStore:
    return SalesStore(open_database(path), messages=LaneUplink(Topics("pos", "S001", "07")))


def saved_as_the_loop_does(store: SalesStore, till: Till) -> None:
    store.apply([e for e in till.effects if isinstance(e, DURABLE)], at=till.now)


def test_an_open_sale_with_an_override_and_discounts_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    store = store_at(path)
    till = Till()
    for step in (
        "supervisor",
        COLA,
        "key 2 QTY",
        BREAD,
        "key 7 DOT 5 PRICE",
        "key 1 ENTER",
        "scale 0.532",
        "key 1 PLU",
        "key 5 DISC",
        "key SUBTOTAL 1 2 DOT 5 DISC",
    ):
        till.do(step)
        saved_as_the_loop_does(store, till)
    store.db.close()
    again = store_at(path)
    try:
        sale = again.load_open_sale()
        assert sale == till.state.sale
        assert sale is not None and sale.lines[1].override is not None
        assert [len(ln.discounts) for ln in sale.lines] == [1, 1, 2]
        # The next scan after the restart writes its line only, and the reload still agrees.
        till.do(COLA)
        saved_as_the_loop_does(again, till)
    finally:
        again.db.close()
    third = store_at(path)
    try:
        assert third.load_open_sale() == till.state.sale
    finally:
        third.db.close()


def test_a_voided_line_keeps_its_override_and_a_finished_sale_leaves_no_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lane.db"
    store = store_at(path)
    till = Till()
    for step in ("supervisor", COLA, "key 3 PRICE", "key 2 ENTER", "key VOID", BREAD, "key CASH"):
        till.do(step)
        saved_as_the_loop_does(store, till)
    commit = next(e for e in till.effects if isinstance(e, CommitSale))
    assert commit.record.lines[0].voided and commit.record.lines[0].override is not None
    store.db.close()
    with sqlite3.connect(path) as reader:
        assert reader.execute('select count(*) from "openlineadjustment"').fetchone() == (0,)
        sql = 'select payload from "outboxmessage" where topic like ?'
        (payload,) = reader.execute(sql, ("%/sales",)).fetchone()
    message = json.loads(payload)
    validate(message)
    assert message["lines"][0]["override"] == {
        "from": 350, "to": 300, "reason": "临期 near expiry", "by": "9001",
    }  # fmt: skip
    assert "manual_discounts" not in message["lines"][1]


def test_a_sale_message_with_override_and_discounts_validates(tmp_path: Path) -> None:
    store = store_at(tmp_path / "lane.db")
    till = Till()
    steps = (
        "signon",
        COLA,
        "key 3 PRICE",
        "approve",
        "key 1 ENTER",
        "key 5 DISC",
        BREAD,
        "key SUBTOTAL 2 0 DISC",
        "approve",
        "key CASH",
    )
    for step in steps:
        till.do(step)
        saved_as_the_loop_does(store, till)
    rows = store.db.connection().execute('select topic, payload from "outboxmessage"')
    sales = [json.loads(p) for topic, p in rows if topic.endswith("/sales")]
    store.db.close()
    (message,) = sales
    validate(message)
    cola, bread = message["lines"]
    assert cola["override"] == {"from": 350, "to": 300, "reason": "破损 damaged", "by": "9001"}
    # 5 % of 3.00 = 15; then 20 % of (2.85 + 10.00) = 257, shared 57 : 200.
    assert cola["manual_discounts"] == [
        {"scope": "line", "percent": "5", "amount": 15},
        {"scope": "sale", "percent": "20", "amount": 57, "by": "9001"},
    ]
    assert bread["manual_discounts"] == [
        {"scope": "sale", "percent": "20", "amount": 200, "by": "9001"}
    ]
    assert (cola["discount"], bread["discount"]) == (72, 200)
    assert message["totals"]["discount"] == 272
    assert message["totals"]["total"] == 1300 - 272
    assert sum(t["gross"] for t in message["taxes"]) == 1300 - 272


def test_a_restore_drops_the_open_sales_overrides_with_the_open_sale(tmp_path: Path) -> None:
    """The open sale at backup time is discarded by a restore: its lines' overrides and
    discounts go with it (none is left to be read into a later sale of that id)."""
    from tests.store.test_restore_cli import Lane

    lane = Lane(tmp_path)
    db = open_database(lane.config.database)
    try:
        store = lane.desk._store(db)
        till = lane.desk.till
        for step in ("scan 6954767410388", "key 5 DISC"):
            till.do(step)
            store.apply([e for e in till.effects if isinstance(e, DURABLE)])
    finally:
        db.close()
    with sqlite3.connect(lane.config.database) as reader:
        assert reader.execute('select count(*) from "openlineadjustment"').fetchone() == (1,)
    backup_file = lane.take_backup()
    assert lane.run("restore", str(backup_file)) == 0
    with sqlite3.connect(lane.config.database) as reader:
        assert reader.execute('select count(*) from "openline"').fetchone() == (0,)
        assert reader.execute('select count(*) from "openlineadjustment"').fetchone() == (0,)
