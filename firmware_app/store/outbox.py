"""The outbox: uplink messages waiting for the store server's acknowledgement.

This module is the one owner of the outbox table and its two marks (the next
seq, the acknowledged mark): the lane loop appends rows inside the transaction
that commits a sale or an audit event, the sync thread reads them in seq order
and records acknowledgements, housekeeping prunes, the doctor and backups read
its figures, and a restore carries rows over and sets the marks, all through
``Outbox``. Rows leave only when an ``ack`` covers their seq.

Plain SQL on a ``sqlite3`` connection (peewee's, for the lane's threads; a
restore's or a read-only one otherwise): appending is on every sale's commit
path, and a query builder there cost more than SQLite did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import peewee

from firmware_app.errors import StoreError
from firmware_app.lane.timestamps import timestamp
from firmware_app.store.db import write_transaction
from firmware_app.store.models import Meta, OutboxMessage

NEXT_SEQ = "outbox.next_seq"
ACKED_UPTO = "outbox.acked_upto"
TABLE = OutboxMessage._meta.table_name
META = Meta._meta.table_name


@dataclass(frozen=True)
class OutboxRow:
    """One message as the sync thread sends it."""

    seq: int
    topic: str
    payload: bytes
    created_at: str


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_at: str | None
    next_seq: int
    acked_upto: int
    oldest_seq: int | None = None  # the oldest row waiting for an ack


class Outbox:
    """The outbox of one lane database.

    ``db`` is the lane's peewee database (each thread then uses its own
    connection) or a plain ``sqlite3`` connection in autocommit mode.
    """

    def __init__(self, db: peewee.SqliteDatabase | sqlite3.Connection) -> None:
        if isinstance(db, sqlite3.Connection):
            conn = db
            self.db: peewee.SqliteDatabase | None = None
            self._conn: Callable[[], sqlite3.Connection] = lambda: conn
        else:
            self.db = db
            self._conn = db.connection

    def _meta_int(self, key: str, default: int) -> int:
        row = self._conn().execute(f"SELECT value FROM {META} WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self._conn().execute(
            f"INSERT OR REPLACE INTO {META} (key, value) VALUES (?, ?)", (key, str(value))
        )

    # --- the lane loop ------------------------------------------------------------------

    def append(self, topic: str, build: Callable[[int], bytes], created_at: datetime) -> int:
        """Append one message; must run inside the caller's transaction.

        ``build(seq)`` returns the encoded message for the seq this row gets, so that
        the seq inside the payload and the row's seq can never differ.
        """
        return self.append_all([(topic, build)], created_at)[0]

    def append_all(
        self, messages: Sequence[tuple[str, Callable[[int], bytes]]], created_at: datetime
    ) -> list[int]:
        """Append (topic, build) messages with consecutive seqs, in the caller's
        transaction (a sale and its stock message: one read and one write of the mark)."""
        first = self._meta_int(NEXT_SEQ, 1)
        at = timestamp(created_at)
        conn = self._conn()
        conn.executemany(
            f"INSERT INTO {TABLE} (seq, topic, payload, created_at) VALUES (?, ?, ?, ?)",
            [(first + i, topic, build(first + i), at) for i, (topic, build) in enumerate(messages)],
        )
        self._set_meta(NEXT_SEQ, first + len(messages))
        return list(range(first, first + len(messages)))

    # --- the sync thread ----------------------------------------------------------------

    def unacked(
        self, after_seq: int = 0, limit: int = 100, *, upto: int | None = None
    ) -> list[OutboxRow]:
        """Unacknowledged rows with ``after_seq`` < seq (≤ ``upto`` when given), oldest first.

        An index range on (acked_at, seq): as cheap with 50,000 rows waiting as with ten.
        """
        below = "" if upto is None else " AND seq <= ?"
        rows = self._conn().execute(
            f"SELECT seq, topic, payload, created_at FROM {TABLE} "
            f"WHERE acked_at IS NULL AND seq > ?{below} ORDER BY seq LIMIT ?",
            (after_seq, limit) if upto is None else (after_seq, upto, limit),
        )
        return [OutboxRow(seq, topic, bytes(payload), at) for seq, topic, payload, at in rows]

    def last_seq(self) -> int:
        """The last seq assigned (0 before the first message)."""
        return self._meta_int(NEXT_SEQ, 1) - 1

    def ack_upto(self, seq: int, at: datetime) -> int:
        """Mark every row with seq ≤ ``seq`` acknowledged; returns how many were newly acked.

        Out-of-order or repeated acks are harmless: the mark only ever moves forward.
        ``StoreError`` (nothing marked) when ``seq`` is beyond the last seq assigned: no
        store server can hold a message that was never written, and such a mark would
        cover the next rows committed before they were ever sent.
        """
        conn = self._conn()
        with write_transaction(conn):
            if seq <= self._meta_int(ACKED_UPTO, 0):
                return 0
            last = self.last_seq()
            if seq > last:
                raise StoreError(f"ack upto {seq} is beyond the last seq assigned ({last})")
            n = conn.execute(
                f"UPDATE {TABLE} SET acked_at = ? WHERE seq <= ? AND acked_at IS NULL",
                (timestamp(at), seq),
            ).rowcount
            self._set_meta(ACKED_UPTO, seq)
            return int(n)

    def prune(self, acked_before: datetime, *, batch: int | None = None) -> int:
        """Delete rows acknowledged before ``acked_before``, oldest first; ``batch`` rows
        at most (one short transaction, so the lane's next sale never waits long).

        Returns how many went; fewer than ``batch`` means none is left to delete. Rows
        the store server has not acknowledged are never deleted.
        """
        conn = self._conn()
        old = "acked_at IS NOT NULL AND acked_at < ?"
        with write_transaction(conn):
            if batch is None:
                return int(
                    conn.execute(
                        f"DELETE FROM {TABLE} WHERE {old}", (timestamp(acked_before),)
                    ).rowcount
                )
            # Along the acked_at index: each batch stops after ``batch`` entries.
            return int(
                conn.execute(
                    f"DELETE FROM {TABLE} WHERE seq IN (SELECT seq FROM {TABLE} WHERE {old} "
                    "ORDER BY acked_at LIMIT ?)",
                    (timestamp(acked_before), batch),
                ).rowcount
            )

    def stats(self) -> OutboxStats:
        """What waits for the store server: one pass over the acked_at index's unacked
        entries (a millisecond or two with 50,000 waiting) and one row by its seq."""
        conn = self._conn()
        pending, oldest_seq = conn.execute(
            f"SELECT COUNT(seq), MIN(seq) FROM {TABLE} WHERE acked_at IS NULL"
        ).fetchone()
        oldest_at = None
        if oldest_seq is not None:
            row = conn.execute(f"SELECT created_at FROM {TABLE} WHERE seq = ?", (oldest_seq,))
            oldest_at = row.fetchone()[0]
        return OutboxStats(
            pending=int(pending),
            oldest_at=oldest_at,
            next_seq=self._meta_int(NEXT_SEQ, 1),
            acked_upto=self._meta_int(ACKED_UPTO, 0),
            oldest_seq=oldest_seq,
        )

    def first_seq(self) -> int | None:
        """The oldest row kept, acknowledged or not (a backup's manifest records it)."""
        return self._conn().execute(f"SELECT MIN(seq) FROM {TABLE}").fetchone()[0]

    def newest_at(self) -> str | None:
        """When the newest message kept was written (the lane's last record, for the
        doctor's clock check)."""
        return self._conn().execute(f"SELECT MAX(created_at) FROM {TABLE}").fetchone()[0]

    # --- backups and restores -------------------------------------------------------------

    def edge_payloads(self) -> list[bytes]:
        """The oldest and the newest message kept (whose lane a backup belongs to)."""
        conn = self._conn()
        found = []
        for order in ("ASC", "DESC"):
            row = conn.execute(f"SELECT payload FROM {TABLE} ORDER BY seq {order} LIMIT 1")
            found += [bytes(r[0]) for r in row]
        return found

    def unacked_rows(self, from_seq: int) -> list[tuple[int, str, bytes, str]]:
        """Every unacknowledged row from ``from_seq`` on, as (seq, topic, payload,
        created_at): what a restore carries over from the database it replaces."""
        return [
            (seq, topic, bytes(payload), created_at)
            for seq, topic, payload, created_at in self._conn().execute(
                f"SELECT seq, topic, payload, created_at FROM {TABLE} "
                "WHERE acked_at IS NULL AND seq >= ? ORDER BY seq",
                (from_seq,),
            )
        ]

    def restore_marks(
        self,
        carried: Iterable[tuple[int, str, bytes, str]],
        *,
        store_has_upto: int,
        next_seq: int,
        at: datetime,
    ) -> None:
        """A restore's rewrite, inside its transaction: put back the ``carried`` rows (sent
        by the database being replaced, unacknowledged), mark what the store server
        already has as acknowledged (an ack at or below the mark is ignored as old, so it
        would be sent forever), and set the marks so the next seq is ``next_seq``."""
        conn = self._conn()
        conn.executemany(
            f"INSERT OR REPLACE INTO {TABLE} (seq, topic, payload, created_at, acked_at) "
            "VALUES (?, ?, ?, ?, NULL)",
            carried,
        )
        conn.execute(
            f"UPDATE {TABLE} SET acked_at = ? WHERE seq <= ? AND acked_at IS NULL",
            (timestamp(at), store_has_upto),
        )
        self._set_meta(NEXT_SEQ, next_seq)
        self._set_meta(ACKED_UPTO, store_has_upto)
