"""Promotions and the loyalty rule as the core sees them (``promotions`` and ``loyalty``
in ``store.catalog/1``).

Money in minor units, tax included; percents are ``Decimal`` (``Decimal("12.5")``);
``starts``/``ends`` are aware datetimes (start inclusive, end exclusive); ``hours`` are
local times of day (start inclusive, end exclusive, an end before the start running over
midnight). The catalog layer checks every field before it builds one of these: the
pricing engine (``lane.pricing``) trusts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal


class PromoType(enum.Enum):
    PERCENT_OFF = "percent_off"  # percent: each qualifying unit or kg, that percent off
    AMOUNT_OFF = "amount_off"  # amount: each qualifying counted unit, that amount off
    FIXED_PRICE = "fixed_price"  # price: each qualifying unit (or kg) at that price
    MULTI_BUY = "multi_buy"  # qty, price: every group of qty counted units costs price
    BUY_GET = "buy_get"  # buy, get, percent: of every buy+get, the cheapest get percent off
    THRESHOLD = "threshold"  # min, off, repeat: off when the qualifying net reaches min


@dataclass(frozen=True)
class Promotion:
    """One promotion. Only the fields of its ``type`` are set (the others stay None)."""

    id: str
    name: str
    type: PromoType
    items: frozenset[str] = frozenset()  # skus
    departments: frozenset[str] = frozenset()  # a unit qualifies if in either
    members_only: bool = False
    starts: datetime | None = None
    ends: datetime | None = None
    hours: tuple[time, time] | None = None
    percent: Decimal | None = None  # percent_off, buy_get
    amount: int | None = None  # amount_off
    price: int | None = None  # fixed_price (per unit or per kg), multi_buy (per group)
    qty: int | None = None  # multi_buy
    buy: int | None = None  # buy_get
    get: int | None = None  # buy_get
    min: int | None = None  # threshold
    off: int | None = None  # threshold
    repeat: bool = False  # threshold

    def qualifies(self, sku: str, department: str | None) -> bool:
        return sku in self.items or (department is not None and department in self.departments)


@dataclass(frozen=True)
class Loyalty:
    """``points`` for every full ``per`` minor units a member pays, after discounts."""

    per: int
    points: int
