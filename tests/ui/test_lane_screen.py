"""The screen inside a whole lane (hw_sim's devices, the real lane loop and store):
touches are keypad keys, and a screen that cannot start never stops the selling."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from firmware_app.lane.devices import Device, StateWord
from hw_sim.lane_sim import SimLane, SimOptions
from hw_sim.script import parse_script
from tests.e2e.sim import run_sim


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[SimLane]:
    sim = SimLane(SimOptions(out=tmp_path / "out", echo=io.StringIO(), ui_port=free_port()))
    sim.start()
    yield sim
    sim.close()


def run(sim: SimLane, script: str) -> None:
    for command in parse_script(script):
        sim.run(command)


def newest(ws, until, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = json.loads(ws.recv(timeout=deadline - time.monotonic()))["view"]
        if until(view):
            return view
    raise AssertionError("the screen never showed it")


def test_touches_sell_like_the_keypad(lane: SimLane) -> None:
    port = lane.options.ui_port
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
        for key in ["1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER"]:
            ws.send(json.dumps({"key": key}))
        newest(ws, lambda v: v["cashier"] == "1001")
        run(lane, "scan 6954767410388")
        view = newest(ws, lambda v: len(v["lines"]) == 1)
        assert view["lines"][0]["amount"] == "3.50"
        for key in ("1", "0", "CASH"):
            ws.send(json.dumps({"key": key}))
        view = newest(ws, lambda v: v["totals"]["change"] is not None)
        assert view["totals"]["change"] == "6.50" and view["lines"] == []
    lane.wait_printed()
    assert len(lane.printer.receipts) == 1


def test_a_taken_port_leaves_the_lane_selling_and_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sim = SimLane(SimOptions(out=tmp_path / "out", echo=io.StringIO(), ui_port=port))
        try:
            sim.start()
            run(sim, "key 1 0 0 1 SIGNON 1 2 3 4 ENTER\nscan 6954767410388\ntype 5\nkey CASH")
            sim.wait_printed()
            assert len(sim.printer.receipts) == 1
            assert sim.app.screen is not None and not sim.app.screen.running()
            assert dict(sim.loop.state.devices)[Device.SCREEN] is StateWord.ERROR
            assert sim.app.status()["devices"]["screen"] == "error"
            screen_log = (tmp_path / "out" / "screen.log").read_text(encoding="utf-8")
            assert "screen: error" in screen_log
        finally:
            sim.close()


def test_hw_sim_prints_the_address_first_and_refuses_a_taken_port(tmp_path: Path) -> None:
    port = free_port()
    done = run_sim(tmp_path, "key 1 0 0 1 SIGNON 1 2 3 4 ENTER\n", "--ui", str(port))
    assert done.returncode == 0, done.stderr
    first = next(line for line in done.stdout.splitlines() if "screen" in line)  # before the lane's
    assert first.startswith(f"hw_sim: cashier's screen at http://127.0.0.1:{port}/")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = run_sim(tmp_path, "wait idle\n", "--ui", str(busy))
    assert refused.returncode == 2
    assert f"--ui {busy}: the screen could not start" in refused.stderr


def test_a_bad_ui_section_leaves_the_lane_selling_and_says_why(tmp_path: Path) -> None:
    sim = SimLane(
        SimOptions(
            out=tmp_path / "out",
            echo=io.StringIO(),
            overrides={"ui": {"listen": "0.0.0.0:8080"}},
        )
    )
    try:
        sim.start()
        run(sim, "key 1 0 0 1 SIGNON 1 2 3 4 ENTER\nscan 6954767410388\ntype 5\nkey CASH")
        sim.wait_printed()
        assert len(sim.printer.receipts) == 1
        assert sim.app.screen is None
        assert sim.app.status()["devices"]["screen"] == "error"
    finally:
        sim.close()
