"""Cash put into or taken out of the drawer outside a sale (paid-in, paid-out)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class CashKind(enum.Enum):
    """``in``: a float at shift start, change brought in; ``out``: a pickup to the safe,
    petty cash."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class CashMovement:
    """One paid-in or paid-out: ``amount`` in minor units (always positive; ``kind`` says
    which way), the ``reason`` as configured, who keyed it and who approved it."""

    id: str
    kind: CashKind
    amount: int
    reason: str
    cashier: str
    supervisor: str
    at: datetime
