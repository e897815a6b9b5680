"""Benchmark: scan latency while a 100,000-item catalog snapshot is applied.

The catalog has a database file of its own, so a snapshot never holds the write
lock the lane needs to save a scan; this measures what a cashier feels while a
snapshot (sent in parts, as from the store server) is parsed and applied on the
catalog thread. Run with ``python -m bench.scans_during_snapshot``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench.scan_to_disk import bench_loop, build_catalog, ean13, percentile
from firmware_app.app.catalog_updates import CatalogUpdates
from firmware_app.app.loop import LaneLoop
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import open_catalog, open_database


def snapshot_parts(size: int, parts: int) -> list[bytes]:
    items = [
        {"sku": f"{n:07d}", "name": f"商品 {n}", "codes": [ean13(n)], "plu": None,
         "unit": "each", "price": 200 + n % 5000, "tax_rate": "13", "age_restricted": False,
         "active": True}
        for n in range(size)
    ]  # fmt: skip
    per = -(-size // parts)
    return [
        json.dumps(
            {"schema": "store.catalog/1", "at": "2026-11-28T09:00:00+08:00", "version": 2,
             "base_version": None, "items": items[i * per : (i + 1) * per], "removed": [],
             "promotions": [], "part": i + 1, "parts": parts},
            ensure_ascii=False,
        ).encode()
        for i in range(parts)
    ]  # fmt: skip


def scan_latencies(
    lane: LaneLoop, items: int, seconds: float, stop: threading.Event
) -> list[float]:
    """Scan about 20 items a second (a fast cashier) until ``stop`` or ``seconds``."""
    rng = random.Random(3)
    timings: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        started = time.perf_counter()
        lane.step(Scanned(ean13(rng.randrange(items))))
        timings.append((time.perf_counter() - started) * 1000)
        if len(timings) % 20 == 0:
            lane.step(KeyPressed("CASH"))
        time.sleep(0.05)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "lane.db")
        catalog = StoreCatalog(open_catalog(Path(tmp) / "catalog.db"))
        build_catalog(catalog, args.items)
        lane = bench_loop(db, catalog)
        baseline = scan_latencies(lane, args.items, 3.0, threading.Event())
        payloads = snapshot_parts(args.items, args.parts)
        updates = CatalogUpdates(
            catalog, request_snapshot=lambda v: None, on_applied=lambda v: None,
            clock=lambda: datetime.now().astimezone(),
        )  # fmt: skip
        done = threading.Event()

        def apply() -> None:
            started = time.perf_counter()
            for payload in payloads:
                updates.handle("pos/S1/catalog", payload)
            timings["apply_s"] = time.perf_counter() - started
            done.set()

        timings: dict[str, float] = {}
        worker = threading.Thread(target=apply)
        worker.start()
        during = scan_latencies(lane, args.items, 120.0, done)
        worker.join()
        assert catalog.version() == 2

    rows = [("baseline", sorted(baseline)), ("during snapshot", sorted(during))]
    print(
        f"scan -> line stored, while a {args.items:,}-item snapshot in {args.parts} parts "
        f"is applied ({timings['apply_s']:.1f} s)"
    )
    print("| scans during    | count |  p50 ms |  p99 ms |  max ms |")
    print("|-----------------|-------|---------|---------|---------|")
    for name, ms in rows:
        print(
            f"| {name:<15} | {len(ms):>5} | {percentile(ms, 50):>7.2f} | "
            f"{percentile(ms, 99):>7.2f} | {ms[-1]:>7.2f} |"
        )


if __name__ == "__main__":
    main()
