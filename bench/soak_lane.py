"""The soak's processes: the lane (``python -m hw_sim --script -``), the store server
(``python -m hw_sim.store_server``), and what the lane holds durably at a moment.

The lane reads its commands from stdin, one per line, and runs each to its end before
it reads the next. A line that is no command (``soak-mark-17``) is reported on stderr
and skipped, in order: seeing it reported tells the soak that every line before it has
been handled. The first such mark after a start is the lane being ready (its simulated
devices up, the open sale restored).

``durable(db)`` reads the lane's SQLite file read-only: the open sale and its lines,
the parked sales, the finished transactions, the outbox's seqs. It is read right after
the kill (SIGKILL), before the next start: exactly what the lane left on disk, a commit
whose WAL frames were written but whose index was not yet updated included (the reader
recovers the index as the next start will; a reading taken while the lane was merely
stopped would miss that commit).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from firmware_app.store.journal import open_readonly
from hw_sim.broker import ChildProcess

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "hw_sim" / "samples"
CATALOG = SAMPLES / "catalog-promotions.json"
MEMBERS = SAMPLES / "members.json"
STORE = "S001"
LANE = "01"
MARK = re.compile(r"^hw_sim: console:\d+: soak-mark-(\d+): ")
STOP_TIMEOUT_S = 20.0


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


# --- what the lane holds on disk ---------------------------------------------------------


@dataclass(frozen=True)
class Durable:
    """The lane's durable state at one moment.

    ``open``: sale_id -> its lines (no, sku, qty, unit_price, amount, voided);
    ``tenders``: sale_id -> the open sale's tenders (JSON text); ``parked``: suspend
    number -> (sale_id, the parked sale as JSON); ``committed``: sale_id -> its lines as
    finished; ``seqs``: the outbox's seqs.
    """

    open: dict[str, tuple[tuple, ...]] = field(default_factory=dict)
    tenders: dict[str, str] = field(default_factory=dict)
    parked: dict[int, tuple[str, str]] = field(default_factory=dict)
    committed: dict[str, tuple[tuple, ...]] = field(default_factory=dict)
    seqs: frozenset[int] = frozenset()
    zs: int = 0
    signed_on: bool = False


LINE_COLUMNS = "no, sku, qty, unit_price, amount, voided"


def durable(db_path: Path) -> Durable:
    """Read ``db_path`` read-only; raises ``sqlite3.Error`` when it cannot be read now."""
    with closing(open_readonly(db_path)) as db:
        db.execute("BEGIN")  # one read transaction: one moment
        open_lines: dict[str, list[tuple]] = {}
        tenders: dict[str, str] = {}
        for sale_id, text in db.execute("SELECT id, tenders FROM opensale"):
            open_lines[sale_id] = []
            tenders[sale_id] = text
        for sale_id, *line in db.execute(
            f"SELECT sale_id, {LINE_COLUMNS} FROM openline ORDER BY sale_id, no"
        ):
            open_lines.setdefault(sale_id, []).append(tuple(line))
        parked = {
            no: (sale_id, sale)
            for no, sale_id, sale in db.execute("SELECT no, sale_id, sale FROM parkedsale")
        }
        committed: dict[str, list[tuple]] = {
            sale_id: [] for (sale_id,) in db.execute('SELECT sale_id FROM "transaction"')
        }
        for sale_id, *line in db.execute(
            f"SELECT sale_id, {LINE_COLUMNS} FROM transactionline ORDER BY sale_id, no"
        ):
            committed.setdefault(sale_id, []).append(tuple(line))
        seqs = frozenset(s for (s,) in db.execute("SELECT seq FROM outboxmessage"))
        (zs,) = db.execute("SELECT count(*) FROM zreport").fetchone()
        session = db.execute("SELECT value FROM meta WHERE key = 'lane.session'").fetchone()
        db.execute("COMMIT")
    return Durable(
        open={k: tuple(v) for k, v in open_lines.items()},
        tenders=tenders,
        parked=parked,
        committed={k: tuple(v) for k, v in committed.items()},
        seqs=seqs,
        zs=int(zs),
        signed_on=bool(session and "cashier" in json.loads(session[0] or "{}")),
    )


def durable_retrying(db_path: Path, tries: int = 50) -> Durable:
    """``durable``, again after a moment while the file is busy (a checkpoint)."""
    for attempt in range(tries):
        try:
            return durable(db_path)
        except sqlite3.Error:
            if attempt == tries - 1:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")


def compare(before: Durable, after: Durable) -> list[str]:
    """What a kill lost or gained: empty when the restarted lane holds what the killed
    one had on disk (an open sale paid in full may have been finished at start-up)."""
    problems: list[str] = []
    for sale_id, lines in before.open.items():
        if sale_id in after.open:
            # Its lines, not their prices: a member's answer may price them again.
            if _kept(after.open[sale_id]) != _kept(lines):
                problems.append(
                    f"open sale {sale_id}: lines {lines} before the kill, "
                    f"{after.open[sale_id]} after"
                )
        elif sale_id in after.committed:
            if _kept(after.committed[sale_id]) != _kept(lines):
                problems.append(f"open sale {sale_id} finished at start-up with other lines")
        else:
            problems.append(f"open sale {sale_id} ({len(lines)} lines) lost")
    for sale_id in after.open.keys() - before.open.keys():
        problems.append(f"open sale {sale_id} appeared from nowhere")
    if after.parked != before.parked:
        lost = before.parked.keys() - after.parked.keys()
        gained = after.parked.keys() - before.parked.keys()
        changed = [n for n in before.parked.keys() & after.parked.keys()
                   if before.parked[n] != after.parked[n]]  # fmt: skip
        problems.append(f"parked sales: lost {sorted(lost)}, gained {sorted(gained)}, "
                        f"changed {sorted(changed)}")  # fmt: skip
    for sale_id in before.committed.keys() - after.committed.keys():
        problems.append(f"committed transaction {sale_id} lost")
    for sale_id in before.committed.keys() & after.committed.keys():
        if before.committed[sale_id] != after.committed[sale_id]:
            problems.append(f"committed transaction {sale_id} changed")
    if not before.seqs <= after.seqs:
        problems.append(f"outbox seqs lost: {sorted(before.seqs - after.seqs)[:10]}")
    return problems


def _kept(lines: tuple[tuple, ...]) -> tuple[tuple, ...]:
    """Line number, sku, quantity and voided: what a finished sale must keep of its lines."""
    return tuple((no, sku, qty, voided) for no, sku, qty, _, _, voided in lines)


# --- the lane ------------------------------------------------------------------------------


class LaneProcess:
    """``python -m hw_sim --script -`` on one data directory; one instance per start.

    stdout (the screen, the receipts) goes to ``log``; stderr is read here for marks
    and also appended to ``log``'s ``.err`` twin.
    """

    def __init__(self, *, data_dir: Path, out: Path, broker_url: str, log: Path) -> None:
        self.data_dir = data_dir
        self.out = out
        self.args = [
            sys.executable, "-m", "hw_sim", "--script", "-", "--data-dir", str(data_dir),
            "--out", str(out), "--broker", broker_url, "--catalog", str(CATALOG),
            "--store", STORE, "--lane", LANE,
        ]  # fmt: skip
        self.log = log
        self.err_log = log.with_suffix(".err")
        self.process: subprocess.Popen[bytes] | None = None
        self._marks = threading.Condition()
        self._last_mark = -1
        self.started_at = 0.0
        self.errors: list[str] = []  # lines the lane reported as not done (timeouts)
        self.tracebacks = 0
        self._reader: threading.Thread | None = None

    def start(self) -> LaneProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=_env(), stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        self.started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read_stderr, args=(self.process,), daemon=True)
        self._reader.start()
        return self

    def _read_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        with self.err_log.open("ab") as err:
            for raw in process.stderr:
                err.write(raw)
                line = raw.decode("utf-8", "replace").rstrip("\n")
                found = MARK.match(line)
                if found:
                    with self._marks:
                        self._last_mark = max(self._last_mark, int(found.group(1)))
                        self._marks.notify_all()
                elif line.startswith("Traceback"):
                    self.tracebacks += 1
                elif line.startswith("hw_sim: console:"):
                    self.errors.append(line)
        with self._marks:
            self._marks.notify_all()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, lines: list[str]) -> bool:
        """Write the lines to the lane's console; False when the lane has gone."""
        if not self.running:
            return False
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write("".join(f"{line}\n" for line in lines).encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def wait_mark(self, mark: int, until: float) -> bool:
        """Wait until ``mark`` was reported, or ``until`` (monotonic) passed, or the lane
        went; True when it was reported."""
        with self._marks:
            while self._last_mark < mark:
                left = until - time.monotonic()
                if left <= 0 or not self.running:
                    return self._last_mark >= mark
                self._marks.wait(min(left, 0.2))
            return True

    def kill(self) -> None:
        """SIGKILL (a power cut: no chance to clean up), then reap."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        self._join(process)

    def finish(self, timeout: float = 120.0) -> int:
        """End of input: the lane finishes, waits for the store server's acks, exits."""
        assert self.process is not None and self.process.stdin is not None
        process, self.process = self.process, None
        with suppress(OSError):
            process.stdin.close()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self._join(process)
        return code

    def _join(self, process: subprocess.Popen[bytes]) -> None:
        if process.stdin is not None:
            with suppress(OSError):
                process.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout=10)


# --- the store server ----------------------------------------------------------------------


class StoreServerProcess(ChildProcess):
    """``python -m hw_sim.store_server --db FILE --members FILE --check-prices FILE``;
    stdout (every message received, duplicates too) and stderr appended to files."""

    stop_timeout_s = STOP_TIMEOUT_S

    def __init__(self, url: str, db: Path, folder: Path) -> None:
        self.args = [
            sys.executable, "-m", "hw_sim.store_server", "--broker", url, "--db", str(db),
            "--members", str(MEMBERS), "--check-prices", str(CATALOG),
        ]  # fmt: skip
        self.out = folder / "store-server.out"
        self.err = folder / "store-server.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while self._listening() < self.starts:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the store server did not start: see {self.err}")
            time.sleep(0.05)

    def _listening(self) -> int:
        try:
            return self.err.read_text(errors="replace").count("store server listening")
        except OSError:
            return 0
