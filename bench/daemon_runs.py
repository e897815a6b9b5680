"""The daemon as a process: start → READY, idle CPU, and memory after sales.

``firmware-lane run`` is started under a stand-in for systemd's notify socket (as
``bench.daemon_memory`` does) with a catalog already imported and a cashier added,
devices off, a private mosquitto, the screen served or ``[ui] enabled = false``:

- start → READY: from ``Popen`` to the ``READY=1`` datagram. Its ceiling: a Python
  process that imports the daemon's modules and sends ``READY=1`` at once.
- idle CPU: the daemon's CPU seconds (utime + stime of /proc/PID/stat) over an idle
  window, with a page on the screen when it is served, and its threads' wake-ups
  (voluntary context switches). Its ceiling, over the same window: a bare Python
  process waking every 0.5 s, as the lane loop does.
- memory: VmRSS after READY (and a settle time), then, with the screen, after
  ``sales`` sales keyed on the cashier's page (``{"key": …}`` frames: three PLU lines
  and ``CASH``, each sale waited for by its receipt number), the pages it took closed
  but one. The page's keys are rate limited per page (``ui.server.KEYS_PER_S``), so
  the sales are spread over several pages, each kept under its limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import connect

from bench.daemon_memory import config_text, rss_mb, wait_ready
from bench.screen import free_port

PIN = "1234"
CASHIER = "1001"
SIGN_ON = [*CASHIER, "SIGNON", *PIN, "ENTER"]
SALE_KEYS = ["1", "PLU", "2", "PLU", "3", "PLU", "CASH"]  # three lines, paid exact in cash
PAGE_BURST = 30.0  # keys a page sends at once; under the server's burst of 40
PAGE_KEYS_PER_S = 15.0  # and sustained, under the server's 20 a second
SALE_TIMEOUT_S = 20.0
WAKE_S = 0.5  # the lane loop's wait per turn
READY_FLOOR = """\
import os, socket
import firmware_app.app.bootstrap, firmware_app.app.cli, firmware_app.sync.service
import firmware_app.drivers.scanner, firmware_app.drivers.keypad
{screen}
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
"""
IDLER = f"""\
import threading
stop = threading.Event()
while not stop.wait({WAKE_S}):
    pass
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (every thread), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after the command's name
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class KeyPage:
    """A cashier's page on ``/ws`` that keys and notes the newest screen's receipt
    number and cashier. It sends at most ``PAGE_BURST`` keys at once and
    ``PAGE_KEYS_PER_S`` sustained, so the server never closes it for its rate."""

    def __init__(self, port: int) -> None:
        self.ws = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10, max_size=2**24)
        self.receipt_no = 0
        self.cashier: str | None = None
        self.frames = 0
        self.cond = threading.Condition()
        self.tokens, self.refilled = PAGE_BURST, time.monotonic()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for text in self.ws:
                view = json.loads(text)["view"]
                with self.cond:
                    self.receipt_no, self.cashier = view["receipt_no"], view["cashier"]
                    self.frames += 1
                    self.cond.notify_all()
        except Exception:
            return

    def key(self, name: str) -> None:
        now = time.monotonic()
        self.tokens = min(PAGE_BURST, self.tokens + (now - self.refilled) * PAGE_KEYS_PER_S)
        self.refilled = now
        if self.tokens < 1:
            time.sleep((1 - self.tokens) / PAGE_KEYS_PER_S)
            self.tokens, self.refilled = 1.0, time.monotonic()
        self.tokens -= 1
        self.ws.send(json.dumps({"key": name}))

    def wait(self, done: str, test: object, timeout: float = SALE_TIMEOUT_S) -> None:
        with self.cond:
            if not self.cond.wait_for(test, timeout):  # type: ignore[arg-type]
                raise RuntimeError(f"the screen never showed {done}")

    def close(self) -> None:
        self.ws.close()


@dataclass(frozen=True)
class DaemonRun:
    """One daemon's run. Seconds, MB, and CPU as a share of one core (0–1)."""

    ready_s: float
    idle: Idle
    ready_mb: float
    sales: int = 0
    sales_s: float = 0.0
    after_sales_mb: float | None = None
    peak_mb: float | None = None


def add_cashier(config: Path) -> None:
    """Cashier ``CASHIER`` with ``PIN``, into the lane database ``config`` names."""
    command = [sys.executable, "-m", "firmware_app", "cashier", "add", CASHIER]
    subprocess.run(
        [*command, "--config", str(config)], input=PIN + "\n", text=True, check=True,
        capture_output=True,
    )  # fmt: skip


