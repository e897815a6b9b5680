"""Members: the store server's word on a sale's member, as the lane database keeps it
(JSON in the open sale's ``member_check`` column and in a parked sale's row)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from firmware_app.lane.member_check import CheckState, MemberCheck
from firmware_app.lane.timestamps import timestamp


def to_row(check: MemberCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "request_id": check.request_id,
        "asked_at": timestamp(check.asked_at),
        "state": check.state.value,
        "name": check.name,
        "balance": check.balance,
    }


def from_row(row: dict[str, Any] | None) -> MemberCheck | None:
    if not row:
        return None
    return MemberCheck(
        request_id=row["request_id"],
        asked_at=datetime.fromisoformat(row["asked_at"]),
        state=CheckState(row["state"]),
        name=row.get("name", ""),
        balance=row.get("balance"),
    )


def to_text(check: MemberCheck | None) -> str:
    """The column's text: "" without a check."""
    row = to_row(check)
    return "" if row is None else json.dumps(row, ensure_ascii=False)


def from_text(text: str | None) -> MemberCheck | None:
    return from_row(json.loads(text)) if text else None
