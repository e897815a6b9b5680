"""Effects: what the core asks the shell to do, in order.

Durable effects (saving, committing, recording) always come first in a list, so
that when one fails the shell can stop before anything visible happens and keep
the previous state: a drawer never opens for a sale that was not saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firmware_app.lane.ports import Cashier
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.sale import FinishedSale, Sale, TenderType


@dataclass(frozen=True)
class AuditEvent:
    """An audit record for the ``events`` topic (sign-on/off, void, no-sale, approvals)."""

    type: str
    at: datetime
    cashier: str | None
    sale_id: str | None = None
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SaveSale:
    """Persist the open sale as it now is (durable)."""

    sale: Sale


@dataclass(frozen=True)
class DiscardSale:
    """Forget an open sale that had nothing in it (durable)."""

    sale_id: str


@dataclass(frozen=True)
class SaveSession:
    """Persist who is signed on (None: nobody), so a restart resumes the lane (durable)."""

    cashier: Cashier | None


@dataclass(frozen=True)
class CommitSale:
    """Commit a finished transaction with its journal entry and outbox messages (durable)."""

    record: FinishedSale


@dataclass(frozen=True)
class RecordEvent:
    """Write an audit event to the outbox (durable)."""

    event: AuditEvent


@dataclass(frozen=True)
class KickDrawer:
    """Open the cash drawer."""


@dataclass(frozen=True)
class PrintReceipt:
    receipt: Receipt


@dataclass(frozen=True)
class ScaleCommand:
    """Send the scale a command: ``zero`` or ``tare``."""

    command: str


@dataclass(frozen=True)
class RequestPayment:
    """Ask the payment terminal for ``amount`` (minor units); it answers with PaymentResult."""

    request_id: str
    tender: TenderType
    amount: int


Effect = (
    SaveSale
    | DiscardSale
    | SaveSession
    | CommitSale
    | RecordEvent
    | KickDrawer
    | PrintReceipt
    | RequestPayment
    | ScaleCommand
)

DURABLE = (SaveSale, DiscardSale, SaveSession, CommitSale, RecordEvent)
