"""The soak's verdict, by code: each check is named, passes or fails, and says why.

They read what each side recorded, from its own files, after the last lane has
stopped: the lane's SQLite file (``transaction``, its lines and tenders, the outbox,
the uplink marks, the cash movements, the Z), the store server's SQLite file, every
receipt the simulated printer wrote (``runs/NNNN/receipt-*.txt``), and the product's
own ``firmware-lane journal verify`` and ``report z``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.soak_lane import LANE, ROOT, STORE
from firmware_app.store.journal import open_readonly


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def read_only(path: Path) -> closing[sqlite3.Connection]:
    """``path`` read-only (``journal.open_readonly``), closed when its ``with`` ends."""
    return closing(open_readonly(path))


def canonical(payload: bytes | str) -> str:
    """A message as the store server stores it (sorted keys, no blanks)."""
    message = json.loads(payload)
    return json.dumps(message, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def cli_config(folder: Path, data_dir: Path) -> Path:
    """A lane config for ``firmware-lane journal verify`` and ``report z`` on the soak's
    lane database (same store, lane and time zone as hw_sim's lane; no devices)."""
    path = folder / "lane.toml"
    path.write_text(
        f'[lane]\nstore = "{STORE}"\nlane = "{LANE}"\ndata_dir = "{data_dir}"\n'
        f'[scanner]\npath = "{folder / "no-scanner"}"\n[keypad]\npath = "{folder / "no-keypad"}"\n'
        f'[scale]\nenabled = false\n[printer]\nport = "{folder / "no-printer"}"\n'
        "[drawer]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def firmware_lane(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firmware_app", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


# --- the books ---------------------------------------------------------------------------


def lane_outbox(db: sqlite3.Connection) -> list[tuple[int, str, bytes]]:
    return db.execute("SELECT seq, topic, payload FROM outboxmessage ORDER BY seq").fetchall()


def store_messages(store_db: Path) -> list[tuple[int, str, str]]:
    with read_only(store_db) as db:
        return db.execute(
            "SELECT seq, schema, body FROM message WHERE store = ? AND lane = ? ORDER BY seq",
            (STORE, LANE),
        ).fetchall()


def check_seqs(lane_db: Path, store_db: Path) -> Check:
    with read_only(lane_db) as db:
        seqs = [row[0] for row in lane_outbox(db)]
        pending = db.execute("SELECT count(*) FROM outboxmessage WHERE acked_at IS NULL")
        unacked = pending.fetchone()[0]
    with read_only(store_db) as db:
        mark = db.execute(
            "SELECT acked_upto FROM lane WHERE store = ? AND lane = ?", (STORE, LANE)
        ).fetchone()
    problems = []
    if seqs != list(range(1, len(seqs) + 1)):
        missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
        problems.append(f"the lane's seqs have gaps: {missing[:10]}")
    if unacked:
        problems.append(f"{unacked} outbox messages unacknowledged")
    if mark is None or mark[0] != len(seqs):
        problems.append(f"store ack mark {mark and mark[0]}, lane's last seq {len(seqs)}")
    return Check(
        "seq-gapless", not problems, "; ".join(problems) or f"seq 1..{len(seqs)}, all acknowledged"
    )


def check_exactly_once(lane_db: Path, store_db: Path) -> Check:
    """Every uplink message at the store once, byte for byte (as the store server writes
    JSON); every committed transaction in exactly one stored sale message."""
    with read_only(lane_db) as db:
        outbox = lane_outbox(db)
        sales = dict(db.execute('SELECT sale_id, journal_hash FROM "transaction"').fetchall())
    stored = store_messages(store_db)
    problems = []
    by_seq = {seq: body for seq, _, body in stored}
    if len(by_seq) != len(stored):
        problems.append("a seq stored twice")
    differ = [seq for seq, _, payload in outbox if by_seq.get(seq) != canonical(payload)]
    if differ:
        problems.append(f"{len(differ)} messages missing or different at the store: {differ[:10]}")
    extra = sorted(by_seq.keys() - {seq for seq, _, _ in outbox})
    if extra:
        problems.append(f"the store holds seqs the lane never sent: {extra[:10]}")
    at_store: Counter[str] = Counter()
    hashes: dict[str, str] = {}
    for _, schema, body in stored:
        if schema == "lane.sale/1":
            message = json.loads(body)
            if message.get("training"):
                continue
            at_store[message["sale_id"]] += 1
            hashes[message["sale_id"]] = message.get("journal_hash", "")
    twice = [s for s, n in at_store.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} sales stored under two seqs: {twice[:5]}")
    lost = sales.keys() - at_store.keys()
    if lost:
        problems.append(f"{len(lost)} committed transactions not at the store: {sorted(lost)[:5]}")
    unknown = at_store.keys() - sales.keys()
    if unknown:
        problems.append(f"{len(unknown)} sales at the store the lane has not committed")
    wrong = [s for s in sales.keys() & hashes.keys() if sales[s] != hashes[s]]
    if wrong:
        problems.append(f"{len(wrong)} sales with another journal hash at the store")
    detail = f"{len(outbox)} messages, {len(sales)} transactions, each stored once and identical"
    return Check("exactly-once", not problems, "; ".join(problems) or detail)


def check_receipt_numbers(lane_db: Path) -> Check:
    with read_only(lane_db) as db:
        numbers = [n for (n,) in db.execute('SELECT receipt_no FROM "transaction" ORDER BY 1')]
    dupes = [n for n, c in Counter(numbers).items() if c > 1]
    gaps = sorted(set(range(1, len(numbers) + 1)) - set(numbers))
    ok = not dupes and not gaps
    detail = f"receipts 1..{len(numbers)}, each once"
    return Check(
        "receipt-numbers-unique", ok, detail if ok else f"reused {dupes[:10]}, gaps {gaps[:10]}"
    )


def _lane_stock(db: sqlite3.Connection) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The stock the lane moved: from its stock messages, and from its transactions'
    lines (sold out, returned back in; voided lines and cancelled sales move nothing)."""
    from_messages: dict[str, Decimal] = defaultdict(Decimal)
    for _, _topic, payload in lane_outbox(db):
        message = json.loads(payload)
        if message.get("schema") == "lane.stock/1":
            for delta in message["deltas"]:
                from_messages[delta["sku"]] += Decimal(delta["qty"])
    from_lines: dict[str, Decimal] = defaultdict(Decimal)
    rows = db.execute(
        'SELECT l.sku, l.qty FROM transactionline l JOIN "transaction" t ON t.sale_id = l.sale_id '
        "WHERE NOT l.voided AND t.kind IN ('sale', 'return')"
    )
    for sku, qty in rows:  # qty: thousandths, negative on a return line
        from_lines[sku] -= Decimal(qty) / 1000
    return _nonzero(from_messages), _nonzero(from_lines)


def _nonzero(levels: dict[str, Decimal]) -> dict[str, Decimal]:
    return {sku: qty for sku, qty in levels.items() if qty != 0}


def check_stock(lane_db: Path, store_db: Path) -> Check:
    with read_only(lane_db) as db:
        from_messages, from_lines = _lane_stock(db)
    with read_only(store_db) as db:
        rows = db.execute("SELECT sku, qty FROM stock WHERE store = ?", (STORE,)).fetchall()
    at_store = _nonzero({sku: Decimal(qty) for sku, qty in rows})
    problems = []
    if at_store != from_messages:
        problems.append(f"store {at_store} != the lane's stock deltas {from_messages}")
    if from_lines != from_messages:
        problems.append(f"the lane's lines {from_lines} != its stock deltas {from_messages}")
    detail = f"{len(at_store)} SKUs, store levels = the lane's deltas"
    return Check("stock", not problems, "; ".join(problems) or detail)


# --- receipts ------------------------------------------------------------------------------

RECEIPT_NO = re.compile(r"小票号 Receipt: (\d+) ")
TOTAL = re.compile(r"^合计 TOTAL\s+(-?\d+\.\d\d)$", re.M)
SLIP = re.compile(r"SUSPENDED (\d+)")
Z_NO = re.compile(r"Z REPORT (\d+)")


@dataclass
class Paper:
    """What the printers printed over every run."""

    receipts: Counter[int]  # original receipts by number
    marked: Counter[int]  # copies and reprints by number
    slips: Counter[int]
    zs: Counter[int]
    torn: int  # files a kill cut short (the .bin not yet written)
    other: int
    problems: list[str]


def read_paper(runs: Path, totals: dict[int, int]) -> Paper:
    paper = Paper(Counter(), Counter(), Counter(), Counter(), 0, 0, [])
    for path in sorted(runs.glob("*/receipt-*.txt")):
        if not path.with_suffix(".bin").exists():
            paper.torn += 1
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        head = "\n".join(text.splitlines()[:2])
        marked = "COPY" in head or "REPRINT" in head
        where = f"{path.parent.name}/{path.name}"
        if found := RECEIPT_NO.search(text):
            number = int(found.group(1))
            (paper.marked if marked else paper.receipts)[number] += 1
            if number not in totals:
                paper.problems.append(f"{where}: receipt {number} of no committed transaction")
            elif (total := TOTAL.search(text)) and round(Decimal(total.group(1)) * 100) != totals[
                number
            ]:
                paper.problems.append(f"{where}: receipt {number} total {total.group(1)}, "
                                      f"the transaction's {totals[number]}")  # fmt: skip
        elif found := SLIP.search(head):
            if not marked:
                paper.slips[int(found.group(1))] += 1
        elif found := Z_NO.search(head):
            if not marked:
                paper.zs[int(found.group(1))] += 1
        else:
            paper.other += 1
    return paper


def check_receipts(lane_db: Path, runs: Path) -> tuple[Check, Paper]:
    with read_only(lane_db) as db:
        totals = dict(db.execute('SELECT receipt_no, total FROM "transaction"').fetchall())
        suspends = db.execute("SELECT count(*) FROM uplinkmark WHERE kind = 'suspend'").fetchone()[
            0
        ]
        zs = {n for (n,) in db.execute("SELECT z_no FROM zreport")}
        (owed,) = db.execute("SELECT count(*) FROM printjob").fetchone()
    paper = read_paper(runs, totals)
    problems = list(paper.problems)
    if owed:
        problems.append(f"{owed} receipts still owed (print queue) at the end")
    # A receipt cut a moment before a kill may not have reached its file: told, not failed.
    unprinted = len(totals.keys() - paper.receipts.keys() - paper.marked.keys())
    twice = [n for n, c in paper.receipts.items() if c > 1]
    if twice:
        problems.append(f"receipts printed twice unmarked: {twice[:10]}")
    slips = [n for n, c in paper.slips.items() if c > 1 or n > suspends]
    if slips:
        problems.append(f"suspend slips printed twice or of no parked sale: {slips[:10]}")
    bad_z = [n for n, c in paper.zs.items() if c > 1 or n not in zs]
    if bad_z:
        problems.append(f"Z reports printed twice unmarked or never closed: {bad_z}")
    detail = (
        f"{sum(paper.receipts.values())} receipts, {sum(paper.marked.values())} copies/reprints, "
        f"{sum(paper.slips.values())} slips, {sum(paper.zs.values())} Z; "
        f"{paper.torn} files cut short by a kill; {unprinted} transactions with no receipt "
        "on file; print queue empty"
    )
    return Check("receipts", not problems, "; ".join(problems) or detail), paper


# --- the journal and the Z -----------------------------------------------------------------


def check_journal(config: Path) -> Check:
    result = firmware_lane("journal", "verify", "--config", str(config))
    text = " ".join((result.stdout + result.stderr).split())
    return Check("journal-verify", result.returncode == 0, text[:300])


def independent_z(db: sqlite3.Connection, closed_at: datetime, counted: int) -> dict[str, Any]:
    """The Z's numbers summed here from the committed rows up to its close (a fresh
    lane database: one business date before the Z)."""

    def before(at: str) -> bool:
        # The lane writes its local time with its offset: the date written is the local one.
        when = datetime.fromisoformat(at)
        return when <= closed_at and when.date() == closed_at.date()

    rows = db.execute('SELECT sale_id, kind, total, tax, change, closed_at FROM "transaction"')
    txns = [r for r in rows if before(r[5])]
    counted_ids = {r[0] for r in txns if r[1] in ("sale", "return")}
    rows = db.execute("SELECT sale_id, amount, discount, voided, tax_rate FROM transactionline")
    lines = [r for r in rows if r[0] in counted_ids]
    tenders: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sale_id, kind, amount in db.execute("SELECT sale_id, type, amount FROM transactiontender"):
        if sale_id in counted_ids:
            tenders[kind][0] += 1
            tenders[kind][1] += amount
    moves = [
        (k, a) for k, a, at in db.execute("SELECT kind, amount, at FROM cashmovement") if before(at)
    ]
    marks = [k for k, at in db.execute("SELECT kind, at FROM uplinkmark") if before(at)]
    live = [r for r in lines if not r[3]]
    gross: dict[str, int] = defaultdict(int)
    for _, amount, discount, _, rate in live:
        gross[rate] += amount - discount
    paid_in = sum(a for k, a in moves if k == "in")
    paid_out = sum(a for k, a in moves if k == "out")
    change = sum(r[4] for r in txns if r[0] in counted_ids)
    expected = tenders["cash"][1] - change + paid_in - paid_out if "cash" in tenders else (
        -change + paid_in - paid_out)  # fmt: skip
    return {
        "sales": {"count": sum(r[1] == "sale" for r in txns),
                  "total": sum(r[2] for r in txns if r[1] == "sale")},
        "returns": {"count": sum(r[1] == "return" for r in txns),
                    "total": sum(r[2] for r in txns if r[1] == "return")},
        "cancelled": sum(r[1] == "cancelled" for r in txns),
        "tenders": {k: v for k, v in tenders.items()},
        "gross": {rate: g for rate, g in gross.items() if True},
        "tax": sum(r[3] for r in txns if r[0] in counted_ids),
        "voids": sum(bool(r[3]) for r in lines),
        "no_sales": sum(k == "no_sale" for k in marks),
        "discounts": sum(r[2] for r in live),
        "paid_in": paid_in,
        "paid_out": paid_out,
        "cash_expected": expected,
        "difference": counted - expected,
    }  # fmt: skip


def _as_independent(details: dict[str, Any]) -> dict[str, Any]:
    """The published Z in the shape ``independent_z`` sums to."""
    return {
        "sales": details["sales"],
        "returns": details["returns"],
        "cancelled": details["cancelled"],
        "tenders": {t["type"]: [t["count"], t["amount"]] for t in details["tenders"]},
        "gross": {_rate(t["rate"]): t["gross"] for t in details["taxes"]},
        "tax": sum(t["tax"] for t in details["taxes"]),
        "voids": details["voids"],
        "no_sales": details["no_sales"],
        "discounts": details["discounts"],
        "paid_in": details["paid_in"],
        "paid_out": details["paid_out"],
        "cash_expected": details["cash_expected"],
        "difference": details["difference"],
    }


def _rate(text: str) -> str:
    return text


def check_z(lane_db: Path, config: Path) -> Check:
    with read_only(lane_db) as db:
        rows = db.execute("SELECT business_date, closed_at, details FROM zreport").fetchall()
        if len(rows) != 1:
            return Check("z-report", False, f"{len(rows)} Z reports in the lane's store, not 1")
        business_date, closed_at, details_text = rows[0]
        published = json.loads(details_text)
        mine = independent_z(db, datetime.fromisoformat(closed_at), published["cash_counted"])
    result = firmware_lane("report", "z", "--date", business_date, "--config", str(config))
    problems = []
    if result.returncode != 0:
        problems.append(f"report z exit {result.returncode}: {result.stderr.strip()[:200]}")
    else:
        again = json.loads(result.stdout)
        if again != published:
            problems.append(f"report z reproduces {again}, the Z published {published}")
    theirs = _as_independent(published)
    # Tax-rate keys: the lane's lines hold the rate as written ("13"); the Z likewise.
    differ = {k: (theirs[k], mine[k]) for k in theirs if theirs[k] != mine[k]}
    if differ:
        problems.append(f"the Z and the sums of the day's transactions differ: {differ}")
    detail = (
        f"Z {published['z_no']} of {business_date}: {published['sales']['count']} sales, "
        f"{published['returns']['count']} returns, {published['cancelled']} cancelled; "
        "report z reproduces it and it equals the sums of the committed rows"
    )
    return Check("z-report", not problems, "; ".join(problems) or detail)


# --- the store server's own word -------------------------------------------------------------


def store_server_log(folder: Path) -> tuple[int, int, list[str]]:
    """(messages received, duplicates among them, errors it logged)."""
    seen: Counter[int] = Counter()
    out = folder / "store-server.out"
    if out.exists():
        for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
            topic, _, body = line.partition(" ")
            if f"/lanes/{LANE}/" not in topic or not body.startswith("{"):
                continue
            try:
                seq = json.loads(body).get("seq")
            except json.JSONDecodeError:
                continue  # a line a kill cut short
            if isinstance(seq, int):
                seen[seq] += 1
    errors = []
    err = folder / "store-server.err"
    if err.exists():
        for line in err.read_text(encoding="utf-8", errors="replace").splitlines():
            if " ERROR " in line or "prices differ" in line or "conflict" in line.lower():
                errors.append(line)
    received = sum(seen.values())
    return received, received - len(seen), errors


def check_store_server(folder: Path) -> Check:
    received, _, errors = store_server_log(folder)
    detail = f"{received} messages received; every sale priced again from the catalog, none differ"
    return Check("store-server", not errors, "; ".join(errors[:3]) or detail)


def transactions_by_kind(lane_db: Path) -> dict[str, int]:
    with read_only(lane_db) as db:
        kinds = Counter(dict(db.execute('SELECT kind, count(*) FROM "transaction" GROUP BY kind')))
        for kind, n in db.execute("SELECT kind, count(*) FROM cashmovement GROUP BY kind"):
            kinds[f"paid_{kind}"] = n
        for kind, n in db.execute(
            "SELECT kind, count(*) FROM uplinkmark WHERE kind IN "
            "('no_sale', 'suspend', 'resume', 'x_report', 'z_report', 'line_void', 'reprint') "
            "GROUP BY kind"
        ):
            kinds[kind] = n
    return dict(sorted(kinds.items()))
