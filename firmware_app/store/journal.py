"""Verifying the journal: the hash chain over every finished transaction.

Each journal entry holds the canonical JSON of one finished transaction and
``hash = SHA-256(prev_hash + record)`` (``uplink.chain_hash``), ``prev_hash``
being the entry before it (64 zeros for the first). After old sales are
pruned, the ``journal.checkpoint`` meta row keeps the number and hash of the
last pruned entry, and the chain of what remains starts there.

``verify`` is a pure function over the rows: it recomputes every link, and when
given the sale tables' rows of each entry it checks that they still say what
the journal says (a changed line amount in ``transactionline`` is caught as
surely as a changed journal record). What it proves: nothing in the chain was
changed and nothing between the checkpoint and the newest entry is missing.
What it cannot prove on its own: that the newest entries were not removed
together with their sales; the store server's copy of the chain (every
``lane.sale/1`` carries its ``journal_hash``) and the backups' manifests
(their ``journal.head``) are the witnesses for that.

``verify_file`` reads a lane database (read-only, in one snapshot, so it runs
while the lane sells) and verifies it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from firmware_app.lane.money import format_qty, rate_text
from firmware_app.store import models
from firmware_app.uplink import GENESIS_HASH, canonical, chain_hash

CHECKPOINT_KEY = "journal.checkpoint"  # as written by SalesStore.prune


@dataclass(frozen=True)
class Checkpoint:
    """The last pruned entry: the chain of the remaining entries starts from its hash."""

    no: int
    hash: str


@dataclass(frozen=True)
class SaleRows:
    """What the sale tables hold for one journalled transaction; ``transaction`` is None
    when its row is missing. Rows are column name -> value, as SQLite returns them."""

    transaction: Mapping[str, Any] | None
    lines: Sequence[Mapping[str, Any]] = ()
    tenders: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Entry:
    """One journal row; ``sale`` (the sale tables' rows) None: not cross-checked."""

    no: int
    sale_id: str
    prev_hash: str
    hash: str
    record: str
    sale: SaleRows | None = None


@dataclass(frozen=True)
class Break:
    """The first place where the journal and what it should be differ."""

    no: int | None
    sale_id: str
    receipt_no: int | None
    what: str
    expected: str
    stored: str

    def __str__(self) -> str:
        if self.receipt_no is not None:
            where = f"receipt {self.receipt_no}"
        elif self.no is not None:
            where = f"entry {self.no}"
        else:
            where = "the checkpoint"
        sale = f" (sale id {self.sale_id})" if self.sale_id else ""
        return (
            f"journal broken at {where}{sale}: {self.what}: "
            f"expected {self.expected}, stored {self.stored}"
        )


@dataclass(frozen=True)
class JournalReport:
    """What a verification found: ``ok`` with ``records`` entries ending at ``head``,
    or ``broken``."""

    records: int
    head: str
    checkpoint: Checkpoint | None = None
    broken: Break | None = None
    last_receipt_no: int | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def __str__(self) -> str:
        if self.broken is not None:
            return str(self.broken)
        text = f"journal ok: {self.records} records, head {self.head}"
        if self.checkpoint is not None:
            text += f" (from the checkpoint after entry {self.checkpoint.no})"
        return text


def verify(
    entries: Iterable[Entry],
    checkpoint: Checkpoint | None = None,
    *,
    unjournalled: Iterable[tuple[str, int]] = (),
) -> JournalReport:
    """Walk the chain from ``checkpoint`` (or genesis) over ``entries`` in entry order.

    ``unjournalled`` lists (sale id, receipt no) of transaction rows that have no
    journal entry: a sale whose journal entry was deleted is a break as well.
    Stops at the first break; reads ``entries`` lazily, so a long journal is
    never held in memory whole.
    """
    prev = checkpoint.hash if checkpoint else GENESIS_HASH
    last_no = checkpoint.no if checkpoint else 0
    count = 0
    last_receipt: int | None = None
    for entry in entries:
        broken, receipt = _check(entry, prev, last_no)
        if broken is not None:
            return JournalReport(count, prev, checkpoint, broken, last_receipt)
        prev, last_no, count, last_receipt = entry.hash, entry.no, count + 1, receipt
    for sale_id, receipt_no in unjournalled:
        broken = Break(None, sale_id, receipt_no, "journal entry", "one per transaction", "none")
        return JournalReport(count, prev, checkpoint, broken, last_receipt)
    return JournalReport(count, prev, checkpoint, None, last_receipt)


def _check(entry: Entry, prev: str, last_no: int) -> tuple[Break | None, int | None]:
    def broken(what: str, expected: object, stored: object) -> Break:
        return Break(entry.no, entry.sale_id, receipt, what, str(expected), str(stored))

    receipt: int | None = None
    try:
        record = json.loads(entry.record)
    except ValueError:
        return broken("record", "JSON", _excerpt(entry.record)), None
    if not isinstance(record, dict):
        return broken("record", "a JSON object", _excerpt(entry.record)), None
    if isinstance(record.get("receipt_no"), int):
        receipt = record["receipt_no"]
    if entry.no <= last_no:
        return broken("entry number", f"more than {last_no}", entry.no), receipt
    if entry.prev_hash != prev:
        # The entry before this one is missing or was changed (or this link was).
        return broken("prev_hash", prev, entry.prev_hash), receipt
    if record.get("sale_id") != entry.sale_id:
        return broken("sale_id in the record", entry.sale_id, record.get("sale_id")), receipt
    if canonical(record) != entry.record:
        return broken("record", "canonical JSON", "other formatting"), receipt
    digest = chain_hash(entry.prev_hash, record)
    if digest != entry.hash:
        return broken("hash", digest, entry.hash), receipt
    if entry.sale is not None:
        difference = next(_sale_differences(record, entry.sale, entry.hash), None)
        if difference is not None:
            return broken(*difference), receipt
    return None, receipt


def _sale_differences(
    record: Mapping[str, Any], sale: SaleRows, journal_hash: str
) -> Iterator[tuple[str, object, object]]:
    """(what, journal says, sale tables say) for every difference, in a stable order."""
    txn = sale.transaction
    if txn is None:
        yield "transaction row", "present", "missing"
        return
    totals = record.get("totals") or {}
    for column, expected in (
        ("receipt_no", record.get("receipt_no")),
        ("kind", record.get("kind")),
        ("opened_at", record.get("opened_at")),
        ("closed_at", record.get("closed_at")),
        ("cashier", record.get("cashier")),
        ("member", record.get("member")),
        ("currency", record.get("currency")),
        ("total", totals.get("total")),
        ("tax", totals.get("tax")),
        ("rounding", totals.get("rounding")),
        ("change", record.get("change")),
        ("journal_hash", journal_hash),
    ):
        if txn.get(column) != expected:
            yield f"transaction {column}", expected, txn.get(column)
    yield from _line_differences(record.get("lines") or [], sale.lines)
    yield from _tender_differences(record.get("tenders") or [], sale.tenders)


def _line_differences(
    journalled: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[str, object, object]]:
    by_no = {row.get("no"): row for row in rows}
    for line in journalled:
        no = line.get("line")
        row = by_no.pop(no, None)
        if row is None:
            yield f"line {no}", "a line row", "none"
            continue
        stored = {
            "sku": row.get("sku"),
            "code": row.get("code"),
            "name": row.get("name"),
            "unit": row.get("unit"),
            "qty": _qty_text(row.get("qty")),
            "unit_price": row.get("unit_price"),
            "amount": row.get("amount"),
            "discount": row.get("discount"),
            "tax_rate": _rate_text(row.get("tax_rate")),
            "voided": bool(row.get("voided")),
        }
        for key, value in stored.items():
            if line.get(key) != value:
                yield f"line {no} {key}", line.get(key), value
    for no in sorted(by_no, key=str):
        yield f"line {no}", "none", "a line row not in the journal"


def _tender_differences(
    journalled: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[str, object, object]]:
    by_no = {row.get("no"): row for row in rows}
    for no, tender in enumerate(journalled, 1):
        row = by_no.pop(no, None)
        if row is None:
            yield f"tender {no}", "a tender row", "none"
            continue
        for key, expected in (
            ("type", tender.get("type")),
            ("amount", tender.get("amount")),
            ("reference", tender.get("reference", "")),
        ):
            if row.get(key) != expected:
                yield f"tender {no} {key}", expected, row.get(key)
    for no in sorted(by_no, key=str):
        yield f"tender {no}", "none", "a tender row not in the journal"


def _qty_text(value: object) -> object:
    return format_qty(value) if isinstance(value, int) else value


def _rate_text(value: object) -> object:
    try:
        return rate_text(Decimal(str(value)))
    except InvalidOperation:
        return value


def _excerpt(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --- reading a lane database ----------------------------------------------------------


def _table(model: type[models.BaseModel]) -> str:
    return '"' + model._meta.table_name + '"'


def read_checkpoint(conn: sqlite3.Connection) -> Checkpoint | None:
    """The checkpoint kept by pruning, or None; raises ``ValueError`` when unreadable."""
    row = conn.execute(
        f"SELECT value FROM {_table(models.Meta)} WHERE key = ?", (CHECKPOINT_KEY,)
    ).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    if not isinstance(data, dict) or not isinstance(data.get("no"), int):
        raise ValueError(f"{CHECKPOINT_KEY}: expected {{no, hash}}, got {row[0]!r}")
    return Checkpoint(int(data["no"]), str(data["hash"]))


def read_entries(conn: sqlite3.Connection, *, with_sales: bool = True) -> Iterator[Entry]:
    """Journal rows in order, each with its sale rows when ``with_sales``."""
    cursor = conn.execute(
        f"SELECT no, sale_id, prev_hash, hash, record FROM {_table(models.JournalEntry)} "
        "ORDER BY no"
    )
    for no, sale_id, prev_hash, digest, record in cursor:
        sale = _sale_rows(conn, sale_id) if with_sales else None
        yield Entry(no, sale_id, prev_hash, digest, record, sale)


def _sale_rows(conn: sqlite3.Connection, sale_id: str) -> SaleRows:
    def rows(model: type[models.BaseModel], order: str) -> list[dict[str, Any]]:
        cursor = conn.execute(
            f"SELECT * FROM {_table(model)} WHERE sale_id = ? ORDER BY {order}", (sale_id,)
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    found = rows(models.Transaction, "sale_id")
    return SaleRows(
        found[0] if found else None,
        rows(models.TransactionLine, "no"),
        rows(models.TransactionTender, "no"),
    )


def read_unjournalled(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Transactions without a journal entry (there should be none)."""
    txn, journal = _table(models.Transaction), _table(models.JournalEntry)
    return list(
        conn.execute(
            f"SELECT sale_id, receipt_no FROM {txn} "
            f"WHERE sale_id NOT IN (SELECT sale_id FROM {journal}) ORDER BY receipt_no"
        )
    )


def verify_connection(conn: sqlite3.Connection, *, with_sales: bool = True) -> JournalReport:
    """Verify the lane database behind ``conn`` in one read snapshot.

    ``conn`` must be in autocommit mode (``isolation_level=None``): the reads run
    inside one explicit read transaction, so that a sale the daemon commits
    meanwhile is either wholly seen or not at all.
    """
    conn.execute("BEGIN")
    try:
        try:
            checkpoint = read_checkpoint(conn)
        except ValueError as e:
            return JournalReport(
                0, "", None, Break(None, "", None, "checkpoint", "{no, hash}", str(e))
            )
        return verify(
            read_entries(conn, with_sales=with_sales),
            checkpoint,
            unjournalled=read_unjournalled(conn) if with_sales else (),
        )
    finally:
        conn.execute("ROLLBACK")


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only autocommit connection that never creates ``path``."""
    uri = f"file:{quote(str(Path(path).absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def verify_file(path: str | Path, *, with_sales: bool = True) -> JournalReport:
    """Verify the journal of the lane database at ``path`` (read-only).

    Raises ``sqlite3.Error`` when the file cannot be read as a lane database.
    """
    conn = open_readonly(path)
    try:
        return verify_connection(conn, with_sales=with_sales)
    finally:
        conn.close()
