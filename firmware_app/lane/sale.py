"""The sale: lines, tenders, totals, taxes and stock deltas.

All money in minor units, tax included; quantities in thousandths of the unit.
Voided lines and voided tenders stay in the sale (and in the uplink message) but
count in no total.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from firmware_app.lane.adjustments import ManualDiscount, PriceOverride
from firmware_app.lane.catalog import Unit
from firmware_app.lane.member_check import MemberCheck
from firmware_app.lane.money import MILLI, tax_included

if TYPE_CHECKING:  # the engine's type only: pricing's helpers may use the sale's
    from firmware_app.lane.pricing import PromoShare


class TenderType(enum.Enum):
    CASH = "cash"
    CARD = "card"
    MOBILE = "mobile"


class SaleKind(enum.Enum):
    SALE = "sale"
    RETURN = "return"
    CANCELLED = "cancelled"


# Returns: the sold line a return line gives back.
@dataclass(frozen=True)
class ReturnRef:
    """The sold line a return line gives back: ``lane``'s receipt ``receipt_no``, line
    ``line`` (its number in that sale, from 1)."""

    lane: str
    receipt_no: int
    line: int


@dataclass(frozen=True)
class Line:
    """One line of the sale.

    ``qty`` in thousandths (grams for ``kg``); ``unit_price`` per piece or per
    kg; ``amount`` is the line's price before promotions; ``weight_text`` is the
    weight exactly as the scale reported it (empty for counted items).
    """

    no: int
    sku: str
    code: str
    name: str
    unit: Unit
    qty: int
    unit_price: int
    amount: int
    tax_rate: Decimal
    discount: int = 0
    voided: bool = False
    weight_text: str = ""
    # Price override and discounts: the unit price changed by hand (``PRICE``), and the
    # manual discounts that make up ``discount`` (``DISC``).
    override: PriceOverride | None = None
    discounts: tuple[ManualDiscount, ...] = ()
    # Returns: a return line has a negative ``qty``, ``amount`` and ``discount``;
    # ``return_of`` names the sold line it gives back (None: a return without receipt).
    return_of: ReturnRef | None = None
    # Promotions and members: the item's department and member price as the catalog had
    # them when the line was added, and what the pricing engine (``lane.basket_pricing``)
    # took off: the member price's saving and each promotion's share, all in ``discount``.
    department: str | None = None
    member_price: int | None = None
    member_saving: int = 0
    promotions: tuple[PromoShare, ...] = ()

    @property
    def is_return(self) -> bool:
        return self.qty < 0


@dataclass(frozen=True)
class Tender:
    """A payment: for cash, what the customer handed over; for card/mobile, what was charged.

    ``reference`` is the terminal's reference of the charge and ``payment_id`` the lane's
    request id (the payment log's key). A voided tender was handed back (cash) or
    reversed on the terminal (``reversal``: the terminal's reference of the reversal).
    """

    type: TenderType
    amount: int
    reference: str = ""
    payment_id: str = ""
    voided: bool = False
    reversal: str = ""


@dataclass(frozen=True)
class TaxLine:
    rate: Decimal
    gross: int
    tax: int


@dataclass(frozen=True)
class StockDelta:
    """Goods leaving the shop: ``qty`` in thousandths, negative for a sale."""

    sku: str
    qty: int
    unit: Unit


@dataclass(frozen=True)
class Sale:
    """An open sale. ``rounding`` is the cash rounding already settled (minor units)."""

    id: str
    opened_at: datetime
    cashier: str
    lines: tuple[Line, ...] = ()
    tenders: tuple[Tender, ...] = ()
    member: str | None = None
    rounding: int = 0
    # Restrictions: the minimum ages (years) the customer has been found old enough for.
    age_checked: tuple[int, ...] = ()
    # Members: the store server's word on ``member`` (None: no member, or not asked).
    member_check: MemberCheck | None = None

    @property
    def live_lines(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if not line.voided)

    @property
    def item_count(self) -> int:
        """Pieces in the sale, as the customer counts them: a weighed line is one item."""
        return sum(line.qty // MILLI if line.unit is Unit.EACH else 1 for line in self.live_lines)

    @property
    def gross(self) -> int:
        return sum(line.amount for line in self.live_lines)

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.live_lines)

    @property
    def total(self) -> int:
        """What the customer pays: gross − discount + cash rounding."""
        return self.gross - self.discount + self.rounding

    @property
    def live_tenders(self) -> tuple[Tender, ...]:
        return tuple(t for t in self.tenders if not t.voided)

    @property
    def paid(self) -> int:
        return sum(t.amount for t in self.live_tenders)

    @property
    def due(self) -> int:
        """What is still to pay (negative once more cash was handed over than needed)."""
        return self.total - self.paid

    def add_line(self, line: Line) -> Sale:
        return replace(self, lines=(*self.lines, line))

    def void_line(self, no: int) -> Sale:
        return replace(
            self, lines=tuple(replace(ln, voided=True) if ln.no == no else ln for ln in self.lines)
        )

    def next_line_no(self) -> int:
        return len(self.lines) + 1

    def add_tender(self, tender: Tender) -> Sale:
        return replace(self, tenders=(*self.tenders, tender))

    def tender(self, no: int) -> Tender | None:
        """The live tender numbered ``no`` (from 1, in the order paid), or None."""
        if 1 <= no <= len(self.tenders) and not self.tenders[no - 1].voided:
            return self.tenders[no - 1]
        return None

    def void_tender(self, no: int, reversal: str = "") -> Sale:
        voided = replace(self.tenders[no - 1], voided=True, reversal=reversal)
        return replace(self, tenders=(*self.tenders[: no - 1], voided, *self.tenders[no:]))


def taxes(lines: tuple[Line, ...]) -> tuple[TaxLine, ...]:
    """Tax per rate over the live lines, highest rate first.

    tax = round-half-up(gross × r / (100 + r)) with r in percent.
    """
    gross: dict[Decimal, int] = defaultdict(int)
    for line in lines:
        if not line.voided:
            gross[line.tax_rate] += line.amount - line.discount
    return tuple(
        TaxLine(rate, gross[rate], tax_included(gross[rate], rate))
        for rate in sorted(gross, reverse=True)
    )


def stock_deltas(lines: tuple[Line, ...], sign: int = -1) -> tuple[StockDelta, ...]:
    """One delta per SKU, in order of first appearance; voided lines move nothing."""
    qty: dict[str, int] = {}
    unit: dict[str, Unit] = {}
    for line in lines:
        if not line.voided:
            qty[line.sku] = qty.get(line.sku, 0) + sign * line.qty
            unit[line.sku] = line.unit
    return tuple(StockDelta(sku, q, unit[sku]) for sku, q in qty.items() if q != 0)


@dataclass(frozen=True)
class FinishedSale:
    """A transaction the lane has finished: what the store commits, journals and sends."""

    sale_id: str
    receipt_no: int
    kind: SaleKind
    opened_at: datetime
    closed_at: datetime
    cashier: str
    member: str | None
    currency: str
    lines: tuple[Line, ...]
    tenders: tuple[Tender, ...]
    rounding: int
    change: int
    taxes: tuple[TaxLine, ...] = field(default=())
    deltas: tuple[StockDelta, ...] = field(default=())
    # Made in training mode: ``receipt_no`` is then the training counter's, and no
    # goods move (no stock deltas).
    training: bool = False
    # Members: the store server's word on ``member``, and the points this transaction
    # earns (negative: a return takes them back; lane.members).
    member_check: MemberCheck | None = None
    points: int = 0

    @property
    def member_verified(self) -> bool:
        return self.member_check is not None and self.member_check.verified

    @property
    def gross(self) -> int:
        return sum(line.amount for line in self.lines if not line.voided)

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.lines if not line.voided)

    @property
    def total(self) -> int:
        return self.gross - self.discount + self.rounding

    @property
    def tax(self) -> int:
        return sum(t.tax for t in self.taxes)


def finish(
    sale: Sale,
    *,
    kind: SaleKind,
    receipt_no: int,
    closed_at: datetime,
    currency: str,
    training: bool = False,
) -> FinishedSale:
    """Close ``sale``: taxes and stock deltas computed once, here (none in training)."""
    change = max(0, -sale.due) if kind is SaleKind.SALE else 0
    # Returns: taxes (negative) and stock deltas (positive) of a return as of a sale.
    counted = kind in (SaleKind.SALE, SaleKind.RETURN)
    return FinishedSale(
        sale_id=sale.id,
        receipt_no=receipt_no,
        kind=kind,
        opened_at=sale.opened_at,
        closed_at=closed_at,
        cashier=sale.cashier,
        member=sale.member,
        currency=currency,
        lines=sale.lines,
        tenders=sale.tenders,
        rounding=sale.rounding,
        change=change,
        taxes=taxes(sale.lines) if counted else (),
        deltas=stock_deltas(sale.lines) if counted and not training else (),
        training=training,
        member_check=sale.member_check,  # members
    )
