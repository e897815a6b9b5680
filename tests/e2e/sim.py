"""Running ``python -m hw_sim`` from end-to-end tests."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from firmware_app.sync.contract import validate

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = "mqtt://127.0.0.1:1"  # nothing listens there: the lane sells offline


def sim_command(tmp_path: Path, script: str, *extra: str, name: str = "script.txt") -> list[str]:
    """The command line running ``script`` with its data and output under ``tmp_path``."""
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    return [
        sys.executable, "-m", "hw_sim", "--script", str(path), "--out", str(tmp_path / "out"),
        "--data-dir", str(tmp_path / "data"), *extra,
    ]  # fmt: skip


def run_sim(tmp_path: Path, script: str, *extra: str, name: str = "script.txt"):
    """Run a script to its end; returns the completed process (stdout, stderr as text)."""
    return subprocess.run(
        sim_command(tmp_path, script, *extra, name=name),
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


class StoreServerProbe:
    """A minimal store server: keeps every uplink message and acks the highest seq seen
    without a gap, exactly as the contract asks."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.seen: set[int] = set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-store-server")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("pos/+/lanes/+/+", qos=1)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[1]
        if kind not in ("sales", "stock", "events"):
            return
        message = json.loads(msg.payload)
        with self.lock:
            self.messages.append((msg.topic, message))
            self.seen.add(message["seq"])
            upto = 0
            while upto + 1 in self.seen:
                upto += 1
        store, lane = message["store"], message["lane"]
        ack = {"schema": "store.ack/1", "at": message["at"], "upto": upto}
        client.publish(f"pos/{store}/lanes/{lane}/ack", json.dumps(ack), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


Received = list[tuple[str, dict[str, Any]]]  # (topic, message), as they arrived


def run_to_store(
    tmp_path: Path, script: str, url: str, *extra: str
) -> tuple[subprocess.CompletedProcess[str], Received]:
    """Run ``script`` on hw_sim against the broker at ``url`` while a
    ``StoreServerProbe`` takes the lane's stream; the run must end well with every
    message acknowledged. Returns the run and what arrived, each message checked
    against the contract."""
    probe = StoreServerProbe(url)
    try:
        result = run_sim(tmp_path, script, "--broker", url, *extra)
    finally:
        probe.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 unacknowledged" in result.stdout
    for _, message in probe.messages:
        validate(message)
    return result, probe.messages


def in_seq_order(received: Received) -> list[dict[str, Any]]:
    """Each seq's message once (a resend is the same message), in seq order."""
    by_seq = {message["seq"]: message for _, message in received}
    return [by_seq[seq] for seq in sorted(by_seq)]
