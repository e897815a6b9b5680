"""Receipts owed to customers: the print queue and the last receipt.

The lane loop adds a receipt in the same transaction that commits its sale,
so a sale is never paid without its receipt on record; the printing thread
takes jobs in order and removes each one only when the printer has reported
it printed. The last original receipt is kept too, so that ``REPRINT`` still
works after a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import peewee

from firmware_app.lane.receipt import Receipt, ReceiptLine
from firmware_app.store.db import models_of, write_transaction

LAST_RECEIPT = "receipt.last"


@dataclass(frozen=True)
class Job:
    id: int
    receipt: Receipt
    created_at: datetime
    reprint: bool
    attempts: int


def receipt_to_json(receipt: Receipt) -> str:
    """The receipt as JSON (orjson writes dataclasses as objects of their fields, in
    order, as ``json.dumps(asdict(receipt))`` would, and much faster: this is on the
    commit path of every sale with a printer)."""
    return orjson.dumps(receipt).decode("utf-8")


def receipt_from_json(text: str) -> Receipt:
    data: dict[str, Any] = json.loads(text)
    pairs = ("totals", "taxes", "tenders")
    return Receipt(
        **{
            **data,
            "header": tuple(data["header"]),
            "lines": tuple(_receipt_line(line) for line in data["lines"]),
            **{key: tuple(tuple(p) for p in data[key]) for key in pairs},
            "info": tuple(data["info"]),
            "footer": tuple(data.get("footer", ())),
        }
    )


def _receipt_line(data: dict[str, Any]) -> ReceiptLine:
    notes = tuple(tuple(note) for note in data.get("notes", ()))  # price override, discounts
    return ReceiptLine(**{**data, "notes": notes})


class PrintQueue:
    """Print jobs in the lane database (any thread; peewee gives each its connection)."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self.db = db
        self.m = models_of(db)

    def add(self, receipt: Receipt, at: datetime) -> int:
        """Queue ``receipt``; inside the caller's transaction when there is one.

        An original receipt (no banner) also becomes the one ``REPRINT`` prints.
        """
        conn = self.db.connection()
        text = receipt_to_json(receipt)
        with write_transaction(conn):
            job = conn.execute(
                f'INSERT INTO "{self.m.PrintJob._meta.table_name}" '
                "(number, receipt, created_at, reprint, attempts) VALUES (?, ?, ?, 0, 0)",
                (receipt.number, text, at.isoformat(timespec="milliseconds")),
            )
            if not receipt.banner:
                conn.execute(
                    f'INSERT OR REPLACE INTO "{self.m.Meta._meta.table_name}" (key, value) '
                    "VALUES (?, ?)",
                    (LAST_RECEIPT, text),
                )
            return int(job.lastrowid or 0)

    def next(self) -> Job | None:
        row = self.m.PrintJob.select().order_by(self.m.PrintJob.id).first()
        if row is None:
            return None
        return Job(
            id=row.id,
            receipt=receipt_from_json(row.receipt),
            created_at=datetime.fromisoformat(row.created_at),
            reprint=bool(row.reprint),
            attempts=int(row.attempts),
        )

    def attempt(self, job: Job) -> None:
        """About to send ``job``: if the lane stops mid-receipt, the next try is a reprint."""
        self.m.PrintJob.update(reprint=True, attempts=job.attempts + 1).where(
            self.m.PrintJob.id == job.id
        ).execute()

    def failed(self, job: Job, *, printed_partly: bool) -> None:
        """Nothing printed after all (the printer refused before any byte): as before."""
        self.m.PrintJob.update(reprint=job.reprint or printed_partly).where(
            self.m.PrintJob.id == job.id
        ).execute()

    def done(self, job_id: int) -> None:
        self.m.PrintJob.delete().where(self.m.PrintJob.id == job_id).execute()

    def pending(self) -> int:
        return int(self.m.PrintJob.select().count())

    def last_receipt(self) -> Receipt | None:
        row = self.m.Meta.get_or_none(self.m.Meta.key == LAST_RECEIPT)
        return receipt_from_json(row.value) if row else None
