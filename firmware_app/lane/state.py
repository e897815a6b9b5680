"""The lane's state between events: one immutable value, replaced by every event."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from firmware_app.lane.messages import Message
from firmware_app.lane.ports import Cashier
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.sale import Sale, TenderType
from firmware_app.lane.weighing import ScaleReading


class Mode(enum.Enum):
    SIGNED_OFF = "signed_off"
    PIN = "pin"  # a cashier id was keyed with SIGNON; waiting for the PIN
    READY = "ready"  # signed on: selling or paying
    SUPERVISOR_ID = "supervisor_id"  # an action waits for a supervisor's id
    SUPERVISOR_PIN = "supervisor_pin"  # ... and PIN
    TERMINAL = "terminal"  # waiting for the payment terminal


class Action(enum.Enum):
    """Actions that need a supervisor (unless a supervisor is signed on)."""

    VOID_LINE = "void_line"
    CANCEL = "cancel"
    NO_SALE = "no_sale"


@dataclass(frozen=True)
class Approval:
    """An action waiting for a supervisor; ``line`` for VOID_LINE."""

    action: Action
    line: int | None = None
    supervisor: str = ""


@dataclass(frozen=True)
class PendingPayment:
    request_id: str
    tender: TenderType
    amount: int


@dataclass(frozen=True)
class LaneState:
    mode: Mode = Mode.SIGNED_OFF
    cashier: Cashier | None = None
    entry: str = ""  # digits keyed so far (a PIN while in a PIN mode)
    signing_on: str = ""  # cashier id waiting for its PIN
    qty: int | None = None  # pieces keyed with QTY for the next counted item
    sale: Sale | None = None
    message: Message | None = None
    scale: ScaleReading | None = None
    scale_at: datetime | None = None
    approval: Approval | None = None
    payment: PendingPayment | None = None
    next_receipt_no: int = 1
    last_receipt: Receipt | None = None
    drawer_open: bool = False
    devices: tuple[tuple[str, str], ...] = ()  # (device, state word), sorted by device
    receipts_pending: int = 0  # receipts waiting for the printer
    drawer_open_since: datetime | None = None
    drawer_alerted: bool = False  # the open-too-long alert has been raised for this opening
    # Same-weight protection: after a weighing, the load must change before the next one.
    weighed_grams: int | None = None
    load_changed: bool = True
