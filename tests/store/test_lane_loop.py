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

from firmware_app.config import DrawerConfig, PrinterConfig
from firmware_app.daemon import Lane
from firmware_app.display import TextDisplay
from firmware_app.drivers.drawer import GpioDrawer
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.ids import uuid7
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Ports, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.payment import SimulatedTerminal
from firmware_app.printing import ReceiptSpooler
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
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
        sales = SalesStore(self.db, store_id="S1", lane_id="1", topic_for=lambda k: k)
        self.lane = Lane(
            setup=LaneSetup(),
            ports=Ports(catalog, cashiers, uuid7),
            sales=sales,
            display=TextDisplay(io.StringIO(), setup=LaneSetup()),
            printer=None,
            drawer=self.drawer,
            terminal=SimulatedTerminal(),
            clock=lambda: datetime.now().astimezone(),
            initial=LaneState(),
        )
        self.spooler = ReceiptSpooler(
            self.printer,
            sales.print_queue,
            post=self.lane.post,
            setup=LaneSetup(),
            clock=lambda: datetime.now().astimezone(),
            keep=timedelta(minutes=30),
        )
        self.lane.printer = self.spooler
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
    from firmware_app.bootstrap import Hardware, LaneApp

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
        app.lane.step(app.lane._queue.get_nowait())  # the DeviceState the app posted
        assert app.lane.device_states()["drawer"] == "missing"
    finally:
        app.close()
        squatter.close()
