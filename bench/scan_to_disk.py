"""Benchmark: scan -> line durably stored, with a 100,000-item catalog.

Times the lane loop's path for one scan over 1,000 scans of random catalog items, in
sales of 20 lines paid in cash, with 200 promotions active (``--promotions``, 0 for
none): each item is in one of 50 departments, and the promotions, of every type, name
departments and items, so most lines qualify for several and the pricing engine prices
every scan's basket again. Two columns: the line durable (``LaneLoop.step`` from the
scan to the commit of the open-sale line with synchronous=FULL: the core's handle and
the SQL) and the loop's whole step (then the basket priced again and the display
refreshed). Prints a table; run with ``python -m bench.scan_to_disk``."""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from biip.checksums import gs1_standard_check_digit

from bench.table import print_table
from firmware_app.app.loop import Inbox, LaneLoop
from firmware_app.drivers.payment import SimulatedTerminal
from firmware_app.ids import uuid7
from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.lane.ports import Cashier, Ports, Role
from firmware_app.lane.promotions import Promotion, PromoType
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState, Mode
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import CatalogChange
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics


class NullDisplay:
    def show(self, state: LaneState) -> None:
        pass


def ean13(n: int) -> str:
    payload = f"69{n:010d}"
    return payload + str(gs1_standard_check_digit(payload))


DEPARTMENTS = 50


def build_promotions(count: int, size: int, rng: random.Random) -> tuple[Promotion, ...]:
    """``count`` promotions of every type over departments and items of the catalog."""
    kinds: list[dict[str, Any]] = [
        {"type": PromoType.PERCENT_OFF, "percent": Decimal("10")},
        {"type": PromoType.AMOUNT_OFF, "amount": 20},
        {"type": PromoType.FIXED_PRICE, "price": 150},
        {"type": PromoType.MULTI_BUY, "qty": 3, "price": 500},
        {"type": PromoType.BUY_GET, "buy": 1, "get": 1, "percent": Decimal("50")},
        {"type": PromoType.THRESHOLD, "min": 5000, "off": 500, "repeat": True},
    ]
    return tuple(
        Promotion(
            id=f"P{n:03d}",
            name=f"促销 {n}",
            departments=frozenset({f"d{rng.randrange(DEPARTMENTS)}" for _ in range(2)}),
            items=frozenset(f"{rng.randrange(size):07d}" for _ in range(20)),
            **kinds[n % len(kinds)],
        )
        for n in range(count)
    )


def build_catalog(catalog: StoreCatalog, size: int, promotions: int = 0) -> float:
    items = tuple(
        Item(
            f"{n:07d}",
            f"商品 {n}",
            Unit.EACH,
            100 + n % 5000,
            Decimal("13"),
            department=f"d{n % DEPARTMENTS}",
        )
        for n in range(size)
    )
    codes = tuple((f"0{ean13(n)}", f"{n:07d}") for n in range(size))
    offers = build_promotions(promotions, size, random.Random(11))
    started = time.perf_counter()
    catalog.apply(CatalogChange(1, None, items, codes, (), promotions=offers))
    return time.perf_counter() - started


class TimedSales(SalesStore):
    """The lane's store, noting when its last write was committed (``perf_counter``):
    a scan's line is durable then, before the loop prices the basket again."""

    saved = 0.0

    def apply(self, effects: Any, *, at: datetime | None = None) -> None:
        super().apply(effects, at=at)
        self.saved = time.perf_counter()


def bench_loop(db: Any, catalog: StoreCatalog) -> LaneLoop:
    """A lane loop over ``db`` and ``catalog`` with a cashier signed on and no devices;
    its ``sales`` is a ``TimedSales``."""
    return LaneLoop(
        inbox=Inbox(),
        setup=LaneSetup(),
        ports=Ports(catalog, Cashiers(db), uuid7),
        sales=TimedSales(db, messages=LaneUplink(Topics("pos", "S1", "1"))),
        display=NullDisplay(),
        printer=None,
        drawer=None,
        terminal=SimulatedTerminal(),
        clock=lambda: datetime.now().astimezone(),
        initial=LaneState(mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER)),
    )


def percentile(sorted_ms: list[float], p: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=1_000)
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument("--dir", help="database directory (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the bench lane has no drawer; don't say so 50 times

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(args.dir or tmp) / "lane.db")
        catalog = StoreCatalog(open_catalog(Path(args.dir or tmp) / "catalog.db"))
        import_s = build_catalog(catalog, args.items, args.promotions)
        lane = bench_loop(db, catalog)
        rng = random.Random(7)
        durable: list[float] = []  # scan -> its line committed
        steps: list[float] = []  # scan -> the loop's whole step (priced, shown)
        for i in range(args.scans):
            code = ean13(rng.randrange(args.items))
            started = time.perf_counter()
            lane.step(Scanned(code))
            steps.append((time.perf_counter() - started) * 1000)
            durable.append((lane.sales.saved - started) * 1000)
            assert lane.state.sale is not None and lane.state.sale.lines, lane.state.message
            if i % 20 == 19:
                lane.step(KeyPressed("CASH"))
        db.close()

    durable.sort()
    steps.sort()
    rows = [
        ("catalog items", f"{args.items:,}", ""),
        ("promotions active", f"{args.promotions:,}", ""),
        ("catalog import (s)", f"{import_s:.1f}", ""),
        ("scans", f"{args.scans:,}", ""),
        *(
            (f"p{p} (ms)", f"{percentile(durable, p):.2f}", f"{percentile(steps, p):.2f}")
            for p in (50, 90, 99)
        ),
        ("max (ms)", f"{durable[-1]:.2f}", f"{steps[-1]:.2f}"),
        ("mean (ms)", f"{statistics.fmean(durable):.2f}", f"{statistics.fmean(steps):.2f}"),
    ]
    print("scan -> line durably stored (synchronous=FULL); the loop's whole step")
    print_table(["measure", "line durable", "step: priced, shown"], rows)


if __name__ == "__main__":
    main()
