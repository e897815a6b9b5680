"""Benchmark: a store's lanes selling at a steady pace, through one broker to one store server.

Twenty lanes, each a real lane database written as the lane loop writes it
(``SalesStore.apply`` of a ``CommitSale`` per sale, its own transaction,
``synchronous=FULL``: transaction rows, journal entry, and the sale and stock
outbox messages with their seqs; then ``wake()``) and its own ``SyncService``,
sell one sale every 0.5 to 1 s each (a busy Saturday) for 30 s; then the bench
waits until every lane's outbox is acknowledged. A private mosquitto with the
store broker's settings and the simulated store server (a process of its own:
it checks each message, commits it before its PUBACK and acknowledges) sit at
the other end.

The lanes are threads of one process. At this pace they need a small share of
one core in all (the table prints their CPU seconds), so the GIL costs them
little; more processes would only compete with mosquitto and the store server
for the same two cores, and a real lane has a Raspberry Pi to itself, so the
latencies here are, if anything, pessimistic.

Measured, per sale: commit → received by the store server (the end of the
lane's commit, recorded by the bench, to the ``received_at`` the store server
writes with the message; same clock) and commit → acknowledged (to the lane
outbox's ``acked_at`` of the sale's last row, in milliseconds). At the end the
store server's SQLite is checked: every (lane, seq) a lane committed is there
exactly once, with the lane's payload, nothing else is, and its stock levels
equal the sum of the stock deltas of every sale the lanes committed.

Run with ``python -m bench.lanes`` (``--lanes 3 --seconds 5`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.drain import CST, STALL_S, STORE, Child, broker, finished_sale, sales_store, serve_store
from bench.scan_to_disk import percentile
from firmware_app.config import MqttConfig
from firmware_app.lane.effects import CommitSale
from firmware_app.lane.money import format_qty
from firmware_app.store.db import models_of
from firmware_app.store.sales import SalesStore
from firmware_app.sync.service import SyncService

CONNECT_S = 20.0


@dataclass
class SimulatedLane:
    """One lane: its database, its sync service and what its cashier has sold.

    ``committed``: {sale_id: end of its commit (time.time())}; ``deltas``: the stock
    deltas of those sales, {sku: thousandths}.
    """

    lane_id: str
    sales: SalesStore
    service: SyncService
    committed: dict[str, float] = field(default_factory=dict)
    deltas: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def open(cls, data_dir: Path, lane_id: str, url: str) -> SimulatedLane:
        sales = sales_store(data_dir / f"lane-{lane_id}.db", lane=lane_id)
        service = SyncService(
            MqttConfig(url=url),
            store_id=STORE,
            lane_id=lane_id,
            outbox=sales.outbox,
            status=lambda: {"version": "bench", "catalog_version": 1, "devices": {}},
            on_downlink=lambda topic, payload: None,
        )
        return cls(lane_id, sales, service)

    def sell(self, start: float, until: float, gaps: tuple[float, float], seed: int) -> None:
        """Commit a sale every ``gaps`` seconds (uniformly drawn) from about ``start`` until
        ``until`` (time.monotonic()), as the lane loop does: commit, then wake the sync."""
        rng = random.Random(seed)
        due = start + rng.uniform(0, gaps[1])  # the lanes do not sell in step
        try:
            while due < until:
                time.sleep(max(0.0, due - time.monotonic()))
                record = finished_sale(
                    rng, receipt_no=len(self.committed) + 1, closed_at=datetime.now(CST)
                )
                self.sales.apply([CommitSale(record)])
                self.committed[record.sale_id] = time.time()
                self.service.wake()
                for delta in record.deltas:
                    self.deltas[delta.sku] += delta.qty
                due += rng.uniform(*gaps)
        finally:
            self.sales.db.close()  # this thread's connection

    def rows(self) -> list[dict[str, Any]]:
        """The outbox rows: seq, topic, payload (decoded), acked_at (time.time() or None)."""
        row = models_of(self.sales.db).OutboxMessage
        return [
            {
                "seq": r.seq,
                "topic": r.topic,
                "message": json.loads(bytes(r.payload)),
                "acked_at": _epoch(r.acked_at) if r.acked_at else None,
            }
            for r in row.select().order_by(row.seq)
        ]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def wait_connected(lanes: list[SimulatedLane]) -> None:
    deadline = time.monotonic() + CONNECT_S
    while not all(lane.service.connected for lane in lanes):
        if time.monotonic() > deadline:
            raise RuntimeError(f"lanes not connected within {CONNECT_S:.0f} s")
        time.sleep(0.05)


def wait_acked(lanes: list[SimulatedLane]) -> None:
    """Until no lane has a row the store server has not acknowledged."""
    last, progress = -1, time.monotonic()
    while True:
        pending = sum(lane.sales.outbox.stats().pending for lane in lanes)
        if pending == 0:
            return
        if pending != last:
            last, progress = pending, time.monotonic()
        elif time.monotonic() - progress > STALL_S:
            raise RuntimeError(f"no acknowledgement for {STALL_S:.0f} s: {pending} rows wait")
        time.sleep(0.05)


# --- after the run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """The store server's SQLite against what the lanes committed."""

    rows: int  # rows the lanes committed
    missing: int  # (lane, seq) committed, not stored
    extra: int  # (lane, seq) stored, never committed
    differing: int  # stored with other content than the lane's
    twice: int  # (lane, seq) stored more than once
    skus: int
    stock_differing: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.differing or self.twice)


