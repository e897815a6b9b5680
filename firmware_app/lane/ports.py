"""What the core reads from the outside world, as small protocols.

The shell passes real adapters (the SQLite store); core tests pass fakes with
memory. Writes never go through here: they come back from ``handle`` as effects.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from firmware_app.lane.catalog import Item
from firmware_app.lane.day_report import ReportPort
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.return_source import ReturnsPort


class Role(enum.Enum):
    CASHIER = "cashier"
    SUPERVISOR = "supervisor"
    TECHNICIAN = "technician"  # doctor, config, test print: signs on, never sells


@dataclass(frozen=True)
class Cashier:
    id: str
    role: Role


class CatalogPort(Protocol):
    def by_code(self, key: str) -> Item | None:
        """The item with this code (``barcodes.catalog_key`` form), or None."""

    def by_plu(self, plu: int) -> Item | None:
        """The item with this PLU number, or None."""


# Roles and approvals: wrong PINs counted per id, read back by the core.
@dataclass(frozen=True)
class PinRecord:
    """Wrong PINs keyed in a row for one id (known or not), and until when that id is
    locked (None: not locked)."""

    failures: int = 0
    locked_until: datetime | None = None


class CashierPort(Protocol):
    def verify(self, cashier_id: str, pin: str) -> Cashier | None:
        """The cashier if the PIN is right, else None."""

    def find(self, cashier_id: str) -> Cashier | None:
        """The account with this id (a badge carries the id, no PIN), or None."""

    def pin_record(self, cashier_id: str) -> PinRecord:
        """The id's wrong PINs so far (written by ``RecordPinFailure``/``ClearPinFailures``)."""


@dataclass(frozen=True)
class Ports:
    catalog: CatalogPort
    cashiers: CashierPort
    new_id: Callable[[], str]
    reports: ReportPort | None = None  # the day's numbers (None: no X/Z reports here)
    returns: ReturnsPort | None = None  # returns: finished sales by receipt (None: no returns)
    # Members and points: the catalog's loyalty rule (None: ask nobody; the config's
    # [members] rule, if any, applies).
    loyalty: Callable[[], Loyalty | None] | None = None
