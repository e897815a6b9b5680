"""Members over MQTT: the lane's live question about a member number
(``lane.member-request/1``) and the store server's answer (``store.member/1``).

The question is published at QoS 1 when the broker is there and never queued in the
outbox: it is worth asking only while the customer stands at the lane, and the core
stops waiting for the answer after ``[members] answer_timeout`` (the member then
stays on the sale, unverified). An answer is checked against its schema here, on the
sync thread, and only a well-formed one reaches the lane's inbox as a
``MemberAnswer``; anything else is logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from firmware_app.lane.events import MemberAnswer
from firmware_app.lane.member_check import MemberStatus
from firmware_app.sync.contract import decode, timestamp, validate
from firmware_app.sync.errors import ContractError

log = logging.getLogger(__name__)

REQUEST = "lane.member-request/1"
ANSWER = "store.member/1"
MAX_ANSWER_BYTES = 4096  # an answer is about 150 bytes


def masked(member: str) -> str:
    """A member number as logs show it: its last four digits (a phone number is
    personal data)."""
    return "…" + member[-4:]


def member_request_message(
    member: str, request_id: str, *, at: datetime, store: str, lane: str
) -> dict[str, Any]:
    return {
        "schema": REQUEST,
        "at": timestamp(at),
        "store": store,
        "lane": lane,
        "member": member,
        "request_id": request_id,
    }


def parse_member_answer(payload: bytes) -> MemberAnswer:
    """A ``store.member/1`` payload as the core's event; ``ContractError`` naming the
    field and the reason for anything else."""
    message = decode(payload, max_bytes=MAX_ANSWER_BYTES)
    if message.get("schema") != ANSWER:
        raise ContractError(f"schema: expected {ANSWER!r}, got {str(message.get('schema'))[:64]!r}")
    validate(message)
    return MemberAnswer(
        request_id=message["request_id"],
        member=message["member"],
        status=MemberStatus(message["status"]),
        name=message.get("name") or "",
        points=message.get("points"),
    )


class MemberAnswers:
    """Hands the store server's answers to the lane (``post``: the inbox's)."""

    def __init__(self, post: Callable[[MemberAnswer], None]) -> None:
        self.post = post
        self.rejected = 0

    def handle(self, topic: str, payload: bytes) -> None:
        """One downlink message on the member topic (called on the sync thread)."""
        try:
            answer = parse_member_answer(payload)
        except ContractError as e:
            self.rejected += 1
            log.warning("member answer on %s dropped, nothing changed: %s", topic, e)
            return
        log.info(
            "member answer %s for request %s: %s",
            masked(answer.member),
            answer.request_id,
            answer.status.value,
        )
        self.post(answer)
