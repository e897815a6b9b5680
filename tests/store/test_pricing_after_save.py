"""The lane loop saves a scanned line before it prices the basket again: the line is on
disk however long the promotions take, the priced lines follow with the sale's next
write, every tender and suspend writes the priced sale, and a sale restored at start
is priced again, so what a power cut leaves on disk never shows."""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from firmware_app.app import loop as loop_module
from firmware_app.app.loop import Inbox, LaneLoop
from firmware_app.drivers.payment import SimulatedTerminal
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.ids import uuid7
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.lane.ports import Cashier, Ports, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.sale import Sale
from firmware_app.lane.state import LaneState, Mode
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from hw_sim.lane_sim import SAMPLE_CATALOG

PROMOTIONS = SAMPLE_CATALOG.with_name("catalog-promotions.json")
COLA = "6954767410388"  # 3.50; the second at half price (P-COLA-2ND)
NOODLES = "6902263021362"  # 4.50; 3 for 10.00 (P-NOODLE-3FOR)


class Lane:
    """A lane loop over real files with the promotions sample catalog, a cashier signed on."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "lane.db"
        self.db = open_database(self.path)
        self.catalog_db = open_catalog(tmp_path / "catalog.db")
        self.catalog = StoreCatalog(self.catalog_db)
        self.catalog.apply(parse_catalog(PROMOTIONS.read_bytes()))
        self.sales = SalesStore(self.db, messages=LaneUplink(Topics("pos", "S1", "1")))
        self.loop = self.start(LaneState(mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER)))

    def start(self, initial: LaneState) -> LaneLoop:
        return LaneLoop(
            inbox=Inbox(),
            setup=LaneSetup(),
            ports=Ports(self.catalog, Cashiers(self.db), uuid7),
            sales=self.sales,
            display=TextDisplay(io.StringIO(), setup=LaneSetup()),
            printer=None,
            drawer=None,
            terminal=SimulatedTerminal(),
            clock=lambda: datetime.now().astimezone(),
            initial=initial,
        )

    def restart(self) -> LaneLoop:
        """A new loop over what is on disk, as the daemon starts."""
        sale = SalesStore(self.db, messages=LaneUplink(Topics("pos", "S1", "1"))).load_open_sale()
        return self.start(
            LaneState(mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER), sale=sale)
        )

    def on_disk(self) -> Sale:
        sale = SalesStore(self.db, messages=LaneUplink(Topics("pos", "S1", "1"))).load_open_sale()
        assert sale is not None
        return sale

    def close(self) -> None:
        self.db.close()
        self.catalog_db.close()


@pytest.fixture
def lane(tmp_path: Path):
    with contextlib.closing(Lane(tmp_path)) as made:
        yield made


def discounts(sale: Sale) -> dict[int, int]:
    return {line.no: line.discount for line in sale.live_lines}


def test_the_line_is_saved_first_and_its_promotions_with_the_next_write(lane: Lane) -> None:
    lane.loop.step(Scanned(COLA))
    lane.loop.step(Scanned(COLA))
    shown = lane.loop.state.sale
    assert shown is not None
    assert discounts(shown) == {1: 88, 2: 87}  # the second cola at half price, on screen
    saved = lane.on_disk()
    assert [line.sku for line in saved.live_lines] == ["100234", "100234"]  # both lines
    assert discounts(saved) == {1: 0, 2: 0}  # the promotion follows with the next write

    lane.loop.step(Scanned(NOODLES))
    assert discounts(lane.on_disk()) == {1: 88, 2: 87, 3: 0}
    assert lane.on_disk().lines[:2] == shown.lines


def test_a_sale_restored_at_start_is_priced_again(lane: Lane) -> None:
    for code in (COLA, COLA, NOODLES, NOODLES, NOODLES):
        lane.loop.step(Scanned(code))
    shown = lane.loop.state.sale
    assert shown is not None and sum(discounts(shown).values()) == 175 + 350
    assert lane.on_disk().lines != shown.lines  # the last scan's promotions are not on disk

    restarted = lane.restart()  # a power cut now: the next start
    assert restarted.state.sale is not None
    assert restarted.state.sale.lines == shown.lines


def test_the_tender_commits_the_priced_sale(lane: Lane) -> None:
    lane.loop.step(Scanned(COLA))
    lane.loop.step(Scanned(COLA))
    for key in ("1", "0", "0", "0", "CASH"):
        lane.loop.step(KeyPressed(key))
    assert lane.loop.state.sale is None, lane.loop.state.message
    with sqlite3.connect(lane.path) as reader:
        rows = reader.execute("SELECT no, discount FROM transactionline ORDER BY no").fetchall()
        (total,) = reader.execute('SELECT total FROM "transaction"').fetchone()
    assert rows == [(1, 88), (2, 87)]
    assert total == 350 + 175


def test_a_suspended_sale_is_parked_priced(lane: Lane) -> None:
    lane.loop.step(Scanned(COLA))
    lane.loop.step(Scanned(COLA))
    lane.loop.step(KeyPressed("SUSPEND"))
    assert lane.loop.state.sale is None, lane.loop.state.message
    parked, _ = lane.sales.load_parked()
    assert [discounts(p.sale) for p in parked] == [{1: 88, 2: 87}]


def test_pricing_that_fails_after_the_save_keeps_the_line(
    lane: Lane, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lane.loop.step(Scanned(COLA))

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a pricing defect")

    monkeypatch.setattr(loop_module, "price_after", broken)
    with caplog.at_level(logging.ERROR):
        lane.loop.step(Scanned(COLA))
    sale = lane.loop.state.sale
    assert sale is not None and len(sale.live_lines) == 2  # sold, at the earlier prices
    assert len(lane.on_disk().live_lines) == 2
    assert "pricing failed" in caplog.text
