"""The lane loop: a sale is committed before the drawer opens or the receipt prints, and a
commit that fails leaves the sale open with nothing opened or printed."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_app.app.loop import Inbox, LaneLoop
from firmware_app.app.spooler import ReceiptSpooler
from firmware_app.config import DrawerConfig, PrinterConfig
from firmware_app.drivers.drawer import GpioDrawer
from firmware_app.drivers.payment import SimulatedTerminal
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.ids import uuid7
from firmware_app.lane.events import KeyPressed, PaymentResult, Scanned, Tick
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Ports, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from hw_sim.drawer import SimulatedDrawer
from hw_sim.lane_sim import SAMPLE_CATALOG
from hw_sim.printer import SimulatedPrinter
from tests.unit.till import T0


class Rig:
    """A lane loop over a real database, a MockFactory drawer and a pseudo-terminal printer."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "lane.db"
        self.db = open_database(self.path)
        self.catalog_db = open_catalog(tmp_path / "catalog.db")
        self.catalog = catalog = StoreCatalog(self.catalog_db)
        catalog.apply(parse_catalog(SAMPLE_CATALOG.read_bytes()))
        cashiers = Cashiers(self.db)
        cashiers.add("1001", Role.CASHIER, "1234", now=T0)
        self.pins = MockFactory()
        drawer_config = DrawerConfig()
        self.sim_drawer = SimulatedDrawer(self.pins, drawer_config)
        self.drawer = GpioDrawer(drawer_config, pin_factory=self.pins)
        self.sim_printer = SimulatedPrinter(tmp_path / "out")
        self.printer = SerialPrinter(PrinterConfig(port=self.sim_printer.port))
        sales = SalesStore(self.db, messages=LaneUplink(Topics("pos", "S1", "1")))
        inbox = Inbox()
        self.spooler = ReceiptSpooler(
            self.printer,
            sales.print_queue,
            post=inbox.post,
            setup=LaneSetup(),
            clock=lambda: datetime.now().astimezone(),
            keep=timedelta(minutes=30),
        )
        self.lane = LaneLoop(
            inbox=inbox,
            setup=LaneSetup(),
            ports=Ports(catalog, cashiers, uuid7),
            sales=sales,
            display=TextDisplay(io.StringIO(), setup=LaneSetup()),
            printer=self.spooler,
            drawer=self.drawer,
            terminal=SimulatedTerminal(),
            clock=lambda: datetime.now().astimezone(),
            initial=LaneState(),
        )
        self.spooler.start()
        self.committed_at_kick: list[int] = []
        sim_listener = self.sim_drawer.kick_pin.on_level

        def on_kick(level: bool) -> None:
            if level:  # what another reader of the database sees as the drawer opens
                self.committed_at_kick.append(self.committed())
            assert sim_listener is not None
            sim_listener(level)

        self.sim_drawer.kick_pin.on_level = on_kick

    def committed(self) -> int:
        with sqlite3.connect(self.path) as reader:
            return int(reader.execute('select count(*) from "transaction"').fetchone()[0])

    def keys(self, *names: str) -> None:
        for name in names:
            self.lane.step(KeyPressed(name))

    def close(self) -> None:
        self.spooler.close()
        self.printer.close()
        self.drawer.close()
        self.sim_printer.close()
        self.db.close()
        self.catalog_db.close()


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_commit_comes_before_the_drawer_and_the_receipt(rig: Rig) -> None:
    rig.keys("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")
    rig.lane.step(Scanned("6954767410388"))
    rig.keys("5", "CASH")
    assert rig.lane.state.message is not None and rig.lane.state.message.id is Msg.CHANGE
    assert rig.committed_at_kick == [1]
    assert rig.sim_drawer.kicks == 1
    text = rig.sim_printer.wait_for_receipt(1, timeout=5)
    assert "可口可乐 330ml" in text and "1.50" in text


