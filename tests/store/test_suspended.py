"""Parked sales in a real SQLite file: they survive a reopen, a park or resume is one
transaction (the sale is parked or open, never both, never gone), and through the lane
loop a park that cannot be saved prints no slip and leaves the sale open."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import fields, replace
from decimal import Decimal
from pathlib import Path

import pytest

from firmware_app.errors import StoreError
from firmware_app.lane.adjustments import DiscountScope, ManualDiscount, PriceOverride
from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import ParkSale, PrintReceipt, UnparkSale
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.lane.member_check import CheckState, MemberCheck
from firmware_app.lane.messages import Msg
from firmware_app.lane.parked import ParkedSale
from firmware_app.lane.pricing import PromoShare
from firmware_app.lane.sale import Line, ReturnRef, Sale, Tender, TenderType
from firmware_app.store.db import open_database
from firmware_app.store.sales import SalesStore
from firmware_app.store.suspended import ParkedSaleMissing
from firmware_app.sync.contract import LaneUplink, Topics
from tests.store.test_lane_loop import Rig, lane_app
from tests.unit.till import T0, Till

SIGN_ON = ("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")


def store_at(path: Path) -> SalesStore:
    return SalesStore(open_database(path), messages=LaneUplink(Topics("pos", "S1", "1")))


def applied(store: SalesStore, till: Till) -> None:
    """Apply the durable effects (and the slip) of the till's last step, as the loop does."""
    store.apply(till.effects, at=till.now)


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as reader:
        return {
            table: reader.execute(f'select count(*) from "{table}"').fetchone()[0]
            for table in ("opensale", "openline", "parkedsale", "printjob", "outboxmessage")
        }


@pytest.fixture
def parked(tmp_path: Path):
    """A till and a store where a two-line sale was saved line by line, then parked."""
    path = tmp_path / "lane.db"
    store = store_at(path)
    till = Till().do("signon")
    for step in ("scan 6954767410388", "key 2 QTY", "scan 96385074"):
        till.do(step)
        applied(store, till)
    till.do("key SUSPEND")
    assert till.message == Msg.SALE_PARKED
    applied(store, till)
    yield path, store, till
    store.db.close()


def test_a_parked_sale_survives_a_reopen_and_the_open_sale_is_gone(parked) -> None:
    path, store, till = parked
    store.db.close()
    again = store_at(path)
    try:
        sales, next_no = again.load_parked()
        assert sales == till.state.parked and next_no == 2
        assert again.load_open_sale() is None
        assert counts(path) == {
            "opensale": 0, "openline": 0, "parkedsale": 1, "printjob": 1, "outboxmessage": 1,
        }  # fmt: skip
        job = again.print_queue.next()
        assert job is not None and job.receipt.code == "SUSP-S001-07-1"
        assert job.receipt.code_symbol == "barcode"
        assert again.print_queue.last_receipt() is None  # REPRINT never prints a slip
    finally:
        again.db.close()


def test_a_resumed_sale_is_open_again_and_no_longer_parked_after_a_reopen(parked) -> None:
    path, store, till = parked
    sale = till.state.parked[0].sale
    till.do("key 1 RESUME")
    applied(store, till)
    store.db.close()
    again = store_at(path)
    try:
        assert again.load_parked() == ((), 2)  # numbers are never given twice
        restored = again.load_open_sale()
        assert restored is not None
        assert (restored.id, restored.lines) == (sale.id, sale.lines)
    finally:
        again.db.close()


def test_a_park_that_fails_writes_nothing(parked, tmp_path: Path) -> None:
    path, store, till = parked
    till.do("key 1 RESUME")
    applied(store, till)
    before = counts(path)
    store.db.execute_sql(
        "CREATE TRIGGER disk_full BEFORE INSERT ON printjob "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )  # the last write of the park's transaction fails
    till.do("key SUSPEND")
    assert isinstance(till.effects[0], ParkSale)
    with pytest.raises(sqlite3.DatabaseError):
        applied(store, till)
    assert counts(path) == before
    assert store.load_parked()[0] == ()
    assert store.load_open_sale() is not None


