"""Events the lane core handles. Drivers and adapters put these on the lane's queue.

Every event is a small frozen dataclass; the time of an event is passed to
``handle`` beside it, never read by the core.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_app.lane.devices import Device, StateWord, check_word
from firmware_app.lane.member_check import MemberStatus
from firmware_app.lane.weighing import ScaleCommand, ScaleDone, ScaleReading, ScaleRefusal


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
class ScaleCommandResult:
    """The scale's answer to a zero, tare or clear tare: what it did (``done``), or
    why it would not (``refused_because``). Exactly one of the two is set."""

    command: ScaleCommand
    done: ScaleDone | None = None
    refused_because: ScaleRefusal | None = None

    def __post_init__(self) -> None:
        if (self.done is None) == (self.refused_because is None):
            raise ValueError("a scale result is either done or refused, not both nor neither")

    @classmethod
    def obeyed(cls, command: ScaleCommand, done: ScaleDone) -> ScaleCommandResult:
        return cls(command, done=done)

    @classmethod
    def refused(cls, command: ScaleCommand, reason: ScaleRefusal) -> ScaleCommandResult:
        return cls(command, refused_because=reason)

    @property
    def text(self) -> str:
        """As the log says it: ``zeroed``, ``zero refused: moving``."""
        if self.done is not None:
            return self.done.value
        assert self.refused_because is not None
        return f"{self.command.value} refused: {self.refused_because.value}"


@dataclass(frozen=True)
class DeviceState:
    """A device's health changed: ``state`` is one of the words ``device`` can report
    (``devices.DEVICE_WORDS``); ``detail`` says why, for the technician's log.

    Adapters build it from typed values only: a raw string raises ``TypeError``, a
    word the device cannot report ``ValueError``.
    """

    device: Device
    state: StateWord
    detail: str = ""

    def __post_init__(self) -> None:
        check_word(self.device, self.state)


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


# Members: the store server's answer to a member question (``store.member/1``).
@dataclass(frozen=True)
class MemberAnswer:
    """The answer to ``request_id`` about ``member``: its status and, when known, the
    member's name and points balance."""

    request_id: str
    member: str
    status: MemberStatus
    name: str = ""
    points: int | None = None


Event = (
    KeyPressed
    | Scanned
    | ScaleUpdate
    | ScaleCommandResult
    | DeviceState
    | DrawerSwitch
    | PaymentResult
    | Tick
    | ReceiptsPending
    | SaveFailed
    | MemberAnswer
)
