"""Verifying the journal: the hash chain over every finished transaction.

Each journal entry holds the canonical JSON of one finished transaction and
``hash = SHA-256(prev_hash + record)`` (``chain_hash``), ``prev_hash``
being the entry before it (64 zeros for the first). After old sales are
pruned, the ``journal.checkpoint`` meta row keeps the number and hash of the
last pruned entry, and the chain of what remains starts there.

The checkpoint is where the chain may legitimately begin, so it must not be
something anyone who can edit the database can write. Two witnesses stand
behind it:

- **Its seal.** Pruning seals the checkpoint with HMAC-SHA256 under the lane's
  journal key (``seal``), a random 256-bit key in ``journal.key`` beside the
  database (mode 0600, made on the first prune, never in the database, never
  logged). A checkpoint without a valid seal, or with no key to check it, is a
  break: deleting the oldest sales and writing a checkpoint after them needs the
  key, which an edited database or backup file does not carry.
- **The outbox.** Every sale's ``lane.sale/1`` message, with its
  ``journal_hash``, stays in the outbox until the store server has acknowledged
  it and ``mqtt.acked_retention_h`` has passed, and pruning only takes sales the
  store server has. So each sale message still in the outbox must say what its
  journal entry says, or be one that pruning took: acknowledged, older than
  every sale still journalled, chained to the one before it, the newest of them
  carrying the checkpoint's hash. A sale message whose entry is gone otherwise
  (the newest sales deleted, an unacknowledged sale pruned, a checkpoint moved)
  is a break. The messages a restore carried over from the replaced database
  (``restore.last``: from the backup's next seq up to the ``lane_restored``
  event) belong to the chain the restore went back from, and are left out.

``verify`` is a pure function over the rows: it recomputes every link, and when
given the sale tables' rows of each entry it checks that they still say what
the journal says (a changed line amount in ``transactionline`` is caught as
surely as a changed journal record). What it proves: nothing in the chain was
changed, nothing between the checkpoint and the newest entry is missing, the
checkpoint was written by this lane's pruning, and no sale the outbox still
holds is missing. What it cannot prove on its own: that a sale was not removed
together with its outbox message and everything else, by someone holding the
key; the store server's copy of the chain (every ``lane.sale/1`` carries its
``journal_hash``) and the backups' manifests (their ``journal.head``) are the
witnesses for that.

``verify_file`` reads a lane database (read-only, in one snapshot, so it runs
while the lane sells) and verifies it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from firmware_app.errors import StoreError
from firmware_app.lane.money import format_qty, rate_text
from firmware_app.store import models

GENESIS_HASH = "0" * 64  # the prev_hash of the first entry
CHECKPOINT_KEY = "journal.checkpoint"  # as written by SalesStore.prune
RESTORE_KEY = "restore.last"  # as written by store.restore
CARRIED_KEY = "restore.carried"  # [[first, last], …]: seqs each restore carried over
KEY_FILE = "journal.key"  # beside the lane database
SALE_SCHEMA = "lane.sale/1"
ENVELOPE = ("schema", "at", "seq", "journal_hash")  # a sale message = envelope + record


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text kept as is: exactly
    ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``.

    orjson writes it (on every sale's commit, several times faster); what it cannot
    write (an integer past 64 bits) goes through ``json``. A property test holds the
    two to the same bytes: a store server recomputing a journal hash with Python's
    ``json`` gets the lane's.
    """
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The journal link: SHA-256 over the previous hash and the canonical record."""
    return link_hash(prev_hash, canonical(record))


def link_hash(prev_hash: str, record_text: str) -> str:
    """``chain_hash`` of a record already in canonical JSON."""
    return hashlib.sha256((prev_hash + record_text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """The last pruned entry: the chain of the remaining entries starts from its hash;
    ``seal`` is its HMAC under the lane's journal key (``seal``), empty when unsealed."""

    no: int
    hash: str
    seal: str = field(default="", compare=False)


