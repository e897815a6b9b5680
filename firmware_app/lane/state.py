"""The lane's state between events: one immutable value, replaced by every event."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from firmware_app.lane.cash_movement import CashMovement
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import PaymentResult
from firmware_app.lane.messages import Message
from firmware_app.lane.parked import ParkedSale
from firmware_app.lane.pending_item import PendingItem  # restrictions
from firmware_app.lane.ports import Cashier
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.return_source import ReturnSource
from firmware_app.lane.sale import FinishedSale, Sale, TenderType
from firmware_app.lane.weighing import ScaleReading


class Mode(enum.Enum):
    SIGNED_OFF = "signed_off"
    PIN = "pin"  # a cashier id was keyed with SIGNON; waiting for the PIN
    READY = "ready"  # signed on: selling or paying
    SUPERVISOR_ID = "supervisor_id"  # an action waits for a supervisor's id
    SUPERVISOR_PIN = "supervisor_pin"  # ... and PIN
    TERMINAL = "terminal"  # waiting for the payment terminal (or for its answer to be saved)
    CHOOSE_TENDER = "choose_tender"  # VOID on a part-paid sale: which tender to void
    # Suspend and resume: RESUME without a number lists the parked sales to pick from.
    CHOOSE_PARKED = "choose_parked"
    # Training mode, cash movements, reports:
    CASH_REASON = "cash_reason"  # PAIDIN / PAIDOUT approved: which reason
    COUNTED_CASH = "counted_cash"  # ZREPORT approved: the counted cash, keyed blind
    # Restrictions: an item waits for the customer's age (lane.restrictions).
    AGE_CHECK = "age_check"
    # Price override and discounts: PRICE approved, which reason.
    PRICE_REASON = "price_reason"
    # Returns: RETURN with a receipt number lists its lines to pick from.
    CHOOSE_RETURN = "choose_return"


class Action(enum.Enum):
    """Actions that need a supervisor's approval unless ``ApprovalRules`` says otherwise
    (a new member needs one by default; see ``lane.approvals``)."""

    VOID_LINE = "void_line"
    VOID_TENDER = "void_tender"
    CANCEL = "cancel"
    NO_SALE = "no_sale"
    # Training mode, cash movements, reports:
    PAID_IN = "paid_in"
    PAID_OUT = "paid_out"
    Z_REPORT = "z_report"
    TRAINING = "training"
    # Price override and discounts:
    PRICE_OVERRIDE = "price_override"
    DISCOUNT = "discount"
    # Returns: RETURN with no receipt number.
    RETURN_NO_RECEIPT = "return_no_receipt"
    # Returns without receipt at a keyed price: PRICE on such a return line.
    RETURN_PRICE = "return_price"


@dataclass(frozen=True)
class Approval:
    """An action waiting for a supervisor; ``line`` for VOID_LINE, ``tender`` (its number
    in the sale, from 1) for VOID_TENDER, ``amount`` (minor units) for actions about an
    amount. ``via``: how it was approved (``signed_on``, ``pin``, ``badge``)."""

    action: Action
    line: int | None = None
    supervisor: str = ""
    tender: int | None = None
    amount: int | None = None
    via: str = ""
    # Price override and discounts: DISC's percent (``line`` None: the whole sale).
    percent: Decimal | None = None


@dataclass(frozen=True)
class PendingPayment:
    """A request the payment terminal is working on: a charge of ``amount`` (minor
    units), or, with ``reverses``, the reversal of the sale's tender of that number.

    ``answer`` holds the terminal's approval while it cannot be saved (a full disk):
    the money has moved, so the lane keeps it and retries the save at every tick and
    key rather than ever asking the terminal again. ``cancel``: the reversal is part
    of cancelling the sale, which goes on once it is approved.
    """

    request_id: str
    tender: TenderType
    amount: int
    started_at: datetime | None = None
    reverses: int | None = None
    cancel: bool = False
    supervisor: str = ""
    answer: PaymentResult | None = None
    # A late-approved refund: the sale (a return) the request was made for, so that an
    # answer coming after the lane gave up is recorded on it (lane.late_refund).
    sale_id: str = ""


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
    # Charges the lane stopped waiting for (newest last): approved after all, they are reversed.
    abandoned: tuple[PendingPayment, ...] = ()
    next_receipt_no: int = 1
    last_receipt: Receipt | None = None
    last_sale: FinishedSale | None = None  # the last finished transaction (customer display)
    training: bool = False  # training mode: sales marked, no stock, no reports
    drawer_open: bool = False
    devices: tuple[tuple[Device, StateWord], ...] = ()  # sorted by the device's name
    receipts_pending: int = 0  # receipts waiting for the printer
    drawer_open_since: datetime | None = None
    drawer_alerted: bool = False  # the open-too-long alert has been raised for this opening
    # Same-weight protection: after a weighing, the load must change before the next one.
    weighed_grams: int | None = None
    load_changed: bool = True
    # Suspend and resume: the parked sales as the store holds them (loaded at start-up,
    # changed only with the durable effects that change the store), and the next number.
    parked: tuple[ParkedSale, ...] = ()
    next_park_no: int = 1
    # Training mode, cash movements, reports: a paid-in/out waiting for its reason; the
    # next number of a training sale (training sales never take a real receipt number).
    movement: CashMovement | None = None
    next_training_no: int = 1
    # Restrictions: the item waiting for the answer to the age question (AGE_CHECK).
    age_pending: PendingItem | None = None
    # Price override and discounts: a PRICE approved (line, new unit price, supervisor)
    # waiting for its reason.
    repricing: Approval | None = None
    # Returns: the sale whose lines are being picked (Mode.CHOOSE_RETURN).
    returning: ReturnSource | None = None
    # A return without receipt was approved: the next item scanned or keyed comes back.
    return_next: bool = False
