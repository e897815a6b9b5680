"""A lane killed mid-sale (SIGKILL: no chance to clean up) restarts into the same open sale;
a lane stopped with SIGTERM keeps its open sale and tells the broker it is offline."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import OFFLINE, ROOT, run_sim, sim_command
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

MID_SALE = """\
type 1001
key SIGNON
type 1234
key ENTER
scan 6954767410388
scale 0.532
type 1
key PLU
sleep 600
"""

FINISH = """\
key 2 0 CASH
wait idle
"""


def query(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # the lane has not created its tables yet
    finally:
        connection.close()


def test_sigkill_mid_sale_restarts_into_the_same_open_sale(tmp_path: Path) -> None:
    db = tmp_path / "data" / "lane.db"
    lane = subprocess.Popen(
        sim_command(tmp_path, MID_SALE, "--broker", OFFLINE, name="mid-sale.txt"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: db.exists() and len(query(db, "select * from openline")) == 2,
            "2 open lines",
            30,
        )
        open_sale = query(db, "select id from opensale")
    finally:
        lane.send_signal(signal.SIGKILL)
        lane.wait(timeout=10)
    assert lane.returncode == -signal.SIGKILL

    result = run_sim(tmp_path, FINISH, "--broker", OFFLINE, name="finish.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Open sale restored (2 lines)" in result.stdout
    rows = query(db, "select sale_id, total, change from 'transaction'")
    assert rows == [(open_sale[0][0], 700 + 681 - 350, 2000 - 1031)]
    lines = query(db, "select sku, qty, amount from transactionline order by no")
    assert lines == [("100234", 1000, 350), ("200001", 532, 681)]
    assert query(db, "select count(*) from opensale") == [(0,)]


def write_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "lane.toml"
    config.write_text(
        f"""
[lane]
store = "S001"
lane = "02"
data_dir = "{tmp_path / "data"}"
[scanner]
path = "{tmp_path / "no-scanner"}"
[keypad]
path = "{tmp_path / "no-keypad"}"
[scale]
enabled = false
[printer]
port = "{tmp_path / "no-printer"}"
[drawer]
enabled = false
[mqtt]
url = "{url}"
""",
        encoding="utf-8",
    )
    return config


def retained_status(url: str) -> dict:
    host, port = url.removeprefix("mqtt://").split(":")
    got: list[dict] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="status-reader")
    client.on_message = lambda c, u, m: got.append(json.loads(m.payload))
    client.on_connect = lambda c, u, f, r, p: c.subscribe("pos/S001/lanes/02/status", qos=1)
    client.connect(host, int(port))
    client.loop_start()
    try:
        wait_until(lambda: bool(got), timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[-1]


def test_sigterm_keeps_the_open_sale_and_goes_offline(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    config = write_config(tmp_path, mosquitto.url)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    lane = subprocess.Popen(
        [sys.executable, "-m", "firmware_app", "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: retained_status(mosquitto.url).get("state") == "online", "online", 30)
        status = retained_status(mosquitto.url)
        assert status["devices"]["scanner"] == "missing"  # the lane runs, and says what is wrong
    finally:
        lane.send_signal(signal.SIGTERM)
        output, _ = lane.communicate(timeout=20)
    assert lane.returncode == 0, output
    assert retained_status(mosquitto.url)["state"] == "offline"