@dataclass(frozen=True)
class SaleMessage:
    """What verification needs of one ``lane.sale/1`` row of the outbox.

    ``digest`` is the SHA-256 of its record (the message without ``ENVELOPE``, as
    canonical JSON); ``links`` whether its ``journal_hash`` chains from the sale
    message before it (None: none before it in the outbox); ``problem`` says why
    the row is not a readable sale message (then the rest is empty).
    """

    seq: int
    acked: bool
    sale_id: str = ""
    receipt_no: int | None = None
    journal_hash: str = ""
    digest: str = ""
    links: bool | None = None
    problem: str = ""


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
    """The first place where the journal and what it should be differ; ``seq`` is the
    outbox message that shows it, when one does."""

    no: int | None
    sale_id: str
    receipt_no: int | None
    what: str
    expected: str
    stored: str
    seq: int | None = None

    def __str__(self) -> str:
        if self.receipt_no is not None:
            where = f"receipt {self.receipt_no}"
        elif self.no is not None:
            where = f"entry {self.no}"
        elif self.seq is not None:
            where = f"outbox seq {self.seq}"
        else:
            where = "the checkpoint"
        details = [f"sale id {self.sale_id}"] if self.sale_id else []
        if self.seq is not None and not where.startswith("outbox"):
            details.append(f"outbox seq {self.seq}")
        sale = f" ({', '.join(details)})" if details else ""
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
    key: bytes | None = None,
    key_source: str = "the lane's journal key",
    key_problem: str = "no key",
    sale_messages: Iterable[SaleMessage] = (),
) -> JournalReport:
    """Walk the chain from ``checkpoint`` (or genesis) over ``entries`` in entry order.

    A ``checkpoint`` must carry its seal under ``key`` (None: the key could not be
    read from ``key_source``, for ``key_problem``). ``unjournalled`` lists (sale id, receipt no) of
    transaction rows that have no journal entry: a sale whose journal entry was
    deleted is a break as well. ``sale_messages`` are the outbox's sale messages in
    seq order (see the module's docstring for what they must agree with). Stops at
    the first break; reads ``entries`` lazily, so a long journal is never held in
    memory whole (only the sale messages the outbox holds are).
    """
    if checkpoint is not None:
        broken = _check_seal(checkpoint, key, key_source, key_problem)
        if broken is not None:
            return JournalReport(0, "", checkpoint, broken)
    messages = list(sale_messages)
    by_hash = {m.journal_hash: m for m in messages if not m.problem}
    found: set[int] = set()  # seqs of the sale messages whose entry was walked
    prev = checkpoint.hash if checkpoint else GENESIS_HASH
    last_no = checkpoint.no if checkpoint else 0
    count = 0
    last_receipt: int | None = None
    for entry in entries:
        broken, receipt = _check(entry, prev, last_no)
        if broken is None and entry.hash in by_hash:
            broken = _check_message(entry, by_hash[entry.hash], receipt)
            found.add(by_hash[entry.hash].seq)
        if broken is not None:
            return JournalReport(count, prev, checkpoint, broken, last_receipt)
        prev, last_no, count, last_receipt = entry.hash, entry.no, count + 1, receipt
    for sale_id, receipt_no in unjournalled:
        broken = Break(None, sale_id, receipt_no, "journal entry", "one per transaction", "none")
        return JournalReport(count, prev, checkpoint, broken, last_receipt)
    broken = _check_outbox(messages, found, checkpoint)
    return JournalReport(count, prev, checkpoint, broken, last_receipt)


def _check_seal(
    checkpoint: Checkpoint, key: bytes | None, key_source: str, key_problem: str
) -> Break | None:
    def broken(expected: str, stored: str) -> Break:
        return Break(None, "", None, "checkpoint seal", expected, stored)

    if key is None:
        return broken(f"checked with {key_source}", key_problem)
    if not checkpoint.seal:
        return broken("an HMAC under the lane's journal key", "none")
    if not hmac.compare_digest(checkpoint.seal, seal(key, checkpoint.no, checkpoint.hash)):
        return broken(
            f"the seal of entry {checkpoint.no} under the lane's journal key",
            "another seal (this checkpoint was not written by the lane's pruning)",
        )
    return None


def _check_message(entry: Entry, message: SaleMessage, receipt: int | None) -> Break | None:
    """The sale message of ``entry`` must say what the journal says."""
    if message.sale_id != entry.sale_id or message.digest != _digest(entry.record):
        return Break(
            entry.no,
            entry.sale_id,
            receipt,
            "sale message",
            "the journal's record",
            "another record",
            message.seq,
        )
    return None


