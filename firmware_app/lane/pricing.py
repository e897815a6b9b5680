"""The pricing engine: member prices and promotions over a basket.

One pure function, ``price_basket``: what is in the basket, whether a member is on the
sale, the time, the promotions -> each line's member saving and the promotions it got.
No I/O, no clock, and no dependence on the order of the lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from firmware_app.lane.catalog import Unit
from firmware_app.lane.promotions import Promotion


@dataclass(frozen=True)
class BasketLine:
    """A live sold line as the engine sees it.

    ``qty`` in thousandths (grams for ``kg``, 1000 a piece for ``each``); ``price`` the
    catalog's unit price (per piece or per kg); ``member_price`` likewise (None: none);
    ``amount`` the line's amount at ``price`` (``money.amount_of(qty, price)``).
    ``no`` is the line's number, used only to break ties (lower first) and to key the
    answer.
    """

    no: int
    sku: str
    department: str | None
    unit: Unit
    qty: int
    price: int
    member_price: int | None
    amount: int


@dataclass(frozen=True)
class PromoShare:
    """What one promotion took off one line (minor units, > 0)."""

    id: str
    name: str
    discount: int


@dataclass(frozen=True)
class LinePrice:
    """One line's price: ``member_saving`` (catalog amount − member amount, ≥ 0) and the
    promotions' shares, by promotion id. The line's promotional discount is
    ``member_saving + sum(share.discount for share in promotions)``, never more than
    ``amount``."""

    member_saving: int = 0
    promotions: tuple[PromoShare, ...] = ()

    @property
    def discount(self) -> int:
        return self.member_saving + sum(share.discount for share in self.promotions)


def price_basket(
    lines: Sequence[BasketLine],
    *,
    member: bool,
    now: datetime,
    promotions: Sequence[Promotion],
) -> dict[int, LinePrice]:
    """Each line's price (keyed by ``BasketLine.no``). ``now`` is aware and in the lane's
    time zone (``hours`` are compared with its local time of day)."""
    return {line.no: LinePrice() for line in lines}
