"""Benchmark: one recompute of a basket's prices (``lane.pricing.price_basket``).

A 60-line basket (pieces and weighed goods, some skus on several lines, members'
prices) under 200 active promotions of every type, many overlapping: each names a few
of the basket's skus and some a whole department, so most lines could take several.
Each run prices the basket with its lines in a fresh random order (the answer must
not change, and is checked); the table gives the time of one recompute.

Run with ``python -m bench.promotions`` (``--runs``, ``--lines``, ``--promotions``).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bench.scan_to_disk import percentile
from bench.table import print_table
from firmware_app.lane.catalog import Unit
from firmware_app.lane.money import amount_of
from firmware_app.lane.pricing import BasketLine, price_basket
from firmware_app.lane.promotions import Promotion, PromoType

TARGET_P99_MS = 5.0
NOW = datetime(2026, 12, 2, 18, 30, tzinfo=timezone(timedelta(hours=8)))
DEPARTMENTS = ["dairy", "bakery", "drinks", "snacks", "fruit", "household"]
MIX = [  # (type, how many of every 20)
    (PromoType.PERCENT_OFF, 4),
    (PromoType.AMOUNT_OFF, 3),
    (PromoType.FIXED_PRICE, 3),
    (PromoType.MULTI_BUY, 4),
    (PromoType.BUY_GET, 4),
    (PromoType.THRESHOLD, 2),
]


def basket(rng: random.Random, lines: int) -> list[BasketLine]:
    skus = [f"69{n:011d}" for n in range(lines * 2 // 3)]
    catalog = {}
    for sku in skus:
        weighed = rng.random() < 0.15
        price = rng.randrange(300, 5000) if weighed else rng.randrange(150, 3000)
        member = price - rng.randrange(10, price // 5) if rng.random() < 0.3 else None
        catalog[sku] = (rng.choice(DEPARTMENTS), Unit.KG if weighed else Unit.EACH, price, member)
    result = []
    for no in range(1, lines + 1):
        sku = rng.choice(skus)
        department, unit, price, member = catalog[sku]
        qty = rng.randrange(150, 2500) if unit is Unit.KG else rng.choice([1, 1, 1, 2, 3]) * 1000
        result.append(
            BasketLine(no, sku, department, unit, qty, price, member, amount_of(qty, price))
        )
    return result


def promotions(rng: random.Random, count: int, lines: list[BasketLine]) -> list[Promotion]:
    skus = sorted({line.sku for line in lines})
    kinds = [kind for kind, share in MIX for _ in range(share)]
    result = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        items = frozenset(rng.sample(skus, rng.randrange(2, 9)))
        departments = frozenset(rng.sample(DEPARTMENTS, 1)) if rng.random() < 0.2 else frozenset()
        fields: dict[str, object] = {"members_only": rng.random() < 0.1}
        if rng.random() < 0.2:
            fields["hours"] = (NOW.time().replace(hour=17), NOW.time().replace(hour=21))
        if kind is PromoType.PERCENT_OFF:
            fields["percent"] = Decimal(rng.choice(["5", "10", "15", "20", "12.5", "30"]))
        elif kind is PromoType.AMOUNT_OFF:
            fields["amount"] = rng.randrange(20, 300)
        elif kind is PromoType.FIXED_PRICE:
            fields["price"] = rng.randrange(100, 2500)
        elif kind is PromoType.MULTI_BUY:
            fields["qty"] = rng.choice([2, 3, 4])
            fields["price"] = rng.randrange(300, 6000)
        elif kind is PromoType.BUY_GET:
            fields["buy"], fields["get"] = rng.choice([(1, 1), (2, 1), (3, 1), (2, 2)])
            fields["percent"] = Decimal(rng.choice(["50", "100"]))
        else:
            fields["min"] = rng.choice([5000, 10000, 20000])
            fields["off"] = rng.choice([500, 1000, 2000])
            fields["repeat"] = rng.random() < 0.5
        result.append(
            Promotion(f"P{n:03d}", f"deal {n}", kind, items, departments, **fields)  # type: ignore[arg-type]
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--lines", type=int, default=60)
    parser.add_argument("--promotions", type=int, default=200)
    args = parser.parse_args()

    rng = random.Random(7)
    lines = basket(rng, args.lines)
    deals = promotions(rng, args.promotions, lines)
    first = price_basket(lines, member=True, now=NOW, promotions=deals)
    timings = []
    for _ in range(args.runs):
        shuffled = rng.sample(lines, len(lines))
        started = time.perf_counter()
        result = price_basket(shuffled, member=True, now=NOW, promotions=deals)
        timings.append((time.perf_counter() - started) * 1000)
        assert result == first, "the line order changed the prices"
    timings.sort()

    gross = sum(line.amount for line in lines)
    discount = sum(price.discount for price in first.values())
    used = Counter(share.id for price in first.values() for share in price.promotions)
    taking = sum(1 for price in first.values() if price.promotions)
    print(
        f"price_basket: {args.lines} lines, {args.promotions} promotions, member on the sale, "
        f"{args.runs:,} recomputes (lines shuffled each time)"
    )
    ok = "met" if percentile(timings, 99) < TARGET_P99_MS else "MISSED"
    print_table(
        ["measure", "value", "target"],
        [
            ["recompute, p50 (ms)", f"{percentile(timings, 50):.2f}", ""],
            [
                "recompute, p99 (ms)",
                f"{percentile(timings, 99):.2f}",
                f"< {TARGET_P99_MS:g} ({ok})",
            ],
            ["recompute, max (ms)", f"{timings[-1]:.2f}", ""],
            ["basket before promotions (fen)", f"{gross:,}", ""],
            ["discounts, member prices included (fen)", f"{discount:,}", ""],
            ["promotions given", str(len(used)), ""],
            ["lines with a promotion", str(taking), ""],
        ],
    )


if __name__ == "__main__":
    main()
