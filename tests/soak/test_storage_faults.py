"""A full disk and a read-only store, on a real file system (a small tmpfs, see
``power_disk``), under the running lane: the lane never takes money it cannot record,
tells the cashier so, and sells again, once, when space returns; a read-only store is
named as such at start-up, by ``config check`` and by the doctor."""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.doctor.services import check_database, check_disk
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.errors import StoreError
from firmware_app.lane.events import KeyPressed, Scanned, Tick
from firmware_app.lane.messages import Msg
from firmware_app.lane.rules import LaneSetup
from firmware_app.store.journal import verify_file
from hw_sim.drawer import SimulatedDrawer
from hw_sim.printer import SimulatedPrinter
from tests.soak.power_disk import SmallDisk, small_disk
from tests.soak.power_lane import PowerLane, lane_config
from tests.waiting import wait_until

COLA, WATER = "6954767410388", "6921094000018"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk") as d:
        yield d


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[SimulatedPrinter]:
    p = SimulatedPrinter(tmp_path / "out", render_png=False)
    yield p
    p.close()


@pytest.fixture
def lane(disk: SmallDisk, printer: SimulatedPrinter) -> Iterator[PowerLane]:
    lane = PowerLane(disk.root / "data", printer=printer)
    yield lane
    disk.free()  # so that closing can checkpoint
    lane.close()


