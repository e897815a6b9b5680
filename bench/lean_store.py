"""Benchmark: the store path against its ceilings, measured in the same run.

Each row times a path of the lane and, beside it, the least that SQLite (or
``json.loads``) needs for the same work on the same machine, with the same
pragmas (WAL, ``synchronous=FULL``):

- scan: ``LaneLoop.step(Scanned)`` up to the open-sale line committed (the core's
  handle and the SQL; the loop then prices the basket again and shows it) against a
  bare ``sqlite3`` transaction inserting one row of the same width, each lane scan
  followed at once by one bare one (both meet the same disk);
- sale commit: ``LaneLoop.step(CASH)`` finishing a 20-line sale against one bare
  transaction writing the rows that commit wrote (the same tables, indexes and
  bytes: the journal entry, header, lines, tender, outbox rows and mark, the
  messages' marks for the day's reports, the open sale and its lines' adjustments
  deleted);
- catalog import: ``firmware-lane catalog import`` of a 100,000-item file
  against ``json.loads`` and ``executemany`` into the same tables (three rounds
  of each, in turn: the medians).

Run with ``python -m bench.lean_store``; ``bench.daemon_memory`` measures the
running daemon (snapshot over MQTT, memory).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scan_to_disk import bench_loop, ean13
from bench.table import print_table, ratio_row
from firmware_app.lane.events import KeyPressed, Scanned
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import PRAGMAS, open_catalog, open_database

LINES_PER_SALE = 20


def catalog_document(size: int) -> dict[str, object]:
    items = [
        {"sku": f"{n:07d}", "name": f"商品 {n}", "codes": [ean13(n)], "plu": None,
         "unit": "each", "price": 100 + n % 5000, "tax_rate": "13", "age_restricted": False,
         "active": True}
        for n in range(size)
    ]  # fmt: skip
    return {
        "schema": "store.catalog/1",
        "at": "2026-11-28T09:00:00+08:00",
        "version": 1,
        "base_version": None,
        "items": items,
        "removed": [],
        "promotions": [],
    }


def bare_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for name, value in PRAGMAS:
        conn.execute(f"PRAGMA {name} = {value}")
    return conn


# --- ceilings ----------------------------------------------------------------------------


class BareScans:
    """One committed single-row insert per scan, as wide as an open-sale line."""

    def __init__(self, path: Path) -> None:
        self.conn = bare_connection(path)
        self.conn.execute(
            "CREATE TABLE line (sale_id TEXT, no INTEGER, sku TEXT, code TEXT, name TEXT, "
            "unit TEXT, qty INTEGER, unit_price INTEGER, amount INTEGER, tax_rate TEXT, "
            "discount INTEGER, voided INTEGER, weight_text TEXT, PRIMARY KEY (sale_id, no))"
        )
        self.n = 0

    def one(self) -> float:
        i, self.n = self.n, self.n + 1
        started = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO line VALUES (?, ?, ?, ?, ?, 'each', 1000, ?, ?, '13', 0, 0, '')",
            (f"sale-{i // LINES_PER_SALE}", i, f"{i:07d}", ean13(i), f"商品 {i}", 350, 350),
        )
        self.conn.execute("COMMIT")
        return time.perf_counter() - started


def open_adjustments(lane_db: Path) -> list[tuple[Any, ...]]:
    """The open sale's line adjustments (promotions, discounts) as they are on disk."""
    conn = sqlite3.connect(lane_db)
    try:
        return conn.execute("SELECT * FROM openlineadjustment").fetchall()
    finally:
        conn.close()


