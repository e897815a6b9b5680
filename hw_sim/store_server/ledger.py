"""The simulated store server's ledger: what it has received, once per (store, lane, seq).

A SQLite file (WAL, ``synchronous=FULL``) holding every stored message, each
lane's ack mark (the highest seq up to which it has everything), stock levels
per SKU, and the checks that make storage exactly-once: a message that comes
again is counted once, one that comes again with other content is a conflict.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext
from pathlib import Path
from typing import Any

from firmware_app.sync.contract import UplinkTopic
from hw_sim.store_server.errors import ConflictError

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS message (
    store TEXT NOT NULL, lane TEXT NOT NULL, seq INTEGER NOT NULL,
    topic TEXT NOT NULL, schema TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (store, lane, seq)
);
CREATE TABLE IF NOT EXISTS lane (
    store TEXT NOT NULL, lane TEXT NOT NULL, acked_upto INTEGER NOT NULL,
    PRIMARY KEY (store, lane)
);
CREATE TABLE IF NOT EXISTS stock (
    store TEXT NOT NULL, sku TEXT NOT NULL, qty TEXT NOT NULL, unit TEXT NOT NULL,
    PRIMARY KEY (store, sku)
);
CREATE TABLE IF NOT EXISTS member_points (
    store TEXT NOT NULL, member TEXT NOT NULL, points INTEGER NOT NULL,
    PRIMARY KEY (store, member)
);
"""


