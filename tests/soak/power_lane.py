"""A lane for the storage soaks: the real lane loop over the real store layer on a real
SQLite file, a MockFactory drawer, the simulated payment terminal, and a cashier who
keys whole customer visits (sales, suspends and resumes, returns, paid-in and out).

No printer for the power-loss soak: the receipt spooler would write its marks from a
thread of its own, and that soak needs the lane loop to be the only writer so that a
copy taken between two of its writes is exactly what the disk held at that instant.
"""

from __future__ import annotations

import io
import random
import sqlite3
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.drivers.payment import SimulatedTerminal
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.lane.events import KeyPressed, PaymentResult, Scanned
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.store import suspended
from firmware_app.store.catalog_doc import parse_catalog
from hw_sim.drawer import SimulatedDrawer
from hw_sim.lane_sim import SAMPLE_CATALOG
from hw_sim.printer import SimulatedPrinter
from tests.unit.till import T0

CODES = ("6954767410388", "6921094000018", "6902263021362", "6901045504017", "96385074")
CASHIER = ("1001", "1234")
SUPERVISOR = ("9001", "9999")


def digits(text: str) -> list[str]:
    return list(text)


def lane_config(data_dir: Path, printer_port: str | None = None) -> config_mod.Config:
    printer = {"port": printer_port} if printer_port else {"enabled": False}
    return config_mod.parse(
        {
            "lane": {"store": "S1", "lane": "1", "data_dir": str(data_dir)},
            "scale": {"enabled": False},
            "printer": printer,
        }
    )


class PowerLane:
    """The lane as its composition root builds it (``LaneApp``: its own open, migrate
    and restore path) on ``data_dir``, never started: the test is the loop's thread and
    drives it with ``keys``/``scan``. ``sim_drawer`` counts the drawer's kicks; with
    ``printer`` (a simulated printer) the receipt spooler runs and prints on it."""

    def __init__(
        self, data_dir: Path, *, seed_data: bool = True, printer: SimulatedPrinter | None = None
    ) -> None:
        pins = MockFactory()
        config = lane_config(data_dir, printer.port if printer else None)
        self.sim_drawer = SimulatedDrawer(pins, config.drawer)
        self.terminal = SimulatedTerminal()
        self.screen = io.StringIO()
        display = TextDisplay(self.screen, setup=LaneSetup())
        self.app = LaneApp(
            config,
            hardware=Hardware(pin_factory=pins, terminal=self.terminal, display=display),
        )
        self.lane = self.app.loop
        self.db = self.app.db
        self.sales = self.app.sales
        self.path = config.database
        if seed_data and self.app.catalog.count() == 0:
            self.app.catalog.apply(parse_catalog(SAMPLE_CATALOG.read_bytes()))
        if seed_data and self.app.cashiers.verify(*CASHIER) is None:
            self.app.cashiers.add(CASHIER[0], Role.CASHIER, CASHIER[1], now=T0)
            self.app.cashiers.add(SUPERVISOR[0], Role.SUPERVISOR, SUPERVISOR[1], now=T0)
        if self.app.spooler is not None:
            self.app.spooler.start()

    # --- driving ------------------------------------------------------------------

    def keys(self, *names: str) -> None:
        for name in names:
            self.lane.step(KeyPressed(name))

    def scan(self, code: str) -> None:
        self.lane.step(Scanned(code))

    def message(self) -> Msg | None:
        message = self.lane.state.message
        return None if message is None else message.id

    def terminal_answer(self) -> None:
        """Run the loop's queue until the payment terminal's answer has been handled."""
        while True:
            event = self.lane.inbox.take(5)
            assert event is not None, "no payment result within 5 s"
            self.lane.step(event)
            self.lane.inbox.done()
            if isinstance(event, PaymentResult):
                return

    def sign_on(self) -> None:
        self.keys(*digits(CASHIER[0]), "SIGNON", *digits(CASHIER[1]), "ENTER")

    def approve(self) -> None:
        self.keys(*digits(SUPERVISOR[0]), "ENTER", *digits(SUPERVISOR[1]), "ENTER")

    def committed(self) -> int:
        with sqlite3.connect(self.path) as reader:
            return int(reader.execute('select count(*) from "transaction"').fetchone()[0])

    def last_receipt(self) -> int | None:
        with sqlite3.connect(self.path) as reader:
            row = reader.execute(
                "select max(receipt_no) from \"transaction\" where kind = 'sale'"
            ).fetchone()
        return row[0]

    def close(self) -> None:
        self.app.close()


class Cashier:
    """Whole customer visits, picked at random: each leaves the lane with no sale open
    and no prompt waiting (so the next can start), whatever was refused on the way."""

    def __init__(self, lane: PowerLane, rng: random.Random) -> None:
        self.lane = lane
        self.rng = rng

    KINDS = ("cash", "card", "suspend", "return", "paid_in", "paid_out")

    def visit(self, kind: str | None = None) -> str:
        """One customer's visit: ``kind`` (one of ``KINDS``), or one picked at random,
        cash sales the most often; returns its kind."""
        visits = {
            "cash": self.cash,
            "card": self.card,
            "suspend": self.suspend,
            "return": self.return_,
            "paid_in": self.paid_in,
            "paid_out": self.paid_out,
        }
        kind = kind or self.rng.choice(("cash", "cash", "cash", *visits))
        visits[kind]()
        self.tidy()
        return kind

    def basket(self, most: int = 6) -> None:
        for _ in range(self.rng.randint(1, most)):
            self.lane.scan(self.rng.choice(CODES))

    def cash(self) -> None:
        self.basket()
        self.lane.keys("1", "0", "0", "CASH")

    def card(self) -> None:
        self.basket()
        self.lane.keys("CARD")
        self.lane.terminal_answer()

    def suspend(self) -> None:
        """Park a basket, sell to the next customer, take the basket back and sell it."""
        self.basket()
        self.lane.keys("SUSPEND")
        self.cash()
        conn = self.lane.db.connection()
        parked = suspended.load(conn)
        if parked:
            self.lane.keys(*digits(str(parked[-1].no)), "RESUME")
            self.lane.keys("1", "0", "0", "CASH")

    def return_(self) -> None:
        receipt = self.lane.last_receipt()
        if receipt is None:
            return self.cash()
        self.lane.keys(*digits(str(receipt)), "RETURN", "1", "ENTER", "SUBTOTAL", "CASH")
        return None

    def paid_in(self) -> None:
        self.lane.keys("5", "0", "PAIDIN")
        self.lane.approve()
        self.lane.keys("1", "ENTER")

    def paid_out(self) -> None:
        self.lane.keys("2", "0", "PAIDOUT")
        self.lane.approve()
        self.lane.keys("1", "ENTER")

    def tidy(self) -> None:
        """Leave nothing open: a refused step (a return already made) is cleared, and a
        sale left open is cancelled with a supervisor's approval."""
        self.lane.keys("CLEAR", "CLEAR")
        if self.lane.lane.state.sale is not None:
            self.lane.keys("CANCEL")
            self.lane.approve()
            self.lane.keys("CLEAR")
