"""Payment terminals. The lane asks with ``RequestPayment`` and hears back a ``PaymentResult``.

Only the simulated terminal exists so far; a real one (bank POS over serial or
a QR-code payment gateway) plugs in behind the same ``request`` call.
"""

from __future__ import annotations

from typing import Protocol

from firmware_app.lane.events import PaymentResult
from firmware_app.lane.sale import TenderType


class PaymentTerminal(Protocol):
    def request(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        """Charge ``amount`` (minor units); blocks until the terminal answers."""


class SimulatedTerminal:
    """Approves every request, or declines every one while ``decline`` is set."""

    def __init__(self, *, decline: bool = False) -> None:
        self.decline = decline
        self.requests: list[tuple[str, TenderType, int]] = []

    def request(self, request_id: str, tender: TenderType, amount: int) -> PaymentResult:
        self.requests.append((request_id, tender, amount))
        if self.decline:
            return PaymentResult(request_id, approved=False, reason="simulated decline")
        return PaymentResult(request_id, approved=True, reference=f"SIM-{len(self.requests):06d}")
