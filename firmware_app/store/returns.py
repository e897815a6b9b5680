"""Returns: the links of return lines to what they give back, and finding a finished
sale of this lane by its receipt number (the core's ``ReturnsPort``).

The links live in their own table (``ReturnLine``), written with the open sale's
lines and kept with the finished transaction; what a sold line has already given
back is the sum of the committed, unvoided return lines that name it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import peewee

from firmware_app.lane.return_source import NotReturnable, ReturnSource
from firmware_app.lane.sale import Line, ReturnRef, SaleKind
from firmware_app.lane.timestamps import timestamp
from firmware_app.store import models
from firmware_app.store.db import models_of


def _table(model: type[models.BaseModel]) -> str:
    return '"' + model._meta.table_name + '"'


LINKS = _table(models.ReturnLine)


def save_links(conn: sqlite3.Connection, sale_id: str, lines: Iterable[Line]) -> None:
    """Write the ``return_of`` of each of ``lines`` that has one."""
    rows = [
        (sale_id, line.no, line.return_of.lane, line.return_of.receipt_no, line.return_of.line)
        for line in lines
        if line.return_of is not None
    ]
    if rows:
        conn.executemany(
            f"INSERT OR REPLACE INTO {LINKS} (sale_id, no, of_lane, of_receipt, of_line) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )


def links(conn: sqlite3.Connection, sale_id: str) -> dict[int, ReturnRef]:
    """The ``return_of`` of a sale's lines, by line number."""
    cursor = conn.execute(
        f"SELECT no, of_lane, of_receipt, of_line FROM {LINKS} WHERE sale_id = ?", (sale_id,)
    )
    return {no: ReturnRef(lane, receipt, line) for no, lane, receipt, line in cursor}


def drop_links(conn: sqlite3.Connection, sale_ids: Iterable[str]) -> None:
    conn.executemany(f"DELETE FROM {LINKS} WHERE sale_id = ?", [(i,) for i in sale_ids])


class SaleLookup:
    """``ReturnsPort`` over the lane database: this lane's finished sales by receipt.

    A sale closed more than ``keep_days`` ago counts as gone even before pruning
    deletes it, so that what can be returned does not hang on when pruning ran.
    """

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        lane: str,
        *,
        keep_days: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.m = models_of(db)
        self.lane = lane
        self.keep_days = keep_days
        self.clock = clock

    def sale_by_receipt(self, receipt_no: int) -> ReturnSource | NotReturnable:
        m = self.m
        txn = m.Transaction.get_or_none(m.Transaction.receipt_no == receipt_no)
        if txn is None:
            return self._why_not(receipt_no)
        if txn.closed_at < timestamp(self.clock() - timedelta(days=self.keep_days)):
            return NotReturnable.PRUNED
        from firmware_app.store.sales import _line_from  # sales imports this module

        conn = self.db.connection()
        linked = links(conn, txn.sale_id)
        lines = tuple(
            self._with_link(_line_from(row), linked)
            for row in m.TransactionLine.select()
            .where(m.TransactionLine.sale_id == txn.sale_id)
            .order_by(m.TransactionLine.no)
        )
        return ReturnSource(
            self.lane,
            receipt_no,
            SaleKind(txn.kind),
            lines,
            self._returned(conn, receipt_no),
            **self._member(txn.sale_id),  # members and points
        )

    def _member(self, sale_id: str) -> dict[str, Any]:
        """Members and points: the sale's member, whether it was verified, and the points
        it earned, as its sale message (the journal's record) says."""
        m = self.m
        entry = m.JournalEntry.get_or_none(m.JournalEntry.sale_id == sale_id)
        record = json.loads(entry.record) if entry is not None else {}
        return {
            "member": record.get("member"),
            "member_verified": bool(record.get("member_verified", False)),
            "points": int(record.get("points", 0)),
        }

    @staticmethod
    def _with_link(line: Line, linked: dict[int, ReturnRef]) -> Line:
        ref = linked.get(line.no)
        return line if ref is None else replace(line, return_of=ref)

    def _returned(self, conn: sqlite3.Connection, receipt_no: int) -> tuple[tuple[int, int], ...]:
        """Per sold line, what committed returns gave back of it (thousandths)."""
        lines = _table(models.TransactionLine)
        cursor = conn.execute(
            f"SELECT r.of_line, -SUM(l.qty) FROM {LINKS} r JOIN {lines} l "
            "ON l.sale_id = r.sale_id AND l.no = r.no "
            "WHERE r.of_lane = ? AND r.of_receipt = ? AND NOT l.voided "
            "GROUP BY r.of_line ORDER BY r.of_line",
            (self.lane, receipt_no),
        )
        return tuple((int(no), int(qty)) for no, qty in cursor)

    def _why_not(self, receipt_no: int) -> NotReturnable:
        # Imported here: sales imports this module for the links.
        from firmware_app.store.sales import last_receipt_no

        last = last_receipt_no(self.db.connection())
        if last is not None and receipt_no <= last:
            return NotReturnable.PRUNED  # it was given: its sale is gone
        m = self.m
        if m.TrainingSale.get_or_none(m.TrainingSale.training_no == receipt_no) is not None:
            return NotReturnable.TRAINING
        return NotReturnable.UNKNOWN
