"""What the core reads from the outside world, as small protocols.

The shell passes real adapters (the SQLite store); core tests pass fakes with
memory. Writes never go through here: they come back from ``handle`` as effects.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from firmware_app.lane.catalog import Item
from firmware_app.lane.day_report import ReportPort


class Role(enum.Enum):
    CASHIER = "cashier"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Cashier:
    id: str
    role: Role


class CatalogPort(Protocol):
    def by_code(self, key: str) -> Item | None:
        """The item with this code (``barcodes.catalog_key`` form), or None."""

    def by_plu(self, plu: int) -> Item | None:
        """The item with this PLU number, or None."""


class CashierPort(Protocol):
    def verify(self, cashier_id: str, pin: str) -> Cashier | None:
        """The cashier if the PIN is right, else None."""


@dataclass(frozen=True)
class Ports:
    catalog: CatalogPort
    cashiers: CashierPort
    new_id: Callable[[], str]
    reports: ReportPort | None = None  # the day's numbers (None: no X/Z reports here)