def _check_outbox(
    messages: Sequence[SaleMessage], found: set[int], checkpoint: Checkpoint | None
) -> Break | None:
    """Sale messages whose entry was not walked must be ones pruning took."""
    first_found = min(found, default=None)
    pruned: list[SaleMessage] = []
    for m in messages:
        if m.problem:
            return Break(None, "", None, "sale message", "a lane.sale/1", m.problem, m.seq)
        if m.seq in found:
            continue
        gone = "present (the outbox holds its sale message)"
        if first_found is not None and m.seq > first_found:
            return _missing(m, gone)
        if not m.acked:
            return _missing(m, "present (the store server has not acknowledged its sale message)")
        if pruned and not m.links:
            return Break(
                None,
                m.sale_id,
                m.receipt_no,
                "journal_hash",
                f"chained from the sale message of outbox seq {pruned[-1].seq}",
                m.journal_hash,
                m.seq,
            )
        pruned.append(m)
    if not pruned:
        return None
    last = pruned[-1]
    if checkpoint is None:
        return _missing(last, "present (no checkpoint says it was pruned)")
    if checkpoint.hash != last.journal_hash:
        return Break(
            None,
            "",
            None,
            "checkpoint hash",
            f"{last.journal_hash} (the last pruned sale, outbox seq {last.seq})",
            checkpoint.hash,
        )
    return None


def _missing(message: SaleMessage, expected: str) -> Break:
    return Break(
        None, message.sale_id, message.receipt_no, "journal entry", expected, "none", message.seq
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    # The journal keeps voided tenders too (marked); the rows hold, numbered from 1, only
    # the tenders that count.
    counted = [tender for tender in journalled if not tender.get("voided")]
    for no, tender in enumerate(counted, 1):
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


def _table(model: type[models.BaseModel]) -> str:
    return '"' + model._meta.table_name + '"'


# --- the journal key and the checkpoint's seal ------------------------------------------


def key_path(database: str | Path) -> Path:
    """Where the journal key of the lane database at ``database`` lives: beside it."""
    return Path(database).absolute().parent / KEY_FILE


def seal(key: bytes, no: int, digest: str) -> str:
    """The checkpoint's seal: HMAC-SHA256 (hex) under ``key`` of its entry and hash."""
    text = f"{CHECKPOINT_KEY}\n{no}\n{digest}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def checkpoint_value(no: int, digest: str, key: bytes) -> str:
    """The ``journal.checkpoint`` meta value for the last pruned entry, sealed."""
    return json.dumps({"no": no, "hash": digest, "seal": seal(key, no, digest)})


def load_key(path: Path) -> bytes:
    """The journal key in ``path``; ``OSError`` when unreadable (``FileNotFoundError``
    when missing), ``StoreError`` when it is not a key (its content never shown)."""
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise StoreError(f"{path}: not a journal key (64 hex digits)")
    return key


def lane_key(path: Path) -> bytes:
    """The journal key in ``path``, made when missing: 32 random bytes as hex, mode
    0600, written whole under a temporary name and linked into place, so a reader
    never sees half a key and two writers never replace each other's."""
    try:
        return load_key(path)
    except FileNotFoundError:
        pass
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):  # made meanwhile: that one is the key
            os.link(temp, path)
    finally:
        temp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return load_key(path)


def _read_key(path: Path | None) -> tuple[bytes | None, str]:
    """(key, why not): the key, or None and a reason a technician can act on."""
    if path is None:
        return None, "no key file (the database is not a file)"
    try:
        return load_key(path), ""
    except FileNotFoundError:
        return None, "the key file is missing"
    except OSError as e:
        return None, f"the key file cannot be read: {e.strerror or e}"
    except StoreError:
        return None, "the key file does not hold a journal key"


# --- reading a lane database ----------------------------------------------------------


def read_checkpoint(conn: sqlite3.Connection) -> Checkpoint | None:
    """The checkpoint kept by pruning, or None; raises ``ValueError`` when unreadable."""
    row = conn.execute(
        f"SELECT value FROM {_table(models.Meta)} WHERE key = ?", (CHECKPOINT_KEY,)
    ).fetchone()
    if row is None:
        return None
    data = json.loads(row[0])
    if not isinstance(data, dict) or not isinstance(data.get("no"), int):
        raise ValueError(f"{CHECKPOINT_KEY}: expected {{no, hash}}, got {_excerpt(row[0])}")
    return Checkpoint(int(data["no"]), str(data.get("hash")), str(data.get("seal") or ""))


def read_sale_messages(conn: sqlite3.Connection) -> list[SaleMessage]:
    """The outbox's sale messages in seq order, less those a restore carried over."""
    carried = _carried_by_restore(conn)
    outbox = _table(models.OutboxMessage)
    cursor = conn.execute(
        f"SELECT seq, payload, acked_at IS NOT NULL FROM {outbox} "
        "WHERE topic LIKE '%/sales' ORDER BY seq"
    )
    messages: list[SaleMessage] = []
    for seq, payload, acked in cursor:
        if seq in carried:
            continue
        if _is_training(bytes(payload)):
            continue  # training sales are outside the chain (store.reports)
        before = messages[-1] if messages else None
        messages.append(_sale_message(int(seq), bytes(payload), bool(acked), before))
    return messages