def rows(lane: PowerLane, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(lane.path) as reader:
        return reader.execute(sql).fetchall()


def open_lines(lane: PowerLane) -> int:
    return int(rows(lane, "select count(*) from openline")[0][0])


def said(lane: PowerLane, msg: Msg) -> None:
    """The cashier's screen shows ``msg``."""
    message = lane.lane.state.message
    assert message is not None and message.id is msg, message
    shown = lane.screen.getvalue().splitlines()
    assert any(message.render("zh") in line or message.render("en") in line for line in shown)


def test_a_full_disk_refuses_the_scan_and_the_cash_then_sells_once_when_space_returns(
    disk: SmallDisk, lane: PowerLane, printer: SimulatedPrinter
) -> None:
    lane.sign_on()
    lane.scan(COLA)
    before = lane.lane.state.sale
    assert before is not None and open_lines(lane) == 1
    assert disk.fill() > 0

    lane.scan(WATER)  # the line cannot be recorded: not on the sale either
    said(lane, Msg.SAVE_FAILED)
    assert lane.lane.state.sale == before and open_lines(lane) == 1

    lane.keys("CASH")  # the sale cannot be committed: no drawer, no receipt
    said(lane, Msg.SAVE_FAILED)
    assert lane.lane.state.sale == before
    assert lane.sim_drawer.kicks == 0 and lane.committed() == 0
    assert rows(lane, "select count(*) from printjob") == [(0,)]

    disk.free()
    lane.keys("CLEAR", "CASH")  # the same sale, the same key: now it is done
    said(lane, Msg.CHANGE)
    assert lane.lane.state.sale is None
    assert lane.sim_drawer.kicks == 1
    assert "可口可乐 330ml" in printer.wait_for_receipt(1, timeout=10)
    assert rows(lane, 'select sale_id, total from "transaction"') == [(before.id, 350)]
    assert rows(lane, "select count(*) from outboxmessage where topic like '%/sales'") == [(1,)]
    lane.keys("CASH")  # again: there is no sale to pay
    assert lane.committed() == 1 and lane.sim_drawer.kicks == 1
    assert verify_file(lane.path).ok


def test_a_full_disk_refuses_the_card_before_the_terminal_is_asked(
    disk: SmallDisk, lane: PowerLane
) -> None:
    lane.sign_on()
    lane.scan(COLA)
    disk.fill()
    lane.keys("CARD")  # the payment log cannot take the request: nobody is charged
    said(lane, Msg.SAVE_FAILED)
    assert lane.terminal.requests == [] and lane.lane.state.payment is None
    disk.free()
    lane.keys("CLEAR", "CARD")
    lane.terminal_answer()
    said(lane, Msg.CHANGE)
    assert len(lane.terminal.requests) == 1 and lane.committed() == 1


def test_a_card_approved_as_the_disk_fills_is_held_then_saved_once(
    disk: SmallDisk, lane: PowerLane, printer: SimulatedPrinter
) -> None:
    lane.sign_on()
    lane.scan(COLA)
    lane.keys("CARD")  # logged and asked; the answer waits in the lane's queue
    disk.fill()
    lane.terminal_answer()
    said(lane, Msg.PAYMENT_UNSAVED)  # paid but not saved: do NOT charge again
    for key in ("CLEAR", "CARD", "CASH"):
        lane.keys(key)
        said(lane, Msg.PAYMENT_UNSAVED)
    lane.lane.step(Tick())
    assert lane.committed() == 0 and lane.sim_drawer.kicks == 0
    disk.free()
    lane.lane.step(Tick())
    said(lane, Msg.CHANGE)
    assert lane.committed() == 1 and len(lane.terminal.requests) == 1
    assert rows(lane, "select type, amount from transactiontender") == [("card", 350)]
    assert "可口可乐 330ml" in printer.wait_for_receipt(1, timeout=10)


def test_the_running_daemon_rides_out_a_full_disk(
    disk: SmallDisk, printer: SimulatedPrinter
) -> None:
    """The whole lane running (its loop thread with idle ticks and housekeeping, the
    receipt spooler, the sync thread offline): a full disk refuses, never stops it."""
    data = disk.root / "data"
    PowerLane(data).close()  # the catalog and the cashiers
    pins = MockFactory()
    config = config_mod.parse(
        {
            "lane": {"store": "S1", "lane": "1", "data_dir": str(data)},
            "scale": {"enabled": False},
            "printer": {"port": printer.port},
            "mqtt": {"url": "mqtt://127.0.0.1:1"},  # nothing listens: the lane sells offline
        }
    )
    drawer = SimulatedDrawer(pins, config.drawer)
    screen = io.StringIO()
    app = LaneApp(
        config,
        hardware=Hardware(pin_factory=pins, display=TextDisplay(screen, setup=LaneSetup())),
    )
    stop = threading.Event()
    loop = threading.Thread(target=app.run, args=(stop,), name="lane loop")

    def keys(*names: str) -> None:
        for name in names:
            app.inbox.post(KeyPressed(name))
        wait_until(app.inbox.idle, timeout=10)

    def message() -> Msg | None:
        shown = app.loop.state.message
        return None if shown is None else shown.id

    try:
        app.start()
        loop.start()
        keys("1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER")
        app.inbox.post(Scanned(COLA))
        keys()
        disk.fill()
        app.inbox.post(Scanned(WATER))
        keys("CASH")
        assert message() is Msg.SAVE_FAILED
        app._next_housekeeping = 0.0  # housekeeping's prune on the full disk, at the next tick
        ticks = app.loop.counts["event"]
        wait_until(lambda: app.loop.counts["event"] >= ticks + 3, timeout=10)
        assert loop.is_alive() and drawer.kicks == 0 and printer.receipts == []
        assert app.loop.state.sale is not None and len(app.loop.state.sale.lines) == 1
        disk.free()
        keys("CLEAR", "CASH")
        assert message() is Msg.CHANGE and drawer.kicks == 1
        assert "可口可乐 330ml" in printer.wait_for_receipt(1, timeout=10)
    finally:
        disk.free()
        stop.set()
        loop.join(timeout=10)
        app.close()
    assert not loop.is_alive()
    with sqlite3.connect(data / "lane.db") as reader:
        assert reader.execute('select count(*) from "transaction"').fetchone() == (1,)


# --- a read-only store -------------------------------------------------------------------


@pytest.fixture
def read_only(disk: SmallDisk, tmp_path: Path) -> Iterator[Path]:
    """A lane's data directory, with a sale open, on a file system remounted read-only;
    yields its config file."""
    data = disk.root / "data"
    lane = PowerLane(data)
    lane.sign_on()
    lane.scan(COLA)
    lane.close()
    disk.remount("ro")
    config = tmp_path / "lane.toml"
    config.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\n'
        "[scale]\nenabled = false\n[printer]\nenabled = false\n"
    )
    yield config
    disk.remount("rw")


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firmware_app.app.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


READ_ONLY = "read-only file system"
CHECKOUT = Path(__file__).resolve().parents[2]