def sale_template(
    lane_db: Path, adjustments: list[tuple[Any, ...]]
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the last sale the lane committed, table by table, and its open lines'
    ``adjustments`` (read before the commit deleted them): the bare ceiling writes
    exactly these (with fresh keys), so it pays for the same bytes and indexes."""
    conn = sqlite3.connect(lane_db)
    try:
        (sale_id,) = conn.execute(
            'SELECT sale_id FROM "transaction" ORDER BY receipt_no DESC LIMIT 1'
        ).fetchone()
        rows = {
            table: conn.execute(f'SELECT * FROM "{table}" WHERE sale_id = ?', (sale_id,)).fetchall()
            for table in ("transaction", "transactionline", "transactiontender", "journalentry")
        }
        rows["outboxmessage"] = conn.execute(
            "SELECT * FROM outboxmessage ORDER BY seq DESC LIMIT 2"
        ).fetchall()
        rows["uplinkmark"] = conn.execute(
            "SELECT * FROM uplinkmark ORDER BY seq DESC LIMIT 2"
        ).fetchall()
        rows["openline"] = [(sale_id, *r[1:]) for r in rows["transactionline"]]
        rows["openlineadjustment"] = adjustments
    finally:
        conn.close()
    return rows


class BareSaleCommits:
    """Per sale, one transaction writing the rows the lane's commit writes, into the same
    tables (the lane's schema, indexes and all): journal entry, header, lines, tender,
    two outbox rows, the outbox mark, the two messages' marks for the day's reports; the
    open sale's lines, their adjustments and its header deleted."""

    def __init__(self, path: Path, template: dict[str, list[tuple[Any, ...]]]) -> None:
        open_database(path).close()  # the lane's schema
        self.conn = bare_connection(path)
        self.template = template
        self.n = 0

    def one(self) -> float:
        conn, template = self.conn, self.template
        i, self.n = self.n, self.n + 1
        txn, lines = template["transaction"][0], template["transactionline"]
        tender, entry = template["transactiontender"][0], template["journalentry"][0]
        outbox = template["outboxmessage"]
        sale_id = f"bare-{i}"
        conn.execute("BEGIN IMMEDIATE")  # the open sale, as the scans left it (not timed)
        conn.execute(
            "INSERT INTO opensale (id, opened_at, cashier, member, rounding, tenders, "
            "age_checked, member_check) VALUES (?, ?, '1001', NULL, 0, '[]', '[]', '')",
            (sale_id, txn[3]),
        )
        marks = ",".join("?" * len(lines[0]))
        conn.executemany(
            f"INSERT INTO openline VALUES ({marks})", [(sale_id, *r[1:]) for r in lines]
        )
        conn.executemany(
            "INSERT INTO openlineadjustment VALUES (?, ?, ?)",
            [(sale_id, *r[1:]) for r in template["openlineadjustment"]],
        )
        conn.execute("COMMIT")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO journalentry (sale_id, prev_hash, hash, record) VALUES (?, ?, ?, ?)",
            (sale_id, entry[2], f"{i:064d}", entry[4]),
        )
        conn.execute(
            f'INSERT INTO "transaction" VALUES ({",".join("?" * len(txn))})',
            (sale_id, i + 1, *txn[2:]),
        )
        conn.executemany(
            f"INSERT INTO transactionline VALUES ({marks})", [(sale_id, *r[1:]) for r in lines]
        )
        conn.execute(
            f"INSERT INTO transactiontender VALUES ({','.join('?' * len(tender))})",
            (sale_id, *tender[1:]),
        )
        conn.executemany(
            "INSERT INTO outboxmessage VALUES (?, ?, ?, ?, ?)",
            [(2 * i + k, *row[1:]) for k, row in enumerate(outbox, 1)],
        )
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('outbox.next_seq', ?)", (2 * i + 3,)
        )
        conn.executemany(
            "INSERT INTO uplinkmark VALUES (?, ?, ?)",
            [(2 * i + k, *row[1:]) for k, row in enumerate(template["uplinkmark"], 1)],
        )
        conn.execute("DELETE FROM openline WHERE sale_id = ?", (sale_id,))
        conn.execute("DELETE FROM openlineadjustment WHERE sale_id = ?", (sale_id,))
        conn.execute("DELETE FROM opensale WHERE id = ?", (sale_id,))
        conn.execute("COMMIT")
        return time.perf_counter() - started


def bare_catalog_import(path: Path, document: Path) -> float:
    started = time.perf_counter()
    doc = json.loads(document.read_bytes())
    conn = bare_connection(path)
    conn.execute(
        "CREATE TABLE item (sku TEXT PRIMARY KEY, name TEXT, unit TEXT, price INTEGER, "
        "tax_rate TEXT, plu INTEGER, age_restricted INTEGER, active INTEGER)"
    )
    conn.execute("CREATE TABLE code (code TEXT PRIMARY KEY, sku TEXT)")
    conn.execute("CREATE INDEX code_sku ON code (sku)")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO item VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (i["sku"], i["name"], i["unit"], i["price"], i["tax_rate"], i["plu"],
             i["age_restricted"], i["active"])
            for i in doc["items"]
        ),
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO code VALUES (?, ?)", ((c, i["sku"]) for i in doc["items"] for c in i["codes"])
    )
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


