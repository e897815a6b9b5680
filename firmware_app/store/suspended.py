"""Parked sales (suspend and resume) in the lane database.

The lane loop writes them through ``SalesStore.apply``, inside the one transaction
of an event: a park inserts the parked sale and deletes the open sale's rows, a
resume deletes the parked row and the ``SaveSale`` beside it writes the open sale
back, so after a power cut a sale is parked or open, never both and never gone.
Suspend numbers come from a counter in ``Meta`` that only grows: a slip of a sale
resumed long ago never finds another one.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from firmware_app.errors import StoreError
from firmware_app.lane.catalog import Unit
from firmware_app.lane.parked import ParkedSale
from firmware_app.lane.sale import Line, ReturnRef, Sale
from firmware_app.lane.timestamps import timestamp
from firmware_app.store import line_adjustments, member_rows, models

NEXT_PARK_NO = "suspend.next_no"
PARKED = '"' + models.ParkedSale._meta.table_name + '"'
META = '"' + models.Meta._meta.table_name + '"'


class ParkedSaleMissing(StoreError):
    """A resume names a parked sale the database does not hold."""


def park(conn: sqlite3.Connection, parked: ParkedSale) -> None:
    """Insert ``parked`` and move the suspend counter past its number (in the caller's
    transaction). A number given before, or a sale with a tender (which the core never
    parks), raises ``StoreError``, so the park is not saved and the sale stays open."""
    given = next_no(conn)
    if parked.no < given:
        raise StoreError(f"suspend number {parked.no} was given before (next is {given})")
    if parked.sale.tenders:
        raise StoreError(f"sale {parked.sale.id} has tenders: it cannot be parked")
    conn.execute(
        f"INSERT INTO {PARKED} (no, sale_id, cashier, parked_at, sale) VALUES (?, ?, ?, ?, ?)",
        (
            parked.no,
            parked.sale.id,
            parked.cashier,
            timestamp(parked.parked_at),
            json.dumps(_sale_row(parked.sale), ensure_ascii=False),
        ),
    )
    conn.execute(
        f"INSERT OR REPLACE INTO {META} (key, value) VALUES (?, ?)",
        (NEXT_PARK_NO, str(parked.no + 1)),
    )


def unpark(conn: sqlite3.Connection, no: int, sale_id: str) -> None:
    """Delete parked sale ``no`` (in the caller's transaction); raises
    ``ParkedSaleMissing`` when it is not there, so the resume is not saved."""
    gone = conn.execute(f"DELETE FROM {PARKED} WHERE no = ? AND sale_id = ?", (no, sale_id))
    if gone.rowcount != 1:
        raise ParkedSaleMissing(f"parked sale {no} ({sale_id}) is not in the lane database")


def load(conn: sqlite3.Connection) -> tuple[ParkedSale, ...]:
    """Every parked sale, by suspend number."""
    rows = conn.execute(f"SELECT no, cashier, parked_at, sale FROM {PARKED} ORDER BY no")
    return tuple(
        ParkedSale(no, _sale_from(json.loads(sale)), datetime.fromisoformat(at), cashier)
        for no, cashier, at, sale in rows
    )


def next_no(conn: sqlite3.Connection) -> int:
    """The next suspend number: past every number ever given on this lane."""
    row = conn.execute(f"SELECT value FROM {META} WHERE key = ?", (NEXT_PARK_NO,)).fetchone()
    highest = conn.execute(f"SELECT MAX(no) FROM {PARKED}").fetchone()[0]
    return max(int(row[0]) if row else 1, (highest or 0) + 1)


def drop_all(conn: sqlite3.Connection) -> tuple[int, ...]:
    """Delete every parked sale (a restore: parked at backup time, each may have been
    resumed and sold since); returns their numbers. A database from before parked sales
    has no such table: nothing to drop."""
    table = models.ParkedSale._meta.table_name
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None:
        return ()
    numbers = tuple(row[0] for row in conn.execute(f"SELECT no FROM {PARKED} ORDER BY no"))
    conn.execute(f"DELETE FROM {PARKED}")
    return numbers


def _sale_row(sale: Sale) -> dict[str, Any]:
    return {
        "id": sale.id,
        "opened_at": timestamp(sale.opened_at),
        "cashier": sale.cashier,
        "member": sale.member,
        "rounding": sale.rounding,
        "age_checked": list(sale.age_checked),  # restrictions
        "member_check": member_rows.to_row(sale.member_check),  # members
        "lines": [
            {
                "no": line.no, "sku": line.sku, "code": line.code, "name": line.name,
                "unit": line.unit.value, "qty": line.qty, "unit_price": line.unit_price,
                "amount": line.amount, "tax_rate": str(line.tax_rate),
                "discount": line.discount, "voided": line.voided,
                "weight_text": line.weight_text,
                # price override and discounts
                **({"adjustments": adj} if (adj := line_adjustments.to_row(line)) else {}),
                "return_of": _ref_row(line.return_of),  # returns
            }
            for line in sale.lines
        ],
    }  # fmt: skip


def _sale_from(row: dict[str, Any]) -> Sale:
    return Sale(
        id=row["id"],
        opened_at=datetime.fromisoformat(row["opened_at"]),
        cashier=row["cashier"],
        member=row["member"],
        rounding=row["rounding"],
        age_checked=tuple(row.get("age_checked", ())),  # restrictions (older rows: none)
        member_check=member_rows.from_row(row.get("member_check")),  # members
        lines=tuple(_line_from(line) for line in row["lines"]),
    )


def _line_from(row: dict[str, Any]) -> Line:
    fields = {k: v for k, v in row.items() if k not in ("adjustments", "return_of")}
    line = Line(
        **{
            **fields,
            "unit": Unit(row["unit"]),
            "tax_rate": Decimal(row["tax_rate"]),
            "return_of": _ref_from(row.get("return_of")),  # returns
        }
    )
    return line_adjustments.with_row(line, row.get("adjustments"))  # price override, discounts


# Returns: a parked return line keeps what it gives back.
def _ref_row(ref: ReturnRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"lane": ref.lane, "receipt_no": ref.receipt_no, "line": ref.line}


def _ref_from(row: dict[str, Any] | None) -> ReturnRef | None:
    return None if row is None else ReturnRef(row["lane"], row["receipt_no"], row["line"])
