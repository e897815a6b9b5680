"""A line's price override and manual discounts as JSON, for the open sale's rows
(``sales``) and parked sales (``suspended``): price override and discounts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal
from typing import Any

from firmware_app.lane.adjustments import DiscountScope, ManualDiscount, PriceOverride
from firmware_app.lane.sale import Line
from firmware_app.store import models


def to_row(line: Line) -> dict[str, Any] | None:
    """The line's adjustments as a JSON object, or None when it has none."""
    if line.override is None and not line.discounts:
        return None
    o = line.override
    return {
        "override": None
        if o is None
        else {"from": o.was, "to": o.now, "reason": o.reason, "by": o.by},
        "discounts": [
            {"percent": str(d.percent), "amount": d.amount, "scope": d.scope.value, "by": d.by}
            for d in line.discounts
        ],
    }


def to_text(line: Line) -> str | None:
    row = to_row(line)
    return None if row is None else json.dumps(row, ensure_ascii=False, sort_keys=True)


def with_row(line: Line, row: dict[str, Any] | None) -> Line:
    """``line`` with the adjustments of ``row`` (``to_row``'s shape)."""
    if not row:
        return line
    o = row.get("override")
    override = (
        None
        if o is None
        else PriceOverride(int(o["from"]), int(o["to"]), str(o["reason"]), str(o["by"]))
    )
    discounts = tuple(
        ManualDiscount(
            Decimal(d["percent"]), int(d["amount"]), DiscountScope(d["scope"]), str(d["by"])
        )
        for d in row.get("discounts", ())
    )
    return replace(line, override=override, discounts=discounts)


def drop_all(conn: sqlite3.Connection) -> None:
    """Delete every open line's adjustments (a restore discards the open sale). A
    database from before price overrides has no such table: nothing to drop."""
    table = models.OpenLineAdjustment._meta.table_name
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is not None:
        conn.execute(f'DELETE FROM "{table}"')