def check_store(store_db: Path, lanes: list[SimulatedLane], rows: dict[str, list[dict]]) -> Check:
    db = sqlite3.connect(str(store_db))
    try:
        stored: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for lane, seq, body in db.execute(
            "SELECT lane, seq, body FROM message WHERE store = ?", (STORE,)
        ):
            stored[(lane, seq)].append(json.loads(body))
        levels = {
            sku: Decimal(qty)
            for sku, qty in db.execute("SELECT sku, qty FROM stock WHERE store = ?", (STORE,))
        }
    finally:
        db.close()
    committed = {
        (lane.lane_id, r["seq"]): r["message"] for lane in lanes for r in rows[lane.lane_id]
    }
    sold: dict[str, int] = defaultdict(int)
    for lane in lanes:
        for sku, qty in lane.deltas.items():
            sold[sku] += qty
    skus = sorted(set(sold) | set(levels))
    return Check(
        rows=len(committed),
        missing=sum(1 for key in committed if key not in stored),
        extra=sum(1 for key in stored if key not in committed),
        differing=sum(
            1 for key, got in stored.items() if key in committed and got[0] != committed[key]
        ),
        twice=sum(1 for got in stored.values() if len(got) > 1),
        skus=len(skus),
        stock_differing=[
            f"{sku}: store {levels.get(sku, 0)}, lanes {format_qty(sold.get(sku, 0))}"
            for sku in skus
            if levels.get(sku, Decimal(0)) != Decimal(format_qty(sold.get(sku, 0)))
        ],
    )


def latencies(
    lanes: list[SimulatedLane], rows: dict[str, list[dict]], store_db: Path
) -> tuple[list[float], list[float], float]:
    """Per sale, seconds from commit to received by the store server and to acknowledged
    (its last row's), sorted; and the time (time.time()) of the last acknowledgement."""
    db = sqlite3.connect(str(store_db))
    try:
        received = {
            (lane, seq): _epoch(at)
            for lane, seq, at in db.execute(
                "SELECT lane, seq, received_at FROM message WHERE store = ?", (STORE,)
            )
        }
    finally:
        db.close()
    to_store: list[float] = []
    to_ack: list[float] = []
    last_ack = 0.0
    for lane in lanes:
        by_sale: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows[lane.lane_id]:
            by_sale[r["message"]["sale_id"]].append(r)
        for sale_id, committed in lane.committed.items():
            sale_rows = by_sale[sale_id]
            stored = max(received[(lane.lane_id, r["seq"])] for r in sale_rows)
            acked = max(r["acked_at"] for r in sale_rows)
            to_store.append(stored - committed)
            to_ack.append(acked - committed)
            last_ack = max(last_ack, acked)
    return sorted(to_store), sorted(to_ack), last_ack