def test_a_read_only_store_is_named_at_start_up(read_only: Path, disk: SmallDisk) -> None:
    with pytest.raises(StoreError, match=READ_ONLY):
        LaneApp(lane_config(disk.root / "data"))
    ran = cli(read_only, "run")
    assert ran.returncode == 78, ran.stderr  # a config it cannot run with: no restart loop
    assert READ_ONLY in ran.stderr and "Traceback" not in ran.stderr + ran.stdout


def test_config_check_and_the_doctor_name_a_read_only_store(
    read_only: Path, disk: SmallDisk
) -> None:
    checked = cli(read_only, "config", "check")
    assert checked.returncode == 1 and READ_ONLY in checked.stderr, checked.stderr
    data = disk.root / "data"
    found = check_disk(str(data), disk_usage=shutil.disk_usage)
    assert found.ok is False and READ_ONLY in found.detail, found
    lane_db = check_database("lane db", data / "lane.db")
    assert lane_db.ok is False and READ_ONLY in lane_db.detail, lane_db


def test_a_lane_started_on_a_full_disk_says_the_disk_is_full(
    disk: SmallDisk, tmp_path: Path
) -> None:
    """SQLite cannot even make the WAL's index file, and said only "disk I/O error"."""
    data = disk.root / "data"
    lane = PowerLane(data)
    lane.sign_on()
    lane.scan(COLA)
    lane.close()
    disk.fill()
    with pytest.raises(StoreError, match="the disk is full"):
        LaneApp(lane_config(data))
    config = tmp_path / "lane.toml"
    config.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\n'
        "[scale]\nenabled = false\n[printer]\nenabled = false\n"
    )
    ran = cli(config, "run")
    assert ran.returncode == 1, ran.stderr  # systemd starts it again: it sells once space returns
    assert re.search("the disk is full|no space left on device", ran.stderr), ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    disk.free()
    lane = PowerLane(data, seed_data=False)  # space is back: the open sale with it
    try:
        assert lane.lane.state.sale is not None and len(lane.lane.state.sale.lines) == 1
    finally:
        lane.close()


# --- a lane.db the lane may not write ------------------------------------------------------


def without_file_rights(*command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as root without ``CAP_DAC_OVERRIDE``: file modes hold for it as for the
    lane's own user (what a ``lane.db`` copied in by root, mode 0444 or root's, is)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv (util-linux)")
    drop = ["--inh-caps=-dac_override", "--bounding-set=-dac_override"]
    return subprocess.run(
        [setpriv, *drop, *command], capture_output=True, text=True, timeout=60, cwd=CHECKOUT
    )


START = """
import sys
import threading
from gpiozero.pins.mock import MockFactory

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.errors import StoreError
from tests.soak.power_lane import lane_config
try:
    LaneApp(lane_config(sys.argv[1])).close()
except StoreError as e:
    print(e)
    sys.exit(3)
"""


def test_a_lane_db_the_lane_may_not_write_is_named_at_start_up(tmp_path: Path) -> None:
    """SQLite opens such a file read-only without a word: the lane used to start, and
    then refused every key with "Cannot save"."""
    data = tmp_path / "data"
    lane = PowerLane(data)
    lane.sign_on()
    lane.close()
    (data / "lane.db").chmod(0o444)
    started = without_file_rights(sys.executable, "-c", START, str(data))
    assert started.returncode == 3, started.stdout + started.stderr
    assert f"{data / 'lane.db'}: cannot write" in started.stdout, started.stdout
    config = tmp_path / "lane.toml"
    config.write_text(
        f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\n'
        "[scale]\nenabled = false\n[printer]\nenabled = false\n"
    )
    checked = without_file_rights(
        sys.executable, "-m", "firmware_app.app.cli", "--config", str(config), "config", "check"
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"{data / 'lane.db'}: not writable by root" in checked.stderr, checked.stderr
    ran = without_file_rights(
        sys.executable, "-m", "firmware_app.app.cli", "--config", str(config), "run"
    )
    assert ran.returncode == 78, ran.stdout + ran.stderr  # said once, not restarted
    assert f"{data / 'lane.db'}: not writable by root" in ran.stderr, ran.stderr
