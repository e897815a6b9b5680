"""Power cuts at the SQLite level, while the lane sells.

A cashier keys whole customer visits into the real lane (cash and card sales,
suspend and resume, returns by receipt, paid-in and paid-out) on a real ``lane.db``.
Around every write the lane makes, the soak takes what a power cut could leave on
the disk (see ``power_images``): the files as they were at that instant, the files
at an instant inside a write transaction, the last transaction's WAL frames torn
(truncated, stale, zeroed, a sector lost), and the database file half-written by a
checkpoint. Each image is started as the lane starts (its composition root: open,
migrate, restore the session, the open and parked sales) and must pass SQLite's
integrity check, the journal's verification and the lane's own rules, and hold
exactly what the lane had been told was saved before the cut: a torn transaction is
gone whole, nothing told done is missing.

``POWER_LOSS_SEED`` picks another run of the same soak; ``POWER_LOSS_IMAGES`` how
many images it checks (default 200), ``POWER_LOSS_SECONDS`` within how long (45).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_app.lane.effects import CommitSale
from firmware_app.store import models
from firmware_app.store.journal import open_readonly, verify_connection
from tests.soak.power_images import (
    Files,
    Image,
    consistency_problems,
    logical_state,
    torn_checkpoint,
    torn_wal,
)
from tests.soak.power_lane import Cashier, PowerLane

SEED = int(os.environ.get("POWER_LOSS_SEED", "14"))
IMAGES = int(os.environ.get("POWER_LOSS_IMAGES", "200"))
TIME_LIMIT_S = float(os.environ.get("POWER_LOSS_SECONDS", "45"))  # then it stops (>= 100 images)
# Checkpoint far more often than the default (1000 pages), so that many cuts fall
# around one and the WAL is begun anew many times.
AUTOCHECKPOINT_PAGES = 16


def read_files(db: Path) -> Files:
    wal = Path(f"{db}-wal")
    return Files(db.read_bytes(), wal.read_bytes() if wal.exists() else b"")


class PowerCuts:
    """Wraps the lane's one writer (``SalesStore.apply``): after each write it returns
    it notes what the lane now holds (``states[k]``) and makes crash images; inside a
    write, SQLite's progress handler takes the files as they are mid-transaction."""

    def __init__(self, lane: PowerLane, check_dir: Path, rng: random.Random) -> None:
        self.lane = lane
        self.rng = rng
        self.check_dir = check_dir
        conn = lane.db.connection()
        self.states: list[dict[str, object]] = [logical_state(conn)]
        self.acked_sales: list[frozenset[str]] = [frozenset()]
        self.last = read_files(lane.path)
        self.pending: list[Image] = []
        # The lane loop takes any exception from its writer as a failed save: what a
        # check finds is kept here and raised by the test, never into the loop.
        self.failures: list[str] = []
        self.counts: Counter[str] = Counter()
        self.writing = False
        self.took_mid = False
        self._apply: Callable[..., None] = lane.sales.apply
        lane.sales.apply = self.apply  # type: ignore[method-assign]
        conn.set_progress_handler(self._mid_transaction, 50)

    def apply(self, effects: Any, *, at: Any = None) -> None:
        effects = list(effects)
        self.writing, self.took_mid = True, False
        try:
            self._apply(effects, at=at)
        finally:
            self.writing = False
        k = len(self.states)
        files = read_files(self.lane.path)
        self.states.append(logical_state(self.lane.db.connection()))
        sold = {e.record.sale_id for e in effects if isinstance(e, CommitSale)}
        self.acked_sales.append(self.acked_sales[-1] | sold)
        if self.rng.random() < 0.2:
            self.pending.append(Image("instant after a write", files, k))
        if self.rng.random() < 0.35:
            image = torn_wal(self.last, files, k, self.rng)
            if image is not None:
                self.pending.append(image)
        if self.rng.random() < 0.6:
            image = torn_checkpoint(self.last, files, k, self.rng)
            if image is not None:
                self.pending.append(image)
        self.last = files
        self.check_pending()

    def _mid_transaction(self) -> int:
        """Inside a write (SQLite calls this between VM steps): a cut here must lose
        that write whole. Reads files only; never touches SQLite."""
        if self.writing and not self.took_mid and self.rng.random() < 0.02:
            self.took_mid = True
            files = read_files(self.lane.path)
            self.pending.append(Image("inside a transaction", files, len(self.states) - 1))
        return 0

    def check_pending(self) -> None:
        pending, self.pending = self.pending, []
        for image in pending:
            try:
                self.check(image)
            except Exception as e:
                self.failures.append(f"{type(e).__name__}: {e}")

    def check(self, image: Image) -> None:
        """Start the lane on ``image`` and hold it to what it was told was saved."""
        db = self.check_dir / "lane.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.write_bytes(image.files.db)
        if image.files.wal:
            Path(f"{db}-wal").write_bytes(image.files.wal)
        where = f"{image.kind} at write {image.expect} (seed {SEED})"
        restarted = PowerLane(self.check_dir, seed_data=False)
        try:
            conn = restarted.db.connection()
            assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"], where
            assert consistency_problems(conn) == [], where
            reader = open_readonly(db)
            try:
                report = verify_connection(reader)
            finally:
                reader.close()
            assert report.ok, f"{where}: {report}"
            state = logical_state(conn)
            expected = self.states[image.expect]
            assert state == expected, f"{where}: {diff(state, expected)}"
            finished = {row[0] for row in state["transactions"]}  # type: ignore[attr-defined]
            assert self.acked_sales[image.expect] <= finished, where
            sale = restarted.lane.state.sale  # the open sale, restored
            open_ids = [row[0] for row in state["open"]]  # type: ignore[attr-defined]
            assert ([sale.id] if sale else []) == open_ids, where
            if image.kind.startswith("torn wal"):  # checked right after the write it tore
                kept = image.expect == len(self.states) - 1
                self.counts[f"torn wal: last write {'kept whole' if kept else 'rolled back'}"] += 1
            self.counts[image.kind.split(" (")[0]] += 1
        finally:
            restarted.close()
            self.lane.db.bind(models.LANE_MODELS)  # opening an image rebinds the plain models

    @property
    def checked(self) -> int:
        return sum(n for kind, n in self.counts.items() if not kind.startswith("torn wal:"))


