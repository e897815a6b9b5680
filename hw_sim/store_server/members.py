"""Members at the simulated store server: who they are, and their points.

A members file (``--members FILE``, e.g. ``hw_sim/samples/members.json``) lists each
member: ``{"number": "6901234567892", "name": "王芳", "status": "active", "points":
120}``; ``points`` is the balance before the sales this server receives. Each
``lane.member-request/1`` is answered on the lane's ``member`` topic with
``store.member/1``: the member's status (``unknown`` when not in the file), and for an
active member the name and the balance, the file's points plus those of every sale
received since (the ledger counts each sale's ``points`` once, whatever comes twice).
Without a members file the server answers nothing, and lanes keep members unverified.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware_app.sync.contract import ContractError, decode, timestamp, validate
from hw_sim.store_server.errors import StoreServerError

log = logging.getLogger(__name__)

STATUSES = ("active", "blocked", "unknown")
MAX_BYTES = 4096  # a member request is about 150 bytes


@dataclass(frozen=True)
class Member:
    number: str
    name: str
    status: str
    points: int  # the balance before the sales this server receives


def load_members(path: Path) -> dict[str, Member]:
    """The members file; ``StoreServerError`` naming the entry and field that is wrong."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise StoreServerError(f"--members {path}: {e}") from e
    if not isinstance(rows, list):
        raise StoreServerError(f"--members {path}: expected a JSON list of members")
    members: dict[str, Member] = {}
    for i, row in enumerate(rows):
        member = _member(row, f"--members {path}: [{i}]")
        if member.number in members:
            raise StoreServerError(f"--members {path}: [{i}].number: {member.number} twice")
        members[member.number] = member
    return members


def _member(row: Any, where: str) -> Member:
    if not isinstance(row, dict):
        raise StoreServerError(f"{where}: expected an object")
    number, name = row.get("number"), row.get("name", "")
    status, points = row.get("status", "active"), row.get("points", 0)
    if not isinstance(number, str) or not (number.isascii() and number.isdigit()):
        raise StoreServerError(f"{where}.number: expected digits, got {number!r}")
    if len(number) > 20:
        raise StoreServerError(f"{where}.number: more than 20 digits")
    if not isinstance(name, str) or len(name) > 64:
        raise StoreServerError(f"{where}.name: expected text of at most 64 characters")
    if status not in STATUSES:
        raise StoreServerError(f"{where}.status: expected one of {', '.join(STATUSES)}")
    if isinstance(points, bool) or not isinstance(points, int) or abs(points) > 2**53 - 1:
        raise StoreServerError(f"{where}.points: expected an integer, got {points!r}")
    return Member(number, name, status, points)


def parse_request(payload: bytes) -> dict[str, Any]:
    """A checked ``lane.member-request/1``; ``ContractError`` for anything else."""
    message = decode(payload, max_bytes=MAX_BYTES)
    if message.get("schema") != "lane.member-request/1":
        raise ContractError(f"schema: {str(message.get('schema'))[:64]!r} on a member topic")
    validate(message)
    return message


def answer(
    request: dict[str, Any], member: Member | None, earned: int, *, at: datetime
) -> dict[str, Any]:
    """The ``store.member/1`` answer to ``request``; ``earned``: the member's points
    from the sales received."""
    message: dict[str, Any] = {
        "schema": "store.member/1",
        "at": timestamp(at),
        "request_id": request["request_id"],
        "member": request["member"],
        "status": "unknown" if member is None else member.status,
    }
    if member is not None and member.status == "active":
        message["name"] = member.name
        message["points"] = member.points + earned
    return message
