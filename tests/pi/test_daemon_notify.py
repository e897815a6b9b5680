"""The real daemon under a stand-in for systemd: READY=1 once it runs, WATCHDOG=1 from
its loop again and again while it idles, STOPPING=1 on SIGTERM, then a clean exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pi.notify_socket import NotifySocket
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (the broker is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "lane.toml"
    config.write_text(
        f"""
[lane]
store = "S001"
lane = "07"
data_dir = "{tmp_path / "data"}"
[scanner]
path = "{tmp_path / "no-scanner"}"
[keypad]
path = "{tmp_path / "no-keypad"}"
[scale]
enabled = false
[printer]
enabled = false
[drawer]
enabled = false
[mqtt]
url = "mqtt://127.0.0.1:{closed_port()}"
reconnect_min_s = 1
reconnect_max_s = 2
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_daemon_is_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, abstract: bool
) -> None:
    config = write_config(tmp_path)
    with NotifySocket(abstract=abstract) as systemd:
        # WatchdogSec=1s: the loop (0.5 s wait per turn) must ping every 0.5 s or so.
        env = {**os.environ, **systemd.env, "WATCHDOG_USEC": "1000000", "PYTHONUNBUFFERED": "1"}
        lane = subprocess.Popen(
            [sys.executable, "-m", "firmware_app", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until(lambda: systemd.with_key("READY"), "READY=1", 30)
            ready = systemd.with_key("READY")[0]
            assert ready["STATUS"] == "lane S001/07 running (version 0.1.0)"
            assert (tmp_path / "data" / "lane.db").exists()  # the database was open by then
            wait_until(lambda: len(systemd.with_key("WATCHDOG")) >= 4, "four pings", 30)
            assert lane.poll() is None
        finally:
            lane.send_signal(signal.SIGTERM)
            output, _ = lane.communicate(timeout=20)
        assert lane.returncode == 0, output
        keys = systemd.keys()
        # READY first, then pings; STOPPING once (a last ping may follow it, racing the signal).
        assert keys[0] == "READY"
        assert set(keys[1:]) == {"WATCHDOG", "STOPPING"}
        assert keys.count("STOPPING") == 1
        assert systemd.with_key("STOPPING")[0]["STATUS"] == "signal 15: shutting down"