def diff(state: dict[str, object], expected: dict[str, object]) -> str:
    return "; ".join(
        f"{key}: found {state[key]!r:.200}, expected {expected[key]!r:.200}"
        for key in expected
        if state[key] != expected[key]
    )


@pytest.fixture
def work_dir(tmp_path: Path) -> Iterator[Path]:
    """In memory when the machine has /dev/shm: the images model what a disk keeps, so
    the lane's own fsyncs buy nothing here but time."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="lane-power-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_every_power_cut_leaves_what_the_lane_was_told_was_saved(work_dir: Path) -> None:
    tmp_path = work_dir
    rng = random.Random(SEED)
    lane = PowerLane(tmp_path / "lane")
    check_dir = tmp_path / "restart"
    check_dir.mkdir()
    shutil.copy(tmp_path / "lane" / "catalog.db", check_dir / "catalog.db")
    try:
        # The images model synchronous=FULL (a commit returns after its WAL is synced):
        # the lane must run with it.
        assert lane.db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
        lane.db.execute_sql(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        lane.sign_on()
        cuts = PowerCuts(lane, check_dir, rng)
        cashier = Cashier(lane, rng)
        started = time.monotonic()
        visits = Counter(cashier.visit(kind) for kind in Cashier.KINDS)  # each kind once
        while (
            cuts.checked < IMAGES
            and not cuts.failures
            and time.monotonic() - started < TIME_LIMIT_S
        ):
            visits[cashier.visit()] += 1
        writes = len(cuts.states) - 1
        sales = len(cuts.acked_sales[-1])
    finally:
        lane.close()
    summary = (
        f"power loss (seed {SEED}): {cuts.checked} crash images checked over {writes} writes "
        f"and {sales} sales in {time.monotonic() - started:.1f} s; "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(cuts.counts.items()))
        + "; visits "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(visits.items()))
    )
    print(summary)
    assert not cuts.failures, cuts.failures[0]
    assert cuts.checked >= min(IMAGES, 100), summary
    for kind in ("instant after a write", "inside a transaction", "torn checkpoint"):
        assert cuts.counts[kind] > 0, summary
    assert cuts.counts["torn wal: last write rolled back"] > 0, summary
    final = cuts.states[-1]
    kinds = Counter(row[2] for row in final["transactions"])  # type: ignore[attr-defined]
    meta = dict(final["meta"])  # type: ignore[call-overload]
    assert kinds["sale"] and kinds["return"], kinds  # sold and took back
    assert int(str(meta["suspend.next_no"])) > 1, meta  # parked and resumed
    assert final["cash"][0][0] >= 2, final["cash"]  # type: ignore[index]  # paid in and out
    assert final["payments"], "no card payment"