# --- the lane -----------------------------------------------------------------------------


@dataclass
class LanePaths:
    """The lane's timings (s), each beside its ceiling's: ``scans`` from the scan to its
    line committed, ``steps`` the same scans' whole loop step (then the basket priced
    again and shown), ``commits`` a 20-line sale paid in cash; ``rows``: what one sale
    commit changes."""

    scans: list[float] = field(default_factory=list)
    bare_scans: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    bare_commits: list[float] = field(default_factory=list)
    rows: int = 0


def lane_paths(tmp: Path, catalog: StoreCatalog, items: int, sales: int) -> LanePaths:
    """Scan and sale-commit timings of the lane, each followed at once by its ceiling's
    (so both meet the same disk)."""
    db = open_database(tmp / "lane.db")
    lane = bench_loop(db, catalog)
    bare_scans = BareScans(tmp / "bare-scan.db")
    bare_sales: BareSaleCommits | None = None
    rng = random.Random(7)
    got = LanePaths()
    for _ in range(sales):
        for _ in range(LINES_PER_SALE):
            started = time.perf_counter()
            lane.step(Scanned(ean13(rng.randrange(items))))
            got.steps.append(time.perf_counter() - started)
            got.scans.append(lane.sales.saved - started)
            got.bare_scans.append(bare_scans.one())
        adjustments = open_adjustments(tmp / "lane.db") if bare_sales is None else []
        changes = db.connection().total_changes
        started = time.perf_counter()
        lane.step(KeyPressed("CASH"))
        got.commits.append(time.perf_counter() - started)
        got.rows = db.connection().total_changes - changes
        assert lane.state.sale is None, lane.state.message
        if bare_sales is None:  # the rows of the lane's first sale, from now on
            bare_sales = BareSaleCommits(
                tmp / "bare-sale.db", sale_template(tmp / "lane.db", adjustments)
            )
        got.bare_commits.append(bare_sales.one())
    db.close()
    return got


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def catalog_import(tmp: Path, document: Path, data: Path) -> float:
    from firmware_app.app.cli import main as cli

    config = tmp / "lane.toml"
    config.write_text(f'[lane]\nstore = "S1"\nlane = "01"\ndata_dir = "{data}"\n')
    config.chmod(0o600)
    return timed(lambda: cli(["catalog", "import", str(document), "--config", str(config)]))


def ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, statistics.fmean(ordered) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--sales", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        document = tmp / "catalog.json"
        document.write_text(json.dumps(catalog_document(args.items), ensure_ascii=False))
        # Three rounds each, in turn, into fresh files: the medians.
        imports, bare_imports = [], []
        for n in range(3):
            bare_imports.append(bare_catalog_import(tmp / f"bare-catalog-{n}.db", document))
            imports.append(catalog_import(tmp, document, tmp / f"imp-{n}"))
        import_s, bare_import_s = statistics.median(imports), statistics.median(bare_imports)
        catalog = StoreCatalog(open_catalog(tmp / "imp-0" / "catalog.db"))
        assert catalog.count() == args.items, "the import did not take"
        got = lane_paths(tmp, catalog, args.items, args.sales)

    scan_p50, scan_mean = ms(got.scans)
    bare_scan_p50, bare_scan_mean = ms(got.bare_scans)
    commit_p50, commit_mean = ms(got.commits)
    bare_commit_p50, bare_commit_mean = ms(got.bare_commits)
    rows = got.rows
    print(f"store path against its ceilings ({len(got.scans):,} scans, {len(got.commits)} sales)")
    print_table(
        ["path", "lane", "ceiling", "lane / ceiling", "target"],
        [
            ratio_row("scan, p50 (ms)", scan_p50, bare_scan_p50, "≤ 2"),
            ratio_row("scan, mean (ms)", scan_mean, bare_scan_mean, "≤ 2"),
            ratio_row(f"sale commit, {rows} rows, p50 (ms)", commit_p50, bare_commit_p50, "≤ 2"),
            ratio_row(f"sale commit, {rows} rows, mean (ms)", commit_mean, bare_commit_mean, "≤ 2"),
            ratio_row(
                f"catalog import, {args.items:,} items (s)", import_s, bare_import_s, "≤ 2.5"
            ),
        ],
    )


if __name__ == "__main__":
    main()