def test_a_failed_commit_opens_nothing_and_keeps_the_sale(rig: Rig) -> None:
    rig.keys("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")
    rig.lane.step(Scanned("6954767410388"))
    open_sale = rig.lane.state.sale
    rig.db.execute_sql(
        'CREATE TRIGGER disk_full BEFORE INSERT ON "transaction" '
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    rig.keys("5", "CASH")
    assert rig.lane.state.message is not None and rig.lane.state.message.id is Msg.SAVE_FAILED
    assert rig.lane.state.sale == open_sale  # still open, unpaid
    assert rig.sim_drawer.kicks == 0 and rig.committed() == 0
    time.sleep(0.3)
    assert rig.sim_printer.receipts == []
    saved = rig.lane.sales.load_open_sale()
    assert saved is not None and open_sale is not None
    assert (saved.id, saved.lines, saved.tenders) == (open_sale.id, open_sale.lines, ())


def test_a_price_change_applies_to_the_next_line_only(rig: Rig) -> None:
    rig.keys("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")
    rig.lane.step(Scanned("6954767410388"))
    delta = {
        "schema": "store.catalog/1", "at": "2026-11-28T09:00:00+08:00", "version": 2,
        "base_version": 1, "removed": [], "promotions": [],
        "items": [{"sku": "100234", "name": "可口可乐 330ml", "codes": ["6954767410388"],
                   "plu": None, "unit": "each", "price": 399, "tax_rate": "13",
                   "age_restricted": False, "active": True}],
    }  # fmt: skip
    rig.catalog.apply(parse_catalog(json.dumps(delta).encode()))
    rig.lane.step(Scanned("6954767410388"))
    sale = rig.lane.state.sale
    assert sale is not None
    assert [(line.unit_price, line.amount) for line in sale.lines] == [(350, 350), (399, 399)]
    assert sale.due == 749


def test_a_drawer_that_cannot_be_claimed_leaves_the_lane_selling(tmp_path: Path) -> None:
    from gpiozero import DigitalOutputDevice

    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import Hardware, LaneApp

    pins = MockFactory()
    squatter = DigitalOutputDevice(17, pin_factory=pins)  # something else holds GPIO17
    cfg = config_mod.parse(
        {
            "lane": {"store": "S1", "lane": "1", "data_dir": str(tmp_path)},
            "scale": {"enabled": False},
            "printer": {"enabled": False},
        }
    )
    app = LaneApp(
        cfg,
        hardware=Hardware(pin_factory=pins, display=TextDisplay(io.StringIO(), setup=LaneSetup())),
    )
    try:
        assert app.drawer is None
        app.loop.step(app.inbox.take(0.0))  # the DeviceState the app posted
        assert app.loop.device_states()["drawer"] == "missing"
    finally:
        app.close()
        squatter.close()


# --- a full disk during a card payment ---------------------------------------------------


def sign_on_and_scan(rig: Rig, lines: int = 1) -> None:
    rig.keys("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")
    for _ in range(lines):
        rig.lane.step(Scanned("6954767410388"))


# Enough lines that committing the sale needs new pages: its journal entry, outbox
# message and receipt no longer fit in what the tables' pages have free.
BIG = 30


def fill_the_disk(rig: Rig) -> None:
    """SQLITE_FULL from now on: the database may not grow by a single page."""
    pages = rig.db.execute_sql("PRAGMA page_count").fetchone()[0]
    rig.db.execute_sql(f"PRAGMA max_page_count = {pages}")


def free_the_disk(rig: Rig) -> None:
    rig.db.execute_sql("PRAGMA max_page_count = 1073741823")


def terminal_answer(rig: Rig) -> None:
    """Run the loop's queue until the payment terminal's answer has been handled."""
    run_queue_until_payment(rig.lane)


def test_a_card_approval_on_a_full_disk_is_kept_and_saved_when_space_returns(rig: Rig) -> None:
    sign_on_and_scan(rig, BIG)
    rig.keys("CARD")
    fill_the_disk(rig)
    terminal_answer(rig)
    assert rig.committed() == 0
    message = rig.lane.state.message
    assert message is not None and message.id is Msg.PAYMENT_UNSAVED
    # The approval is on disk already: a restart now would find the sale paid.
    second = open_database(rig.path)
    try:
        after_restart = SalesStore(second, messages=LaneUplink(Topics("pos", "S1", "1")))
        restored = after_restart.load_open_sale()
    finally:
        second.close()
    assert restored is not None
    assert [(t.type.value, t.amount) for t in restored.tenders] == [("card", 350 * BIG)]
    # Every key keeps trying and says so; none asks the terminal again or says "busy".
    for key in ("CLEAR", "1", "CARD", "CASH"):
        rig.keys(key)
        message = rig.lane.state.message
        assert message is not None and message.id is Msg.PAYMENT_UNSAVED, key
    assert len(rig.lane.terminal.requests) == 1
    free_the_disk(rig)
    rig.lane.step(Tick())
    message = rig.lane.state.message
    assert message is not None and message.id is Msg.CHANGE
    assert rig.committed() == 1
    with sqlite3.connect(rig.path) as reader:
        tenders = reader.execute("select type, amount from transactiontender").fetchall()
    assert tenders == [("card", 350 * BIG)]
    assert rig.lane.state.sale is None and len(rig.lane.terminal.requests) == 1
    rig.keys("CLEAR")
    assert rig.lane.state.message is None


def lane_app(tmp_path: Path, terminal: SimulatedTerminal):
    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import Hardware, LaneApp

    cfg = config_mod.parse(
        {
            "lane": {"store": "S1", "lane": "1", "data_dir": str(tmp_path)},
            "scale": {"enabled": False},
            "printer": {"enabled": False},
            "drawer": {"enabled": False},
        }
    )
    display = TextDisplay(io.StringIO(), setup=LaneSetup())
    app = LaneApp(
        cfg, hardware=Hardware(pin_factory=MockFactory(), terminal=terminal, display=display)
    )
    if app.catalog.count() == 0:
        app.catalog.apply(parse_catalog(SAMPLE_CATALOG.read_bytes()))
    if app.cashiers.verify("1001", "1234") is None:
        app.cashiers.add("1001", Role.CASHIER, "1234", now=T0)
    return app


def run_queue_until_payment(lane: LaneLoop) -> None:
    while True:
        event = lane.inbox.take(5)
        assert event is not None, "no payment result within 5 s"
        lane.step(event)
        lane.inbox.done()
        if isinstance(event, PaymentResult):
            return


def test_a_card_approval_kept_through_a_restart_is_not_charged_again(tmp_path: Path) -> None:
    first_terminal = SimulatedTerminal()
    app = lane_app(tmp_path, first_terminal)
    try:
        lane = app.loop
        for key in ("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER"):
            lane.step(KeyPressed(key))
        for _ in range(BIG):
            lane.step(Scanned("6954767410388"))
        lane.step(KeyPressed("CARD"))
        pages = app.db.execute_sql("PRAGMA page_count").fetchone()[0]
        app.db.execute_sql(f"PRAGMA max_page_count = {pages}")
        run_queue_until_payment(lane)
        sale_id = lane.state.sale.id if lane.state.sale else None
    finally:
        app.close()  # the lane stops while the disk is still full
    assert len(first_terminal.requests) == 1

    second_terminal = SimulatedTerminal()
    app = lane_app(tmp_path, second_terminal)
    try:
        restored = app.loop.state.sale
        assert restored is not None and restored.id == sale_id
        assert [(t.type.value, t.amount) for t in restored.tenders] == [("card", 350 * BIG)]
        assert restored.due == 0
        app.loop.step(Tick())  # a paid sale found at start-up is finished, not paid again
        assert app.loop.state.sale is None
        with sqlite3.connect(tmp_path / "lane.db") as reader:
            rows = reader.execute('select sale_id, total from "transaction"').fetchall()
            tenders = reader.execute("select type, amount from transactiontender").fetchall()
        assert rows == [(sale_id, 350 * BIG)]
        assert tenders == [("card", 350 * BIG)]
        assert second_terminal.requests == []
    finally:
        app.close()


# --- leaving a part-paid sale ------------------------------------------------------------------


def test_a_part_paid_sale_is_cancelled_cash_handed_back_and_card_reversed(rig: Rig) -> None:
    from firmware_app.sync.validation import validate

    Cashiers(rig.db).add("9001", Role.SUPERVISOR, "9999", now=T0)
    sign_on_and_scan(rig)  # 3.50
    rig.keys("2", "CASH")  # 2.00 in cash
    rig.keys("1", "CARD")  # 1.00 on the card
    terminal_answer(rig)
    rig.lane.terminal.decline = True
    rig.keys("CARD")  # the rest: declined
    terminal_answer(rig)
    assert rig.lane.state.sale is not None and rig.lane.state.sale.due == 50
    assert rig.sim_drawer.kicks == 0
    rig.keys("CANCEL", "9", "0", "0", "1", "ENTER", "9", "9", "9", "9", "ENTER")
    message = rig.lane.state.message
    assert message is not None and message.id is Msg.REVERSING
    terminal_answer(rig)
    message = rig.lane.state.message
    assert message is not None and message.id is Msg.CANCELLED_CASH_BACK
    assert message.render("en") == "Sale cancelled: hand back cash 2.00"
    assert rig.committed_at_kick == [1]  # committed before the drawer opened for the cash
    assert [r[2:] for r in rig.lane.terminal.reversals] == [(100, "SIM-000001")]
    assert rig.lane.state.sale is None and rig.lane.sales.load_open_sale() is None
    with sqlite3.connect(rig.path) as reader:
        kind = reader.execute('select kind, total from "transaction"').fetchall()
        counted = reader.execute("select count(*) from transactiontender").fetchone()[0]
        logged = reader.execute("select status, reversal from payment order by requested_at")
        payments = logged.fetchall()
        payload = reader.execute(
            "select payload from outboxmessage where topic like '%/sales'"
        ).fetchone()[0]
    assert kind == [("cancelled", 0)] and counted == 0
    assert ("reversed", "SIM-R000001") in payments and ("declined", "") in payments
    sale = json.loads(payload)
    validate(sale)
    assert sale["tenders"] == [
        {"type": "cash", "amount": 200, "voided": True},
        {"type": "card", "amount": 100, "reference": "SIM-000001", "voided": True,
         "reversal": "SIM-R000001"},
    ]  # fmt: skip
    assert sale["change"] == 0 and sale["totals"]["total"] == 0


def test_the_payment_log_settles_the_open_sale_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from firmware_app.lane.effects import LogPayment, PaymentStatus, SaveSale
    from firmware_app.lane.sale import Sale, Tender, TenderType

    db = open_database(tmp_path / "lane.db")
    try:
        sales = SalesStore(db, messages=LaneUplink(Topics("pos", "S1", "1")))
        paid = Tender(TenderType.CARD, 100, "R-1", payment_id="p1")
        sale = Sale(id="s1", opened_at=T0, cashier="1001", tenders=(paid,))

        def log(payment_id: str, status: PaymentStatus, **refs: str) -> LogPayment:
            return LogPayment(payment_id, "s1", TenderType.CARD, 100, status, T0, **refs)

        sales.apply([SaveSale(sale), log("p1", PaymentStatus.REQUESTED)])
        # The sale was saved with p1; then p1 was reversed, p2 approved and p3 asked,
        # and nothing of that reached the sale before the lane stopped.
        sales.apply([log("p1", PaymentStatus.REVERSED, reference="R-1", reversal="V-1")])
        sales.apply([log("p2", PaymentStatus.REQUESTED)])
        sales.apply([log("p2", PaymentStatus.APPROVED, reference="R-2")])
        sales.apply([log("p3", PaymentStatus.REQUESTED)])
        sales.apply([log("p4", PaymentStatus.DECLINED)])
        with caplog.at_level("WARNING"):
            restored = SalesStore(db, messages=LaneUplink(Topics("pos", "S1", "1")))
            again = restored.load_open_sale()
    finally:
        db.close()
    assert again is not None
    assert [(t.payment_id, t.reference, t.voided, t.reversal) for t in again.tenders] == [
        ("p1", "R-1", True, "V-1"),
        ("p2", "R-2", False, ""),
    ]
    assert again.paid == 100
    assert "payment p3 (card 100) of sale s1 was requested when the lane stopped" in caplog.text


def test_the_loop_does_not_repeat_device_news_the_adapter_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A device's change is logged once, by the adapter that saw it (with its path and
    advice); the loop keeps only a debug trace of it."""
    import logging

    from firmware_app.lane.devices import Device, StateWord
    from firmware_app.lane.events import DeviceState

    app = lane_app(tmp_path, SimulatedTerminal())
    try:
        caplog.set_level(logging.INFO)
        app.loop.step(DeviceState(Device.SCANNER, StateWord.MISSING, "/dev/lane-scanner: gone"))
        assert dict(app.loop.state.devices)[Device.SCANNER] is StateWord.MISSING
        assert not [r for r in caplog.records if "lane-scanner" in r.getMessage()]
    finally:
        app.close()
