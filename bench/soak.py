"""Soak: a lane killed at random moments, over and over, while a cashier works it.

``python -m bench.soak`` runs the simulated lane (``python -m hw_sim --script -``: the
lane's real code over simulated devices) against a private mosquitto and the simulated
store server (``python -m hw_sim.store_server --members … --check-prices …``, a process
of its own). A cashier (``bench.soak_sessions``) works through random sessions: baskets
of counted and weighed items with promotions and members, voids, declined cards, cash,
card and mobile, cancelled sales, returns by receipt, parked and resumed baskets,
paid-in and paid-out, no-sales, X reports, copies, and a Z near the end. Meanwhile the
chaos loop kills the lane with SIGKILL at a random moment of its life (now and then
while it is still starting) and starts it again on the same data directory; now and
then it also kills the broker or the store server and starts it again a lane later.

Right after each kill what the lane left on disk is read; once it is ready again (it
has handled its first console line) it must hold the same open sale with the same
lines, the same parked baskets and every transaction it had committed.

At the end, checked by code (``bench.soak_checks``), each check printed PASS or FAIL:
every transaction committed at the store server exactly once and byte-identical, seqs
gapless and all acknowledged, receipt numbers never reused, store stock = the lane's
deltas, every printed receipt of a committed transaction and none printed twice unless
marked, no basket lost or gained across a kill, the journal chain verifies
(``firmware-lane journal verify``), the Z equals ``firmware-lane report z`` and the sums
of the day's transactions, no lane crash, and the store server priced every sale the
same. Exit 1 when any fails.

    python -m bench.soak                     # 1,000 kills (about 45 min on 2 cores)
    python -m bench.soak --kills 300 --seed 7
    python -m bench.soak --short             # 20 kills, one broker and one store restart
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.soak_checks import (
    Check,
    check_exactly_once,
    check_journal,
    check_receipt_numbers,
    check_receipts,
    check_seqs,
    check_stock,
    check_store_server,
    check_z,
    cli_config,
    store_server_log,
    transactions_by_kind,
)
from bench.soak_lane import Durable, LaneProcess, StoreServerProcess, compare, durable_retrying
from bench.soak_sessions import Cashier
from hw_sim.broker import MosquittoBroker

READY_TIMEOUT_S = 90.0  # a start on a loaded machine; beyond it the lane did not come back
FINAL_TIMEOUT_S = 300.0
EARLY_KILL = 0.05  # the share of kills that land while the lane is still starting


@dataclass
class Settings:
    kills: int = 1000
    minutes: float = 55.0
    seed: int = 1
    life: tuple[float, float] = (0.2, 2.2)  # seconds of work between ready and the kill
    broker_every: int = 100  # kills between broker outages (0: none)
    store_every: int = 50
    outage_kills: int = 1  # an outage lasts this many lane lives
    folder: Path | None = None
    keep: bool = False


@dataclass
class Tally:
    kills: int = 0
    lane_starts: int = 0
    broker_restarts: int = 0
    store_restarts: int = 0
    sessions: Counter[str] = field(default_factory=Counter)
    interrupted: int = 0
    recoveries: list[float] = field(default_factory=list)
    kill_problems: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    not_done: int = 0  # console lines the lane reported as not done in time
    tracebacks: int = 0


class Soak:
    def __init__(self, settings: Settings, folder: Path) -> None:
        self.s = settings
        self.folder = folder
        self.data_dir = folder / "lane"
        self.runs = folder / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.db = self.data_dir / "lane.db"
        self.rng = random.Random(settings.seed)
        self.cashier = Cashier(self.rng, self.db)
        self.tally = Tally()
        self.broker = MosquittoBroker(data_dir=folder / "broker", persistence=True)
        self.store = StoreServerProcess(self.broker.url, folder / "store.db", folder)
        self._mark = 0
        self._before: Durable | None = None
        self._killed_at: float | None = None
        self._broker_back_at: int | None = None
        self._store_back_at: int | None = None
        self.started = time.monotonic()

    # --- the run -------------------------------------------------------------------

    def run(self) -> list[Check]:
        self.broker.start()
        self.store.start()
        try:
            while not self._enough():
                self._one_life()
                self._outages()
            self._final()
        finally:
            self.store.stop()
            self.broker.close()
        return self._checks()

    def _enough(self) -> bool:
        minutes = (time.monotonic() - self.started) / 60
        return self.tally.kills >= self.s.kills or minutes >= self.s.minutes

    def _next_mark(self) -> int:
        self._mark += 1
        return self._mark

    def _start_lane(self) -> LaneProcess:
        self.tally.lane_starts += 1
        n = self.tally.lane_starts
        lane = LaneProcess(
            data_dir=self.data_dir,
            out=self.runs / f"{n:04d}",
            broker_url=self.broker.url,
            log=self.folder / "lane.log",
        )
        return lane.start()

    def _ready(self, lane: LaneProcess, timeout: float = READY_TIMEOUT_S) -> bool:
        mark = self._next_mark()
        lane.send([f"soak-mark-{mark}"])
        if not lane.wait_mark(mark, time.monotonic() + timeout):
            why = "exited" if not lane.running else f"not ready within {timeout:.0f} s"
            self.tally.crashes.append(f"lane start {self.tally.lane_starts}: {why}")
            return False
        if self._killed_at is not None:
            self.tally.recoveries.append(time.monotonic() - self._killed_at)
            self._killed_at = None
        after = durable_retrying(self.db)
        if self._before is not None:
            for problem in compare(self._before, after):
                self.tally.kill_problems.append(f"kill {self.tally.kills}: {problem}")
        self._before = None
        return True

    def _one_life(self) -> None:
        lane = self._start_lane()
        early = self.tally.lane_starts > 1 and self.rng.random() < EARLY_KILL
        if early:
            time.sleep(self.rng.uniform(0.0, 1.0))
        elif self._ready(lane):
            self._work(lane, time.monotonic() + self.rng.uniform(*self.s.life))
        self._kill(lane)

    def _work(self, lane: LaneProcess, deadline: float) -> None:
        while True:
            state = durable_retrying(self.db)
            kind, lines = self.cashier.session(state, z_due=self._z_due())
            mark = self._next_mark()
            if not lane.send([*lines, f"soak-mark-{mark}"]):
                return
            if not lane.wait_mark(mark, deadline):
                self.tally.interrupted += 1
                return
            self.tally.sessions[kind] += 1
            if time.monotonic() >= deadline:
                return

    def _z_due(self) -> bool:
        return self.tally.kills >= 0.9 * self.s.kills or (
            time.monotonic() - self.started >= 0.9 * self.s.minutes * 60
        )

    def _kill(self, lane: LaneProcess) -> None:
        if not lane.running and lane.process is not None:
            code = lane.process.returncode
            self.tally.crashes.append(
                f"lane start {self.tally.lane_starts} exited by itself ({code})"
            )
        self._killed_at = time.monotonic()
        lane.kill()
        self.tally.kills += 1
        # After the kill: exactly what the lane left on disk for its next start (no
        # database yet: the lane died before making it).
        with contextlib.suppress(sqlite3.Error):
            self._before = durable_retrying(self.db)
        self._collect(lane)

    def _collect(self, lane: LaneProcess) -> None:
        self.tally.not_done += len(lane.errors)
        self.tally.tracebacks += lane.tracebacks

    def _outages(self) -> None:
        """Take the broker or the store server down at their turn; back a lane later."""
        k = self.tally.kills
        if self._broker_back_at == k:
            self.broker.start()
            self._broker_back_at = None
            self.tally.broker_restarts += 1
        if self._store_back_at == k:
            self.store.start()
            self._store_back_at = None
            self.tally.store_restarts += 1
        broker_turn = self.s.broker_every and k % self.s.broker_every == self.s.broker_every // 2
        if broker_turn and self._broker_back_at is None and self.broker.running:
            # A crash (nothing saved) or a clean stop (sessions saved), in turn at random.
            (self.broker.kill if self.rng.random() < 0.5 else self.broker.stop)()
            self._broker_back_at = k + self.s.outage_kills
        store_turn = self.s.store_every and k and k % self.s.store_every == 0
        if store_turn and self._store_back_at is None and self.store.running:
            self.store.kill()
            self._store_back_at = k + self.s.outage_kills

    def _final(self) -> None:
        """Everything back up; finish what is open, the Z if it has not happened, wait
        until the store server has every message, and stop the lane at the end of input."""
        if not self.broker.running:
            self.broker.start()
            self.tally.broker_restarts += 1
        if not self.store.running:
            self.store.start()
            self.tally.store_restarts += 1
        lane = self._start_lane()
        if not self._ready(lane):
            lane.kill()
            return
        deadline = time.monotonic() + FINAL_TIMEOUT_S
        lines: list[str] = []
        for _ in range(20):
            mark = self._next_mark()
            lane.send([*lines, "wait idle", f"soak-mark-{mark}"])
            if not lane.wait_mark(mark, deadline):
                break
            state = durable_retrying(self.db)
            if not state.open and state.zs:
                break
            kind, lines = self.cashier.session(state, z_due=True)
            self.tally.sessions[kind] += 1
        self._drained(lane, deadline)
        code = lane.finish()
        if code != 0:
            self.tally.crashes.append(f"the last lane exited {code} at the end of input")
        self._collect(lane)

    def _drained(self, lane: LaneProcess, deadline: float) -> None:
        while time.monotonic() < deadline and lane.running:
            if drained(self.data_dir, self.folder / "store.db"):
                return
            time.sleep(0.2)

    # --- the verdict ---------------------------------------------------------------

    def _checks(self) -> list[Check]:
        t = self.tally
        config = cli_config(self.folder, self.data_dir)
        receipts, _ = check_receipts(self.db, self.runs)
        return [
            Check(
                "kills",
                t.kills >= min(self.s.kills, 1) and not t.crashes,
                "; ".join(t.crashes[:5]) or f"{t.kills} kills, every start came back",
            ),
            Check(
                "no-crash",
                t.tracebacks == 0,
                f"{t.tracebacks} tracebacks in the lane's output"
                if t.tracebacks
                else "no traceback in the lane's output",
            ),
            Check(
                "baskets-across-kills",
                not t.kill_problems,
                "; ".join(t.kill_problems[:5])
                or f"{t.kills} kills: open and parked baskets and committed rows as on disk",
            ),
            check_exactly_once(self.db, self.folder / "store.db"),
            check_seqs(self.db, self.folder / "store.db"),
            check_receipt_numbers(self.db),
            check_stock(self.db, self.folder / "store.db"),
            receipts,
            check_journal(config),
            check_z(self.db, config),
            check_store_server(self.folder),
        ]

    def summary(self) -> list[str]:
        t = self.tally
        received, duplicates, _ = store_server_log(self.folder)
        minutes = (time.monotonic() - self.started) / 60
        longest = max(t.recoveries, default=0.0)
        mean = sum(t.recoveries) / len(t.recoveries) if t.recoveries else 0.0
        kinds = transactions_by_kind(self.db) if self.db.exists() else {}
        return [
            f"soak: {minutes:.1f} min, seed {self.s.seed}, data in {self.folder}",
            "transactions by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.items()),
            "sessions run: "
            + ", ".join(f"{k} {n}" for k, n in sorted(t.sessions.items()))
            + f"; {t.interrupted} cut by a kill",
            f"kills: {t.kills} (lane); restarts: lane {t.lane_starts - 1}, "
            f"broker {t.broker_restarts}, store server {t.store_restarts}",
            f"store server: {received} messages received, {duplicates} duplicates suppressed",
            f"recovery (kill -> lane ready): longest {longest:.2f} s, mean {mean:.2f} s",
            f"console lines the lane did not finish in time: {t.not_done}",
        ]


def drained(data_dir: Path, store_db: Path) -> bool:
    """Every outbox row acknowledged and the store's mark at the lane's last seq."""
    from bench.soak_checks import read_only

    try:
        with read_only(data_dir / "lane.db") as db:
            pending, last = db.execute(
                "SELECT total(acked_at IS NULL), max(seq) FROM outboxmessage"
            ).fetchone()
        with read_only(store_db) as db:
            mark = db.execute("SELECT acked_upto FROM lane").fetchone()
    except sqlite3.Error:
        return False
    return pending == 0 and last is not None and mark is not None and mark[0] == last


SHORT = Settings(kills=20, minutes=10.0, life=(0.3, 2.0), broker_every=20, store_every=14)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, help="lane kills (1000; --short: 20)")
    p.add_argument("--minutes", type=float, help="stop killing after this long (55)")
    p.add_argument("--seed", type=int, default=1, help="the cashier's and the chaos's seed (1)")
    p.add_argument("--short", action="store_true", help="20 kills, one broker and one store "
                   "server restart: a minute or two")  # fmt: skip
    p.add_argument("--dir", type=Path, help="keep everything here (default: a temporary folder, "
                   "kept when a check fails)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = replace(SHORT) if args.short else Settings()
    if args.kills is not None:
        settings.kills = args.kills
    if args.minutes is not None:
        settings.minutes = args.minutes
    settings.seed = args.seed
    folder = args.dir or Path(tempfile.mkdtemp(prefix="soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    soak = Soak(settings, folder)
    checks = soak.run()
    for line in soak.summary():
        print(line)
    for check in checks:
        print(check.line())
    failed = [c.name for c in checks if not c.ok]
    print(f"soak: {'FAIL: ' + ', '.join(failed) if failed else 'all checks PASS'}", flush=True)
    if not failed and args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