def test_resuming_a_sale_the_database_does_not_hold_writes_nothing(parked) -> None:
    path, store, _ = parked
    before = counts(path)
    with pytest.raises(ParkedSaleMissing):
        store.apply([UnparkSale(9, "nope")])
    assert counts(path) == before


# --- through the lane loop ---------------------------------------------------------------


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_the_slip_prints_after_the_park_is_committed_with_its_number_and_barcode(
    rig: Rig,
) -> None:
    rig.keys(*SIGN_ON)
    rig.lane.step(Scanned("6954767410388"))
    rig.keys("SUSPEND")
    assert rig.lane.state.message is not None
    assert rig.lane.state.message.id is Msg.SALE_PARKED
    with sqlite3.connect(rig.path) as reader:
        assert reader.execute("select no from parkedsale").fetchall() == [(1,)]
    text = rig.sim_printer.wait_for_receipt(1, timeout=5)
    assert "[BARCODE CODE128 SUSP-S1-1-1]" in text
    assert "挂单号 Suspend no." in text and "SUSP-S1-1-1" in text
    assert rig.sim_drawer.kicks == 0


def test_a_park_whose_transaction_fails_leaves_the_sale_open_and_prints_nothing(
    rig: Rig,
) -> None:
    rig.keys(*SIGN_ON)
    rig.lane.step(Scanned("6954767410388"))
    open_sale = rig.lane.state.sale
    rig.db.execute_sql(
        "CREATE TRIGGER disk_full BEFORE INSERT ON parkedsale "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    rig.keys("SUSPEND")
    state = rig.lane.state
    assert state.message is not None and state.message.id is Msg.SAVE_FAILED
    assert state.sale == open_sale and state.parked == ()
    time.sleep(0.3)
    assert rig.sim_printer.receipts == []
    saved = rig.lane.sales.load_open_sale()
    assert saved is not None and open_sale is not None and saved.lines == open_sale.lines
    assert rig.lane.sales.load_parked() == ((), 1)


def test_parked_sales_come_back_after_a_restart_and_block_sign_off(tmp_path: Path) -> None:
    from firmware_app.drivers.payment import SimulatedTerminal

    app = lane_app(tmp_path, SimulatedTerminal())
    try:
        for key in SIGN_ON:
            app.loop.step(KeyPressed(key))
        app.loop.step(Scanned("6954767410388"))
        app.loop.step(KeyPressed("SUSPEND"))
        parked = app.loop.state.parked
        assert [p.no for p in parked] == [1]
    finally:
        app.close()
    app = lane_app(tmp_path, SimulatedTerminal())
    try:
        state = app.loop.state
        # (times as stored: to the millisecond)
        assert [(p.no, p.sale.id, p.sale.lines) for p in state.parked] == [
            (p.no, p.sale.id, p.sale.lines) for p in parked
        ]
        assert state.next_park_no == 2 and state.sale is None
        app.loop.step(KeyPressed("SIGNOFF"))
        assert app.loop.state.message is not None
        assert app.loop.state.message.id is Msg.PARKED_SALES
        app.loop.step(Scanned("SUSP-S1-1-1"))
        assert app.loop.state.sale is not None
        assert app.loop.state.sale.id == parked[0].sale.id
        app.loop.step(KeyPressed("CASH"))
        app.loop.step(KeyPressed("SIGNOFF"))
        assert app.loop.state.message is not None
        assert app.loop.state.message.id is Msg.SIGNED_OFF
    finally:
        app.close()


def test_a_slip_receipt_is_queued_with_the_park_not_after_it() -> None:
    till = Till().do("signon", "scan 6954767410388", "key SUSPEND")
    kinds = [type(e) for e in till.effects]
    assert kinds.index(ParkSale) < kinds.index(PrintReceipt)


def test_a_number_given_before_or_a_tendered_sale_is_never_parked(parked) -> None:
    path, store, till = parked
    before = counts(path)
    old = till.state.parked[0]
    with pytest.raises(StoreError, match="given before"):
        store.apply([ParkSale(replace(old, sale=replace(old.sale, id="other")))])
    paid = replace(old.sale, id="paid", tenders=(Tender(TenderType.CASH, 100),))
    with pytest.raises(StoreError, match="tenders"):
        store.apply([ParkSale(replace(old, no=2, sale=paid))])
    assert counts(path) == before


def test_every_field_of_a_sale_and_its_lines_is_kept_while_parked(tmp_path: Path) -> None:
    """A field added to ``Sale`` or ``Line`` must be parked too: this fails until it is."""
    line = Line(
        no=1, sku="200001", code="2100001005320", name="富士苹果", unit=Unit.KG, qty=532,
        unit_price=1280, amount=681, tax_rate=Decimal("9"), discount=12, voided=True,
        weight_text="0.532", return_of=ReturnRef("07", 3, 2),
        override=PriceOverride(1500, 1280, "破损 damaged", "9001"),
        discounts=(ManualDiscount(Decimal("12.5"), 12, DiscountScope.SALE, "9002"),),
        department="fruit", member_price=1180, member_saving=53,
        promotions=(PromoShare("P7", "苹果特价", 40),),
    )  # fmt: skip
    sale = Sale(id="s1", opened_at=T0, cashier="1001", lines=(line,), member="88", rounding=-1)
    sale = replace(sale, age_checked=(18, 21))  # restrictions
    # Members: the store server's word on the member.
    check = MemberCheck("r1", T0, CheckState.VERIFIED, name="王芳", balance=120)
    sale = replace(sale, member_check=check)
    # The fields store/suspended.py writes: a new one fails here until it is written too.
    assert [f.name for f in fields(Line)] == [
        "no", "sku", "code", "name", "unit", "qty", "unit_price", "amount", "tax_rate",
        "discount", "voided", "weight_text", "override", "discounts", "return_of",
        "department", "member_price", "member_saving", "promotions",
    ]  # fmt: skip
    assert [f.name for f in fields(Sale)] == [
        "id", "opened_at", "cashier", "lines", "tenders", "member", "rounding",
        "age_checked", "member_check",
    ]  # fmt: skip
    store = store_at(tmp_path / "lane.db")
    try:
        store.apply([ParkSale(ParkedSale(1, sale, T0, "1001"))])
        assert store.load_parked() == ((ParkedSale(1, sale, T0, "1001"),), 2)
    finally:
        store.db.close()


@pytest.mark.parametrize(("value", "ok"), [(1, True), (10, True), (99, True), (0, False)])
def test_max_suspended_is_configured_in_sale(value: int, ok: bool) -> None:
    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import lane_setup
    from firmware_app.errors import ConfigError

    raw = {"lane": {"store": "S1", "lane": "1"}, "sale": {"max_suspended": value}}
    if not ok:
        with pytest.raises(ConfigError, match="max_suspended"):
            config_mod.parse(raw)
        return
    assert lane_setup(config_mod.parse(raw)).rules.max_suspended == value


def test_a_restore_drops_the_sales_parked_at_backup_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Like the open sale: each may have been resumed and sold after the backup."""
    from tests.store.test_restore_cli import Lane

    lane = Lane(tmp_path)
    db = open_database(lane.config.database)
    try:
        store = lane.desk._store(db)
        lane.desk.till.do("scan 6954767410388", "key SUSPEND")
        store.apply(lane.desk.till.effects)
    finally:
        db.close()
    backup_file = lane.take_backup()
    assert lane.run("restore", str(backup_file)) == 0
    with sqlite3.connect(lane.config.database) as reader:
        assert reader.execute("select count(*) from parkedsale").fetchone() == (0,)
    assert "sales parked at backup time were discarded: (1,)" in caplog.text