def _is_training(payload: bytes) -> bool:
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(message, dict) and message.get("training") is True


def _sale_message(seq: int, payload: bytes, acked: bool, before: SaleMessage | None) -> SaleMessage:
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return SaleMessage(seq, acked, problem="not JSON")
    digest = message.get("journal_hash") if isinstance(message, dict) else None
    if not isinstance(message, dict) or message.get("schema") != SALE_SCHEMA:
        return SaleMessage(seq, acked, problem=f"not a {SALE_SCHEMA}")
    if not isinstance(digest, str):
        return SaleMessage(seq, acked, problem="no journal_hash")
    record = {k: v for k, v in message.items() if k not in ENVELOPE}
    links = None
    if before is not None and not before.problem:
        links = chain_hash(before.journal_hash, record) == digest
    receipt = message.get("receipt_no")
    return SaleMessage(
        seq,
        acked,
        str(message.get("sale_id", "")),
        receipt if isinstance(receipt, int) else None,
        digest,
        _digest(canonical(record)),
        links,
    )


def carried_ranges(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """The (first, last) seq ranges restores carried over from the databases they
    replaced (see ``store.restore``): every restore's range is kept, since a backup taken
    after one restore still holds the messages it carried. A restore from before the
    ranges were kept left only its ``restore.last``."""
    meta = _table(models.Meta)
    rows = dict(
        conn.execute(
            f"SELECT key, value FROM {meta} WHERE key IN (?, ?)", (CARRIED_KEY, RESTORE_KEY)
        )
    )
    ranges: list[tuple[int, int]] = []
    try:
        for first, last in json.loads(rows.get(CARRIED_KEY, "[]")):
            ranges.append((int(first), int(last)))
    except (ValueError, TypeError):
        pass
    if not ranges and RESTORE_KEY in rows:
        try:
            data = json.loads(rows[RESTORE_KEY])
            ranges.append((int(data["backup_next_seq"]), int(data["next_seq"]) - 2))
        except (ValueError, KeyError, TypeError):
            pass
    return ranges


def _carried_by_restore(conn: sqlite3.Connection) -> Carried:
    return Carried(tuple(range(first, last + 1) for first, last in carried_ranges(conn)))


@dataclass(frozen=True)
class Carried:
    """Seq ranges of messages carried over by restores."""

    ranges: tuple[range, ...]

    def __contains__(self, seq: object) -> bool:
        return any(seq in r for r in self.ranges)


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


def verify_connection(
    conn: sqlite3.Connection, *, with_sales: bool = True, key_file: Path | None = None
) -> JournalReport:
    """Verify the lane database behind ``conn`` in one read snapshot.

    ``conn`` must be in autocommit mode (``isolation_level=None``): the reads run
    inside one explicit read transaction, so that a sale the daemon commits
    meanwhile is either wholly seen or not at all. ``key_file`` holds the lane's
    journal key (by default ``journal.key`` beside the database file).
    """
    conn.execute("BEGIN")
    try:
        try:
            checkpoint = read_checkpoint(conn)
        except ValueError as e:
            return JournalReport(
                0, "", None, Break(None, "", None, "checkpoint", "{no, hash}", str(e))
            )
        key: bytes | None = None
        problem = ""
        if key_file is None:
            key_file = _database_key_path(conn)
        if checkpoint is not None:
            key, problem = _read_key(key_file)
        return verify(
            read_entries(conn, with_sales=with_sales),
            checkpoint,
            unjournalled=read_unjournalled(conn) if with_sales else (),
            key=key,
            key_source=str(key_file),
            key_problem=problem,
            sale_messages=read_sale_messages(conn),
        )
    finally:
        conn.execute("ROLLBACK")


def _database_key_path(conn: sqlite3.Connection) -> Path | None:
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return key_path(file) if file else None
    return None


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only autocommit connection that never creates ``path``."""
    uri = f"file:{quote(str(Path(path).absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def verify_file(
    path: str | Path, *, with_sales: bool = True, key_file: Path | None = None
) -> JournalReport:
    """Verify the journal of the lane database at ``path`` (read-only); ``key_file``
    (default: ``journal.key`` beside ``path``) holds the lane's journal key: a copy of
    the database elsewhere, such as a backup, names its lane's.

    Raises ``sqlite3.Error`` when the file cannot be read as a lane database.
    """
    conn = open_readonly(path)
    try:
        return verify_connection(conn, with_sales=with_sales, key_file=key_file or key_path(path))
    finally:
        conn.close()
