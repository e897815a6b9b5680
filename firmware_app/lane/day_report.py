"""The numbers of a business day (X and Z reports), as the store counts them.

A business day is the lane's local date of a transaction's ``closed_at`` (of a cash
movement's or an event's time), in the lane's configured time zone, until that
date's Z: a Z closes a business period (日结), and what follows it on the same date
counts in the next business date (its X, its Z). Training sales never count. Money
in minor units; refunds are negative.

``cash_expected`` = cash tendered (refunds negative) − change handed back
+ paid-in − paid-out: what the drawer should hold beyond what it held at the start
of the day (a float counts only when it was keyed as a paid-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Count:
    count: int = 0
    total: int = 0


@dataclass(frozen=True)
class TenderTotal:
    type: str  # cash | card | mobile
    count: int
    amount: int


@dataclass(frozen=True)
class TaxTotal:
    rate: str  # percent, as the contract writes it ("13")
    gross: int
    tax: int


@dataclass(frozen=True)
class DayReport:
    """``first_seq`` / ``last_seq``: the day's uplink messages (None: none yet);
    ``cash_change``: change handed back in cash; ``cancelled``: sales cancelled after
    items were entered."""

    business_date: date
    first_seq: int | None = None
    last_seq: int | None = None
    sales: Count = Count()
    returns: Count = Count()
    cancelled: int = 0
    tenders: tuple[TenderTotal, ...] = ()
    taxes: tuple[TaxTotal, ...] = ()
    voids: int = 0
    no_sales: int = 0
    discounts: int = 0
    paid_in: int = 0
    paid_out: int = 0
    cash_change: int = 0

    @property
    def cash_expected(self) -> int:
        cash = sum(t.amount for t in self.tenders if t.type == "cash")
        return cash - self.cash_change + self.paid_in - self.paid_out


@dataclass(frozen=True)
class ZRecord:
    """A closed day: its number and the counted cash (minor units)."""

    z_no: int
    business_date: date
    cash_counted: int


class ReportPort(Protocol):
    def business_date(self, at: datetime) -> date:
        """The business day ``at`` falls on: its date in the lane's configured zone (the
        date a Z made at ``at`` closes)."""

    def period_date(self, at: datetime) -> date:
        """The business date what happens at ``at`` counts in: ``business_date(at)``,
        or the next date once that date's Z closed before ``at``."""

    def day(self, business_date: date, until: datetime | None = None) -> DayReport:
        """The day's numbers from the store, as committed so far (``until``: only what
        happened up to then; a Z counts what was there when it closed the day)."""

    def z_of(self, business_date: date) -> ZRecord | None:
        """The Z that closed the day, or None while it is open."""

    def next_z_no(self) -> int:
        """The number the next Z report gets (from 1)."""

    def z_details(self, business_date: date) -> dict[str, Any] | None:
        """The Z report of a closed day as it was published (None: the day is open)."""


def details(report: DayReport, z: ZRecord | None = None) -> dict[str, Any]:
    """The report as the ``x_report`` / ``z_report`` event's ``details`` (the contract's
    shape; a Z adds ``z_no``, ``cash_counted`` and ``difference`` = counted − expected)."""
    body: dict[str, Any] = {
        "business_date": report.business_date.isoformat(),
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "sales": {"count": report.sales.count, "total": report.sales.total},
        "returns": {"count": report.returns.count, "total": report.returns.total},
        "cancelled": report.cancelled,
        "tenders": [{"type": t.type, "count": t.count, "amount": t.amount} for t in report.tenders],
        "taxes": [{"rate": t.rate, "gross": t.gross, "tax": t.tax} for t in report.taxes],
        "voids": report.voids,
        "no_sales": report.no_sales,
        "discounts": report.discounts,
        "paid_in": report.paid_in,
        "paid_out": report.paid_out,
        "cash_expected": report.cash_expected,
    }
    if z is not None:
        body = {"z_no": z.z_no, **body}
        body["cash_counted"] = z.cash_counted
        body["difference"] = z.cash_counted - report.cash_expected
    return body