def _plain(value: Decimal) -> str:
    """A Decimal as the contract writes quantities: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass
class Incoming:
    """A checked uplink message waiting for the writer (``mid``/``qos`` for its PUBACK)."""

    where: UplinkTopic
    topic: str
    message: dict[str, Any]
    received_at: str
    mid: int
    qos: int
    conflict: str = ""
    refused: str = ""  # why the database could not store it (logged and counted)


class StoreLedger:
    """The server's SQLite file: messages by (store, lane, seq), ack marks, stock levels."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA_SQL)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def store(
        self, where: UplinkTopic, topic: str, message: dict[str, Any], received_at: str
    ) -> tuple[bool, int]:
        """Store once; returns (newly stored, highest seq up to which the lane is complete).

        ``ConflictError`` when this seq was stored before with other content.
        """
        key = (where.store, where.lane)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                new = self._insert(key, topic, message, received_at)
                if new and message["schema"] == "lane.stock/1":
                    self._add_stock(where.store, message["deltas"])
                if new:
                    self._add_points(where.store, message)  # members
                upto = self._advance(key)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return new, upto

    def store_many(
        self, batch: list[Incoming]
    ) -> tuple[list[Incoming], dict[tuple[str, str], int]]:
        """Store a batch in one transaction: returns the messages stored (new or
        repeated) and, for each lane of the batch, its contiguous mark afterwards.

        Each message is stored under a savepoint of its own: one that conflicts with
        a stored one (``Incoming.conflict``) or that the database cannot take
        (``Incoming.refused``: a number past SQLite's integers, a stock quantity no
        decimal holds) is left out, logged by the caller, and the rest of the batch
        is stored; one lane's bad message never stalls the others. Only the
        database failing as a whole (``sqlite3.OperationalError``: busy, disk full)
        rolls the batch back, to come again.
        """
        kept: list[Incoming] = []
        marks: dict[tuple[str, str], int] = {}
        moved: dict[tuple[str, str], tuple[Decimal, str]] = {}  # (store, sku) -> sum, unit
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for item in batch:
                    if self._store_one(item, moved):
                        kept.append(item)
                        marks[(item.where.store, item.where.lane)] = 0
                for (store, sku), (qty, unit) in moved.items():
                    self._add_stock(store, [{"sku": sku, "qty": qty, "unit": unit}])
                for key in marks:
                    marks[key] = self._advance(key)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return kept, marks

    def _store_one(self, item: Incoming, moved: dict[tuple[str, str], tuple[Decimal, str]]) -> bool:
        """Insert one message and add its stock deltas to ``moved``; False (nothing
        of it kept) when it conflicts or cannot be stored."""
        self._db.execute("SAVEPOINT message")
        try:
            key = (item.where.store, item.where.lane)
            new = self._insert(key, item.topic, item.message, item.received_at)
            if new:
                self._add_points(item.where.store, item.message)  # members, in the savepoint
            sums = dict(moved)
            if new and item.message["schema"] == "lane.stock/1":
                with localcontext() as exact:
                    exact.traps[Inexact] = True  # a quantity no decimal holds is refused
                    for delta in item.message["deltas"]:
                        at = (item.where.store, delta["sku"])
                        total = sums.get(at, (Decimal(0), ""))[0] + Decimal(delta["qty"])
                        sums[at] = (total, delta["unit"])
        except sqlite3.OperationalError:
            raise  # the database, not the message: the whole batch comes again
        except ConflictError as e:
            item.conflict = str(e)
        except Exception as e:
            seq = str(item.message.get("seq"))[:40]
            item.refused = f"seq {seq} cannot be stored: {type(e).__name__}: {str(e)[:200]}"
        else:
            self._db.execute("RELEASE message")
            moved.update(sums)
            return True
        self._db.execute("ROLLBACK TO message")
        self._db.execute("RELEASE message")
        return False

    def _insert(
        self, key: tuple[str, str], topic: str, message: dict[str, Any], received_at: str
    ) -> bool:
        body = json.dumps(message, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO message VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, message["seq"], topic, message["schema"], message["at"], body, received_at),
        )
        if cursor.rowcount:
            return True
        (kept,) = self._db.execute(
            "SELECT body FROM message WHERE store = ? AND lane = ? AND seq = ?",
            (*key, message["seq"]),
        ).fetchone()
        if kept != body:
            raise ConflictError(
                f"{key[0]}/{key[1]} seq {message['seq']} was stored before with other content "
                "(was the lane's database replaced?); the first is kept, no ack"
            )
        return False

    def _add_stock(self, store: str, deltas: Iterable[dict[str, Any]]) -> None:
        for delta in deltas:
            row = self._db.execute(
                "SELECT qty FROM stock WHERE store = ? AND sku = ?", (store, delta["sku"])
            ).fetchone()
            level = (Decimal(row[0]) if row else Decimal(0)) + Decimal(delta["qty"])
            self._db.execute(
                "INSERT OR REPLACE INTO stock VALUES (?, ?, ?, ?)",
                (store, delta["sku"], _plain(level), delta["unit"]),
            )

    # --- members: points per member, each sale's counted once ----------------------------

    def _add_points(self, store: str, message: dict[str, Any]) -> None:
        """A new sale's ``points`` onto its member's balance (training sales aside)."""
        member, points = message.get("member"), message.get("points")
        if message["schema"] != "lane.sale/1" or message.get("training") or not member:
            return
        if not isinstance(points, int) or not points:
            return
        self._db.execute(
            "INSERT INTO member_points VALUES (?, ?, ?) ON CONFLICT (store, member) "
            "DO UPDATE SET points = points + excluded.points",
            (store, member, points),
        )

    def points(self, member: str, store: str | None = None) -> int:
        """The points the sales received gave ``member`` (in one store, or all)."""
        with self._lock:
            if store is None:
                row = self._db.execute(
                    "SELECT SUM(points) FROM member_points WHERE member = ?", (member,)
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT points FROM member_points WHERE store = ? AND member = ?",
                    (store, member),
                ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def points_by_member(self, store: str) -> dict[str, int]:
        """Each member's points as kept (members at zero left out)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT member, points FROM member_points WHERE store = ? AND points != 0",
                (store,),
            ).fetchall()
        return {member: int(points) for member, points in rows}

    def recount_points(self, store: str) -> dict[str, int]:
        """Each member's points summed again from the sales stored (the check of
        ``points_by_member``: the two differ only if a sale counted twice or never)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM message WHERE store = ? AND schema = 'lane.sale/1'", (store,)
            ).fetchall()
        totals: dict[str, int] = {}
        for (body,) in rows:
            sale = json.loads(body)
            member, points = sale.get("member"), sale.get("points")
            if member and isinstance(points, int) and not sale.get("training"):
                totals[member] = totals.get(member, 0) + points
        return {member: points for member, points in totals.items() if points}

    def _advance(self, key: tuple[str, str]) -> int:
        upto = self._acked_upto(key)
        start = upto
        while self._db.execute(
            "SELECT 1 FROM message WHERE store = ? AND lane = ? AND seq = ?", (*key, upto + 1)
        ).fetchone():
            upto += 1
        if upto != start:
            self._db.execute("INSERT OR REPLACE INTO lane VALUES (?, ?, ?)", (*key, upto))
        return upto

    def _acked_upto(self, key: tuple[str, str]) -> int:
        row = self._db.execute(
            "SELECT acked_upto FROM lane WHERE store = ? AND lane = ?", key
        ).fetchone()
        return int(row[0]) if row else 0

    def acked_upto(self, store: str, lane: str) -> int:
        with self._lock:
            return self._acked_upto((store, lane))

    def messages(self, store: str, lane: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM message WHERE store = ? AND lane = ? ORDER BY seq", (store, lane)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def gaps(self, store: str, lane: str) -> list[int]:
        """Seqs missing below the highest one received."""
        with self._lock:
            upto = self._acked_upto((store, lane))
            seqs = [
                seq
                for (seq,) in self._db.execute(
                    "SELECT seq FROM message WHERE store = ? AND lane = ? AND seq > ? ORDER BY seq",
                    (store, lane, upto),
                )
            ]
        present = set(seqs)
        return [s for s in range(upto + 1, max(seqs, default=upto)) if s not in present]

    def stock(self, sku: str, store: str | None = None) -> Decimal:
        with self._lock:
            if store is None:
                rows = self._db.execute("SELECT qty FROM stock WHERE sku = ?", (sku,)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT qty FROM stock WHERE sku = ? AND store = ?", (sku, store)
                ).fetchall()
        return sum((Decimal(q) for (q,) in rows), Decimal(0))
