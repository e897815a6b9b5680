"""The outbox: uplink messages waiting for the store server's acknowledgement.

Rows are appended by the lane loop inside the transaction that commits a sale or
an audit event (``append``), and leave only when an ``ack`` covers their seq.
The sync thread reads them in seq order and records acknowledgements.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from firmware_app.errors import StoreError
from firmware_app.store.db import models_of
from firmware_app.store.models import OutboxMessage

NEXT_SEQ = "outbox.next_seq"
ACKED_UPTO = "outbox.acked_upto"


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


def append(topic: str, build: Callable[[int], Mapping[str, Any]], created_at: datetime) -> int:
    """``Outbox.append`` on the database the module-level models are bound to (the lane's)."""
    return Outbox(OutboxMessage._meta.database).append(topic, build, created_at)


class Outbox:
    """The outbox as the sync thread sees it (reads, acknowledgements, housekeeping)."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self.db = db
        self.m = models_of(db)

    def _meta_int(self, key: str, default: int) -> int:
        row = self.m.Meta.get_or_none(self.m.Meta.key == key)
        return int(row.value) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self.m.Meta.insert(key=key, value=str(value)).on_conflict_replace().execute()

    def append(
        self, topic: str, build: Callable[[int], Mapping[str, Any]], created_at: datetime
    ) -> int:
        """Append one message; must run inside the caller's transaction.

        ``build(seq)`` returns the message body for the seq this row gets, so that
        the seq inside the payload and the row's seq can never differ.
        """
        seq = self._meta_int(NEXT_SEQ, 1)
        body = build(seq)
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.m.OutboxMessage.create(
            seq=seq,
            topic=topic,
            payload=payload,
            created_at=created_at.isoformat(timespec="milliseconds"),
        )
        self._set_meta(NEXT_SEQ, seq + 1)
        return seq

    def unacked(
        self, after_seq: int = 0, limit: int = 100, *, upto: int | None = None
    ) -> list[OutboxRow]:
        """Unacknowledged rows with ``after_seq`` < seq (≤ ``upto`` when given), oldest first.

        An index range on (acked_at, seq): as cheap with 50,000 rows waiting as with ten.
        """
        row = self.m.OutboxMessage
        where = [row.acked_at.is_null(), row.seq > after_seq]
        if upto is not None:
            where.append(row.seq <= upto)
        query = row.select().where(*where).order_by(row.seq).limit(limit)
        return [OutboxRow(r.seq, r.topic, bytes(r.payload), r.created_at) for r in query]

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
        row = self.m.OutboxMessage
        with self.db.atomic():
            if seq <= self._meta_int(ACKED_UPTO, 0):
                return 0
            last = self.last_seq()
            if seq > last:
                raise StoreError(f"ack upto {seq} is beyond the last seq assigned ({last})")
            n = (
                row.update(acked_at=at.isoformat(timespec="milliseconds"))
                .where(row.seq <= seq, row.acked_at.is_null())
                .execute()
            )
            self._set_meta(ACKED_UPTO, seq)
            return int(n)

    def prune(self, acked_before: datetime, *, batch: int | None = None) -> int:
        """Delete rows acknowledged before ``acked_before``, oldest first; ``batch`` rows
        at most (one short transaction, so the lane's next sale never waits long).

        Returns how many went; fewer than ``batch`` means none is left to delete. Rows
        the store server has not acknowledged are never deleted.
        """
        row = self.m.OutboxMessage
        cutoff = acked_before.isoformat(timespec="milliseconds")
        old = row.acked_at.is_null(False) & (row.acked_at < cutoff)
        with self.db.atomic():
            if batch is None:
                return int(row.delete().where(old).execute())
            # Along the acked_at index: each batch stops after ``batch`` entries.
            chosen = row.select(row.seq).where(old).order_by(row.acked_at).limit(batch)
            return int(row.delete().where(row.seq.in_(chosen)).execute())

    def stats(self) -> OutboxStats:
        """What waits for the store server: one pass over the acked_at index's unacked
        entries (a millisecond or two with 50,000 waiting) and one row by its seq."""
        row = self.m.OutboxMessage
        pending, oldest_seq = (
            row.select(peewee.fn.COUNT(row.seq), peewee.fn.MIN(row.seq))
            .where(row.acked_at.is_null())
            .tuples()
            .get()
        )
        oldest_at = None
        if oldest_seq is not None:
            oldest_at = row.select(row.created_at).where(row.seq == oldest_seq).scalar()
        return OutboxStats(
            pending=int(pending),
            oldest_at=oldest_at,
            next_seq=self._meta_int(NEXT_SEQ, 1),
            acked_upto=self._meta_int(ACKED_UPTO, 0),
        )
