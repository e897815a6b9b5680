"""The PIN lockout lives in the lane database: five wrong PINs through the real core and
store lock the id, and a restart (the database closed and opened again, a fresh lane
state) still refuses it with the minutes left, until the lock ends."""

from __future__ import annotations

import contextlib
import io
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from firmware_app.ids import uuid7
from firmware_app.lane.effects import DURABLE, ClearPinFailures, RecordPinFailure
from firmware_app.lane.events import KeyPressed
from firmware_app.lane.machine import handle
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import PinRecord, Ports, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.unit.till import T0


class Lane:
    """The pure core over a real lane database, applying durable effects as the loop does."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = open_database(tmp_path / "lane.db")
        self.catalog_db = open_catalog(tmp_path / "catalog.db")
        self.cashiers = Cashiers(self.db)
        self.sales = SalesStore(self.db, messages=LaneUplink(Topics("pos", "S1", "1")))
        self.ports = Ports(StoreCatalog(self.catalog_db), self.cashiers, uuid7)
        self.state = LaneState()
        self.setup = LaneSetup()

    def keys(self, keys: str, now: object) -> None:
        for key in keys.split():
            self.state, effects = handle(self.state, KeyPressed(key), now, self.ports, self.setup)  # type: ignore[arg-type]
            self.sales.apply([e for e in effects if isinstance(e, DURABLE)], at=now)  # type: ignore[arg-type]

    def close(self) -> None:
        self.db.close()
        self.catalog_db.close()

    @property
    def shown(self) -> str:
        assert self.state.message is not None
        return self.state.message.render("en")


def test_the_lockout_survives_a_restart(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    lane.cashiers.add("1001", Role.CASHIER, "1234", now=T0)
    for _ in range(5):
        lane.keys("1 0 0 1 SIGNON 1 1 1 1 ENTER", T0)
    assert lane.shown == "1001 locked for 15 min"
    lane.close()

    lane = Lane(tmp_path)  # a restart: a new process, a fresh state
    assert lane.cashiers.pin_record("1001") == PinRecord(5, T0 + timedelta(minutes=15))
    lane.keys("1 0 0 1 SIGNON", T0 + timedelta(minutes=3))
    assert lane.shown == "1001 locked for 12 min"
    lane.keys("1 2 3 4 ENTER CLEAR", T0 + timedelta(minutes=3))  # no PIN is asked for
    assert lane.state.cashier is None
    assert lane.cashiers.pin_record("1001") == PinRecord(5, T0 + timedelta(minutes=15))
    lane.keys("1 0 0 1 SIGNON 1 2 3 4 ENTER", T0 + timedelta(minutes=15))
    assert lane.state.message is not None and lane.state.message.id is Msg.SIGNED_ON
    assert lane.cashiers.pin_record("1001") == PinRecord()
    lane.close()


def test_failures_and_their_events_are_written_in_one_transaction(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    lane.keys("5 5 5 5 SIGNON 1 2 3 4 ENTER", T0)  # an unknown id counts too
    assert lane.cashiers.pin_record("5555") == PinRecord(1, None)
    topics = [row.topic for row in lane.sales.outbox.unacked()]
    assert topics == ["pos/S1/lanes/1/events"]
    lane.close()


def test_a_failed_transaction_writes_neither_the_failure_nor_its_event(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    failure = RecordPinFailure("1001", 1, None, T0)
    with contextlib.suppress(TypeError):
        lane.sales.apply([failure, object()], at=T0)
    assert lane.cashiers.pin_record("1001") == PinRecord()
    lane.sales.apply([failure], at=T0)
    assert lane.cashiers.pin_record("1001") == PinRecord(1, None)
    lane.sales.apply([ClearPinFailures("1001")], at=T0)
    assert lane.cashiers.pin_record("1001") == PinRecord()
    lane.close()


def test_find_and_the_technician_role(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    lane.cashiers.add("7001", Role.TECHNICIAN, "7777", now=T0)
    found = lane.cashiers.find("7001")
    assert found is not None and found.role is Role.TECHNICIAN
    assert lane.cashiers.find("7002") is None
    lane.close()


def test_a_technician_account_is_added_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lane.toml"
    config.write_text(f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{tmp_path / "data"}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("7777\n"))
    assert main(["cashier", "add", "7001", "--role", "technician", "--config", str(config)]) == 0
    assert "cashier 7001 (technician) saved" in capsys.readouterr().out
    db = open_database(tmp_path / "data" / "lane.db")
    try:
        technician = Cashiers(db).verify("7001", "7777")
    finally:
        db.close()
    assert technician is not None and technician.role is Role.TECHNICIAN