class Notify:
    """systemd's notify socket, at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "NOTIFY_SOCKET": str(self.path)}

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


def ready_floor(tmp: Path, *, ui: bool, rounds: int = 3) -> float:
    """Median seconds from ``Popen`` to ``READY=1`` of a process that only imports the
    daemon's modules (the screen's with ``ui``) and says READY."""
    code = READY_FLOOR.format(screen="import firmware_app.ui.server" if ui else "")
    times = []
    for n in range(rounds):
        notify = Notify(tmp / f"floor-{n}")
        try:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-c", code], env=notify.env, stderr=subprocess.PIPE
            )
            wait_ready(notify.sock, process)
            times.append(time.perf_counter() - started)
            process.wait(30)
        finally:
            notify.close()
    return statistics.median(times)


@contextmanager
def idler() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", IDLER])
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)


def wakeups(pid: int) -> int:
    """Voluntary context switches of every thread of ``pid`` so far: each is a thread
    that slept and was woken."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # a thread that ended meanwhile
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


@dataclass(frozen=True)
class Idle:
    """Over an idle window: shares of one core (0–1) of the daemon and of the bare
    idler, and the daemon's wake-ups a second (every thread)."""

    cpu: float
    floor_cpu: float
    wakeups_per_s: float


def idle_cpu(pid: int, floor_pid: int, seconds: float) -> Idle:
    """``pid`` and ``floor_pid`` over the same ``seconds``."""
    before, floor_before, woken = cpu_seconds(pid), cpu_seconds(floor_pid), wakeups(pid)
    started = time.monotonic()
    time.sleep(seconds)
    took = time.monotonic() - started
    return Idle(
        (cpu_seconds(pid) - before) / took,
        (cpu_seconds(floor_pid) - floor_before) / took,
        (wakeups(pid) - woken) / took,
    )


def sell(port: int, sales: int, pages: int) -> tuple[float, list[KeyPage]]:
    """Sign on and key ``sales`` sales, each on the next of ``pages`` pages, each waited
    for; returns the seconds it took and the pages (the first one stays open)."""
    keyers = [KeyPage(port) for _ in range(pages)]
    watch = keyers[0]
    watch.wait("a first frame", lambda: watch.frames > 0)
    for name in SIGN_ON:
        watch.key(name)
    watch.wait("the cashier signed on", lambda: watch.cashier == CASHIER)
    first = watch.receipt_no
    started = time.perf_counter()
    for n in range(sales):
        page = keyers[n % pages]
        for name in SALE_KEYS:
            page.key(name)
        watch.wait(f"receipt {first + n + 1}", lambda n=n: watch.receipt_no > first + n)
    return time.perf_counter() - started, keyers


def run_daemon(
    tmp: Path,
    import_dir: Path,
    broker: str,
    *,
    ui: bool,
    idle_s: float,
    settle_s: float,
    sales: int = 0,
    pages: int = 12,
) -> DaemonRun:
    """Start the daemon over a copy of ``import_dir`` (a data directory with a catalog
    and the cashier) and measure it."""
    name = "lane-ui" if ui else "lane-plain"
    data = tmp / name
    shutil.copytree(import_dir, data)
    port = free_port()
    config = tmp / f"{name}.toml"
    plain = config_text(data, broker).replace("\n[ui]\nenabled = false\n", "")
    ui_table = f'\n[ui]\nlisten = "127.0.0.1:{port}"\n' if ui else "\n[ui]\nenabled = false\n"
    config.write_text(plain + ui_table)
    config.chmod(0o600)
    notify = Notify(tmp / f"notify-{name}")
    command = [sys.executable, "-m", "firmware_app", "run", "--config", str(config)]
    log = (tmp / f"{name}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=notify.env, stdout=log, stderr=subprocess.STDOUT)
    keyers: list[KeyPage] = []
    try:
        wait_ready(notify.sock, process)
        ready_s = time.perf_counter() - started
        if ui:
            keyers = [KeyPage(port)]
            keyers[0].wait("a first frame", lambda: keyers[0].frames > 0)
        with idler() as floor:  # started now, so that its own start is over by the window
            time.sleep(settle_s)
            ready_mb = rss_mb(process.pid)
            idle = idle_cpu(process.pid, floor.pid, idle_s)
        run = DaemonRun(ready_s, idle, ready_mb)
        if ui and sales:
            keyers[0].close()
            took, keyers = sell(port, sales, pages)
            for page in keyers[1:]:
                page.close()
            keyers = keyers[:1]
            time.sleep(settle_s)
            run = DaemonRun(
                ready_s,
                idle,
                ready_mb,
                sales,
                took,
                rss_mb(process.pid),
                rss_mb(process.pid, "VmHWM"),
            )
        return run
    finally:
        for page in keyers:
            page.close()
        process.terminate()
        process.wait(30)
        log.close()
        notify.close()
