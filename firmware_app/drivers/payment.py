"""Payment terminals. The lane asks with ``RequestPayment`` (or ``ReversePayment``) and
hears back a ``PaymentResult``.

Only the simulated terminal exists so far; a real one (bank POS over serial or
a QR-code payment gateway) plugs in behind the same ``request`` and ``reverse`` calls.
"""

from __future__ import annotations

from typing import Protocol

from firmware_app.lane.events import PaymentResult
from firmware_app.lane.sale import TenderType


class PaymentTerminal(Protocol):
    def request(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        """Charge ``amount`` (minor units); blocks until the terminal answers."""

    def reverse(
        self, request_id: str, tender: TenderType, amount: int, reference: str
    ) -> PaymentResult:
        """Reverse (refund) the charge the terminal approved as ``reference``, of
        ``amount`` (minor units); approved means the money went back to the customer.
        Blocks until the terminal answers."""

    def refund(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        """Returns: pay ``amount`` (minor units, positive) back to the customer's card or
        mobile account; approved means it went back. Blocks until the terminal answers."""


class SimulatedTerminal:
    """Approves every charge, or declines every one while ``decline`` is set; reverses
    a charge it approved (once, for its full amount) unless ``refuse_reversals``."""

    def __init__(self, *, decline: bool = False, refuse_reversals: bool = False) -> None:
        self.decline = decline
        self.refuse_reversals = refuse_reversals
        self.requests: list[tuple[str, TenderType, int]] = []
        self.reversals: list[tuple[str, TenderType, int, str]] = []
        self.refunds: list[tuple[str, TenderType, int]] = []  # returns
        self._approved: dict[str, int] = {}  # reference -> amount, not yet reversed

    def request(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        self.requests.append((request_id, tender, amount))
        if self.decline:
            return PaymentResult(request_id, approved=False, reason="simulated decline")
        reference = f"SIM-{len(self.requests):06d}"
        self._approved[reference] = amount
        return PaymentResult(request_id, approved=True, reference=reference)

    def reverse(
        self, request_id: str, tender: TenderType, amount: int, reference: str
    ) -> PaymentResult:
        self.reversals.append((request_id, tender, amount, reference))
        if self.refuse_reversals:
            return PaymentResult(request_id, approved=False, reason="simulated refusal")
        if self._approved.get(reference) != amount:
            return PaymentResult(request_id, approved=False, reason="unknown payment")
        del self._approved[reference]
        return PaymentResult(request_id, approved=True, reference=f"SIM-R{len(self.reversals):06d}")

    def refund(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        """Returns: approves every refund of a positive amount, unless ``decline``."""
        self.refunds.append((request_id, tender, amount))
        if self.decline or amount <= 0:
            return PaymentResult(request_id, approved=False, reason="simulated decline")
        return PaymentResult(request_id, approved=True, reference=f"SIM-F{len(self.refunds):06d}")
