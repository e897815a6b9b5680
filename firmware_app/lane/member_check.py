"""Members: the member on a sale as the store server vouched for it (plain values, so the
sale, the events and the state can all name them; the logic is in ``lane.members``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class MemberStatus(enum.Enum):
    """The store server's word on a member number (``store.member/1`` ``status``)."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


class CheckState(enum.Enum):
    """Where the question about the sale's member stands."""

    ASKED = "asked"  # asked the store server; no answer yet
    VERIFIED = "verified"  # the store server answered "active" in time
    UNVERIFIED = "unverified"  # no answer in time: the member stays, not verified


@dataclass(frozen=True)
class MemberCheck:
    """The question ``request_id`` about the sale's member, asked at ``asked_at``; once
    verified, the member's ``name`` and points ``balance`` before this sale (None:
    not known)."""

    request_id: str
    asked_at: datetime
    state: CheckState = CheckState.ASKED
    name: str = ""
    balance: int | None = None

    @property
    def verified(self) -> bool:
        return self.state is CheckState.VERIFIED
