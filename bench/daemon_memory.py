"""Benchmark: the running daemon's memory, and a 100,000-item snapshot applied inside it.

Starts a private mosquitto and ``firmware-lane run`` (devices off: memory and the
catalog path are what is measured), waits for systemd's READY=1 on a notify
socket, then publishes a 100,000-item ``store.catalog/1`` snapshot in parts as
the store server does. The daemon's resident memory is sampled every 20 ms
(``VmRSS``) and its peak read from ``VmHWM``. Beside it, the same document
through ``firmware-lane catalog import``, so the table shows whether the daemon
applies a snapshot as fast as the command line. Run with
``python -m bench.daemon_memory``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.lean_store import catalog_document
from bench.table import print_table
from firmware_app.sync.contract import encode
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import split_catalog

READY_TIMEOUT_S = 60.0
APPLY_TIMEOUT_S = 300.0


class Publisher:
    """The store server's side: the parts, encoded beforehand, published at QoS 1."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def publish_all(self, topic: str, payloads: list[bytes]) -> None:
        infos = [self.client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(60)
        self.client.disconnect()
        self.client.loop_stop()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


class Sampler:
    """Samples a process's VmRSS every ``period_s`` on a thread of its own."""

    def __init__(self, pid: int, period_s: float = 0.02) -> None:
        self.pid, self.period_s = pid, period_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.samples.append((time.monotonic(), rss_mb(self.pid)))
            except (OSError, RuntimeError):
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> list[float]:
        return [mb for t, mb in self.samples if start <= t <= end]


def config_text(data: Path, broker: str) -> str:
    return f"""\
[lane]
store = "S1"
lane = "01"
data_dir = "{data}"
log_level = "info"

[scanner]
path = "{data}/no-scanner"

[keypad]
path = "{data}/no-keypad"

[scale]
enabled = false

[printer]
enabled = false

[drawer]
enabled = false

[mqtt]
url = "{broker}"

[display]
device = "{data}/display.txt"

[ui]
enabled = false
"""


def wait_ready(sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}")
        try:
            if b"READY=1" in sock.recv(4096):
                return
        except TimeoutError:
            continue
    raise RuntimeError("no READY=1 from the daemon")


def catalog_version(data: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{data / 'catalog.db'}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'catalog.version'").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def cli_import(tmp: Path, document: Path) -> float:
    data = tmp / "import"
    config = tmp / "import.toml"
    config.write_text(f'[lane]\nstore = "S1"\nlane = "01"\ndata_dir = "{data}"\n')
    config.chmod(0o600)
    command = [sys.executable, "-m", "firmware_app", "catalog", "import", str(document)]
    started = time.perf_counter()
    subprocess.run([*command, "--config", str(config)], check=True, capture_output=True)
    return time.perf_counter() - started


def measure(items: int = 100_000, settle: float = 10.0) -> dict[str, float]:
    """The running daemon's RSS (MB) when READY, at its peak while an ``items``-item
    snapshot is applied and ``settle`` s after; the snapshot's time (first part
    published → applied) and the command line's import of the same file (s)."""
    with tempfile.TemporaryDirectory() as name, MosquittoBroker() as broker:
        tmp = Path(name)
        broker.start()
        document = tmp / "catalog.json"
        doc = catalog_document(items)
        doc["version"] = 2
        document.write_text(json.dumps(doc, ensure_ascii=False))
        del doc
        import_s = cli_import(tmp, document)

        data = tmp / "lane"
        data.mkdir()
        config = tmp / "lane.toml"
        config.write_text(config_text(data, broker.url))
        config.chmod(0o600)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = tmp / "notify"
        notify.bind(str(notify_path))
        notify.settimeout(0.2)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
        command = [sys.executable, "-m", "firmware_app", "run", "--config", str(config)]
        log = (tmp / "daemon.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(notify, process)
            sampler = Sampler(process.pid)
            time.sleep(3.0)
            ready_mb = rss_mb(process.pid)
            publisher = Publisher(broker.url)
            payloads = [encode(part) for part in split_catalog(json.loads(document.read_bytes()))]
            started = time.monotonic()
            publisher.publish_all("pos/S1/catalog", payloads)
            while catalog_version(data) != 2:
                if time.monotonic() - started > APPLY_TIMEOUT_S or process.poll() is not None:
                    raise RuntimeError("the daemon did not apply the snapshot")
                time.sleep(0.02)
            applied = time.monotonic()
            time.sleep(settle)
            steady_mb = rss_mb(process.pid)
            peak_mb = rss_mb(process.pid, "VmHWM")
            sampler.close()
        finally:
            process.terminate()
            process.wait(30)
            log.close()
            notify.close()
    return {
        "ready_mb": ready_mb,
        "peak_mb": peak_mb,
        "steady_mb": steady_mb,
        "apply_s": applied - started,
        "import_s": import_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before 'steady'")
    args = parser.parse_args()

    m = measure(args.items, args.settle)
    ready_mb, peak_mb, steady_mb = m["ready_mb"], m["peak_mb"], m["steady_mb"]
    apply_s, import_s = m["apply_s"], m["import_s"]

    print(f"daemon memory and a {args.items:,}-item snapshot over MQTT")
    print_table(
        ["measure", "value", "target"],
        [
            ["RSS when READY (MB)", f"{ready_mb:.1f}", ""],
            ["RSS peak while the snapshot is applied (MB)", f"{peak_mb:.1f}", "≤ 120"],
            [f"RSS {args.settle:g} s after it is applied (MB)", f"{steady_mb:.1f}", "≤ 80"],
            ["snapshot: first part published → applied (s)", f"{apply_s:.1f}", ""],
            ["catalog import of the same file, command line (s)", f"{import_s:.1f}", ""],
            ["daemon / command line", f"{apply_s / import_s:.2f}", "≈ 1"],
        ],
    )


if __name__ == "__main__":
    main()