# --- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A run's outcome: the lanes, the store server's check, per-sale seconds from commit
    to received and to acked (sorted), the time (time.time()) selling started and of the
    last ack, the lanes' CPU seconds and the store server's result."""

    lanes: list[SimulatedLane]
    check: Check
    to_store: list[float]
    to_ack: list[float]
    started_at: float
    last_ack: float
    lanes_cpu_s: float
    server: dict[str, Any]

    @property
    def sales(self) -> int:
        return sum(len(lane.committed) for lane in self.lanes)


def measure(
    lane_count: int = 20, seconds: float = 30.0, min_gap: float = 0.5, max_gap: float = 1.0
) -> Measured:
    """``lane_count`` lanes selling a sale every ``min_gap``–``max_gap`` s each for
    ``seconds``, until every row is acknowledged; then the store server's check."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        store_db = tmp / "store.db"
        with broker(tmp / "broker") as mosquitto:
            with Child(serve_store, mosquitto.url, str(store_db)) as server:
                lanes = [
                    SimulatedLane.open(tmp, f"{n:02d}", mosquitto.url)
                    for n in range(1, lane_count + 1)
                ]
                try:
                    for lane in lanes:
                        lane.service.start()
                    wait_connected(lanes)
                    cpu, started_at = time.process_time(), time.time()
                    start = time.monotonic()
                    sellers = [
                        threading.Thread(
                            target=lane.sell,
                            args=(start, start + seconds, (min_gap, max_gap), n),
                            name=f"seller-{lane.lane_id}",
                        )
                        for n, lane in enumerate(lanes)
                    ]
                    for seller in sellers:
                        seller.start()
                    for seller in sellers:
                        seller.join()
                    wait_acked(lanes)
                    lanes_cpu_s = time.process_time() - cpu
                finally:
                    for lane in lanes:
                        lane.service.close()
            rows = {lane.lane_id: lane.rows() for lane in lanes}
            for lane in lanes:
                lane.sales.db.close()
        check = check_store(store_db, lanes, rows)
        to_store, to_ack, last_ack = latencies(lanes, rows, store_db)
    return Measured(
        lanes, check, to_store, to_ack, started_at, last_ack, lanes_cpu_s, server.result or {}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the lanes sell")
    parser.add_argument("--min-gap", type=float, default=0.5, help="least seconds between sales")
    parser.add_argument("--max-gap", type=float, default=1.0, help="most seconds between sales")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    m = measure(args.lanes, args.seconds, args.min_gap, args.max_gap)
    lanes, check, to_store, to_ack = m.lanes, m.check, m.to_store, m.to_ack
    started_at, last_ack, lanes_cpu_s, result = m.started_at, m.last_ack, m.lanes_cpu_s, m.server
    sales = m.sales
    last_commit = max(t for lane in lanes for t in lane.committed.values())
    print(
        f"{args.lanes} lanes (threads of one process), a sale every {args.min_gap:g}–"
        f"{args.max_gap:g} s each for {args.seconds:g} s, one store server, "
        f"{multiprocessing.cpu_count()} cores"
    )
    print("| measure                                     |     value |")
    print("|---------------------------------------------|-----------|")
    for name, value in (
        ("sales committed", f"{sales:,}"),
        ("outbox rows (sale + stock)", f"{check.rows:,}"),
        ("sales/s committed (while selling)", f"{sales / args.seconds:.1f}"),
        ("sales/s acked (start → last ack)", f"{sales / (last_ack - started_at):.1f}"),
        ("last ack after the last commit (s)", f"{last_ack - last_commit:.2f}"),
        ("CPU s, lanes' process (selling + drain)", f"{lanes_cpu_s:.1f}"),
        ("CPU s, store server", f"{result.get('cpu_s', float('nan')):.1f}"),
    ):
        print(f"| {name:<43} | {value:>9} |")
    print()
    print("| per sale (ms)                          |     p50 |     p99 |     max |")
    print("|----------------------------------------|---------|---------|---------|")
    for name, seconds in (
        ("commit → received by the store server", to_store),
        ("commit → acked in the lane's outbox", to_ack),
    ):
        ms = [s * 1000 for s in seconds]
        print(
            f"| {name:<38} | {percentile(ms, 50):>7.1f} | {percentile(ms, 99):>7.1f} "
            f"| {ms[-1]:>7.1f} |"
        )
    print()
    print(
        f"store server: {result.get('received', 0):,} messages received (duplicates "
        f"included), {result.get('rejected', 0)} rejected"
    )
    print(
        f"check: every (lane, seq) exactly once, as the lane sent it: {check.rows:,} rows, "
        f"{check.missing} missing, {check.extra} extra, {check.twice} twice, "
        f"{check.differing} differing: {'OK' if check.ok else 'FAILED'}"
    )
    print(
        f"check: stock levels = sum of the lanes' deltas over {check.skus} SKUs: "
        + ("OK" if not check.stock_differing else "FAILED: " + "; ".join(check.stock_differing))
    )


if __name__ == "__main__":
    main()
