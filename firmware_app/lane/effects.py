"""Effects: what the core asks the shell to do, in order.

Durable effects (saving, committing, recording) always come first in a list, so
that when one fails the shell can stop before anything visible happens and keep
the previous state: a drawer never opens for a sale that was not saved. The shell
then tells the core (``SaveFailed``), which keeps what must not be lost, such as a
card approval.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from firmware_app.lane.cash_movement import CashMovement
from firmware_app.lane.parked import ParkedSale
from firmware_app.lane.ports import Cashier
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.sale import FinishedSale, Sale, TenderType
from firmware_app.lane.weighing import ScaleCommand


@dataclass(frozen=True)
class AuditEvent:
    """An audit record for the ``events`` topic (sign-on/off, void, no-sale, approvals)."""

    type: str
    at: datetime
    cashier: str | None
    sale_id: str | None = None
    details: tuple[tuple[str, str], ...] = ()
    # A JSON object: the ``details`` of an event whose details nest (x_report,
    # z_report); when set, it is sent instead of ``details``.
    data: str = ""


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


class PaymentStatus(enum.Enum):
    """Where a charge on the terminal stands, as the payment log records it."""

    REQUESTED = "requested"  # asked; no answer yet (after a power cut: unknown)
    APPROVED = "approved"
    DECLINED = "declined"
    REVERSING = "reversing"  # its reversal asked; no answer yet
    REVERSED = "reversed"


@dataclass(frozen=True)
class LogPayment:
    """Write a charge's row in the payment log (durable; upsert by ``payment_id``).

    The shell writes these in a transaction of their own, before the rest of the
    event's durable effects: an approval reaches the disk even when the sale it
    pays for cannot, and the store adds it to the open sale after a restart.
    ``reversal`` is the terminal's reference of a reversal. Money in minor units.
    """

    payment_id: str
    sale_id: str
    tender: TenderType
    amount: int
    status: PaymentStatus
    at: datetime
    reference: str = ""
    reversal: str = ""


# Roles and approvals: the PIN lockout, kept in the store so it survives a restart.
@dataclass(frozen=True)
class RecordPinFailure:
    """A wrong PIN for ``cashier_id``: now ``failures`` in a row, locked until
    ``locked_until`` (None: not locked) (durable)."""

    cashier_id: str
    failures: int
    locked_until: datetime | None
    at: datetime


@dataclass(frozen=True)
class ClearPinFailures:
    """A right PIN for ``cashier_id``: its count of wrong ones starts again (durable)."""

    cashier_id: str


@dataclass(frozen=True)
class KickDrawer:
    """Open the cash drawer."""


@dataclass(frozen=True)
class PrintReceipt:
    receipt: Receipt


@dataclass(frozen=True)
class SendScaleCommand:
    """Send the scale a command; its answer comes back as a ``ScaleCommandResult``."""

    command: ScaleCommand


@dataclass(frozen=True)
class RequestPayment:
    """Ask the payment terminal for ``amount`` (minor units); it answers with PaymentResult.

    Returns: a negative ``amount`` asks the terminal to pay that much back to the
    customer's card or mobile account (a refund not tied to one earlier charge)."""

    request_id: str
    tender: TenderType
    amount: int


@dataclass(frozen=True)
class ReversePayment:
    """Ask the payment terminal to reverse (refund) the charge with ``reference`` of
    ``amount`` (minor units); it answers with a PaymentResult for ``request_id``."""

    request_id: str
    tender: TenderType
    amount: int
    reference: str


@dataclass(frozen=True)
class AbandonPayment:
    """The lane stopped waiting for ``request_id``: should the terminal approve it
    after all, the shell reverses that charge at once, since no sale holds it."""

    request_id: str


# --- suspend and resume -----------------------------------------------------------


@dataclass(frozen=True)
class ParkSale:
    """Park the open sale under its suspend number and forget it as the open sale (durable,
    in the same transaction: the sale is parked or still open, never both)."""

    parked: ParkedSale


@dataclass(frozen=True)
class UnparkSale:
    """Take parked sale ``no`` out of the store (durable); a ``SaveSale`` of the resumed
    sale follows it in the same transaction."""

    no: int
    sale_id: str


# --- training mode, cash movements, reports ----------------------------------------------


@dataclass(frozen=True)
class RecordCashMovement:
    """Store a paid-in or paid-out (durable: committed before the drawer opens)."""

    movement: CashMovement


@dataclass(frozen=True)
class SaveTraining:
    """Persist whether the lane is in training mode, so a restart keeps it (durable)."""

    on: bool


@dataclass(frozen=True)
class RecordZReport:
    """Close ``business_date`` with Z report ``z_no`` (durable; a closed day refuses a
    second one). ``details``: the report as published, JSON."""

    z_no: int
    business_date: date
    at: datetime
    cashier: str
    details: str


# --- members ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AskMember:
    """Ask the store server about ``member`` (``lane.member-request/1``), live, not
    through the outbox: a question nobody answers in time is moot. The answer comes
    back as a ``MemberAnswer``."""

    request_id: str
    member: str


@dataclass(frozen=True)
class MemberIgnored:
    """An answer about a member came too late or for another question: the shell
    logs it (``why``), nothing else happens."""

    request_id: str
    why: str


Effect = (
    SaveSale
    | DiscardSale
    | SaveSession
    | CommitSale
    | RecordEvent
    | LogPayment
    | KickDrawer
    | PrintReceipt
    | RequestPayment
    | ReversePayment
    | AbandonPayment
    | SendScaleCommand
    | RecordPinFailure
    | ClearPinFailures
    | ParkSale
    | UnparkSale
    | RecordCashMovement
    | SaveTraining
    | RecordZReport
    | AskMember
    | MemberIgnored
)

DURABLE = (
    SaveSale,
    DiscardSale,
    SaveSession,
    CommitSale,
    RecordEvent,
    LogPayment,
    RecordPinFailure,
    ClearPinFailures,
    ParkSale,  # suspend and resume
    UnparkSale,
    RecordCashMovement,
    SaveTraining,
    RecordZReport,
)
