"""Events the lane core handles. Drivers and adapters put these on the lane's queue.

Every event is a small frozen dataclass; the time of an event is passed to
``handle`` beside it, never read by the core.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_app.lane.weighing import ScaleReading


@dataclass(frozen=True)
class KeyPressed:
    """A POS keypad key, by its name in spec/lane-input.md (``"7"``, ``"PLU"``, ``"CASH"``)."""

    key: str


@dataclass(frozen=True)
class Scanned:
    """One complete code from the scanner, as typed (may start with an AIM prefix like ``]E0``)."""

    data: str


@dataclass(frozen=True)
class ScaleUpdate:
    """The scale's latest answer."""

    reading: ScaleReading


@dataclass(frozen=True)
class DeviceState:
    """A device's health changed: ``device`` is scanner/keypad/scale/printer/drawer,
    ``state`` a short word (``ok``, ``missing``, ``paper_out``, ``open`` …)."""

    device: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class DrawerSwitch:
    """The drawer's open switch changed."""

    is_open: bool


@dataclass(frozen=True)
class PaymentResult:
    """The payment terminal's answer to a ``RequestPayment`` effect."""

    request_id: str
    approved: bool
    reference: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Tick:
    """Periodic heartbeat so time-based rules run without input."""


@dataclass(frozen=True)
class ReceiptsPending:
    """How many receipts wait for the printer (the sales are committed; only paper is owed)."""

    count: int


@dataclass(frozen=True)
class SaveFailed:
    """The lane loop could not save the durable effects of ``cause`` (a full disk, a
    broken database); nothing was driven and the state is as it was before ``cause``."""

    cause: Event


Event = (
    KeyPressed
    | Scanned
    | ScaleUpdate
    | DeviceState
    | DrawerSwitch
    | PaymentResult
    | Tick
    | ReceiptsPending
    | SaveFailed
)
