"""A line's price override and manual discounts as JSON, for the open sale's rows
(``sales``) and parked sales (``suspended``): price override and discounts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal
from typing import Any

from firmware_app.lane.adjustments import DiscountScope, ManualDiscount, PriceOverride
from firmware_app.lane.pricing import PromoShare
from firmware_app.lane.sale import Line
from firmware_app.store import models


def to_row(line: Line) -> dict[str, Any] | None:
    """The line's adjustments as a JSON object, or None when it has none."""
    pricing = _pricing_row(line)
    if line.override is None and not line.discounts and pricing is None:
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
        **({"pricing": pricing} if pricing is not None else {}),
    }


# Promotions and members: what the pricing engine prices the line by, and what it took off.
def _pricing_row(line: Line) -> dict[str, Any] | None:
    if (
        line.department is None
        and line.member_price is None
        and not line.member_saving
        and not line.promotions
    ):
        return None
    return {
        "department": line.department,
        "member_price": line.member_price,
        "member_saving": line.member_saving,
        "promotions": [[p.id, p.name, p.discount] for p in line.promotions],
    }


def _with_pricing(line: Line, row: dict[str, Any] | None) -> Line:
    if not row:
        return line
    member_price = row.get("member_price")
    return replace(
        line,
        department=None if row.get("department") is None else str(row["department"]),
        member_price=None if member_price is None else int(member_price),
        member_saving=int(row.get("member_saving", 0)),
        promotions=tuple(
            PromoShare(str(pid), str(name), int(discount))
            for pid, name, discount in row.get("promotions", ())
        ),
    )


def to_text(line: Line) -> str | None:
    row = to_row(line)
    return None if row is None else json.dumps(row, ensure_ascii=False, sort_keys=True)


def with_row(line: Line, row: dict[str, Any] | None) -> Line:
    """``line`` with the adjustments of ``row`` (``to_row``'s shape)."""
    if not row:
        return line
    line = _with_pricing(line, row.get("pricing"))  # promotions and members
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
