"""What the store needs from the layers above it, as ports.

The store writes each uplink message in the transaction that commits its
record, but what a message says belongs to the MQTT contract
(``sync.contract``), above the store: the composition root hands the store a
``sync.contract.LaneUplink``, which fills this port.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from firmware_app.lane.effects import AuditEvent
from firmware_app.lane.sale import FinishedSale


class UplinkMessages(Protocol):
    """One lane's uplink messages: topics by kind (``sales``, ``stock``, ``events``) and
    encoded payloads for a given seq."""

    def topic(self, kind: str) -> str: ...

    def sale_body(self, record: FinishedSale) -> Mapping[str, Any]:
        """The sale as the journal keeps and hashes it (the message without envelope)."""
        ...

    def sale(self, body_text: str, *, at: str, seq: int, journal_hash: str) -> bytes:
        """The sale message around ``body_text``, its body in the journal's canonical JSON."""
        ...

    def stock(self, record: FinishedSale, *, seq: int) -> bytes: ...

    def event(self, event: AuditEvent, *, seq: int) -> bytes: ...
