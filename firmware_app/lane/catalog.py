"""Catalog items as the core sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import time
from decimal import Decimal


class Unit(enum.Enum):
    EACH = "each"
    KG = "kg"


@dataclass(frozen=True)
class Item:
    """One sellable item.

    ``price`` is in minor units, tax included: per piece for ``each``, per
    kilogram for ``kg``. ``tax_rate`` is a percentage (``Decimal("13")``).
    ``plu`` is the number keyed with ``PLU`` and printed on in-store labels.

    Restrictions: ``department`` is the store's short id (``"alcohol"``); ``min_age``
    in years (None with ``age_restricted``: the lane's configured default);
    ``sale_hours`` (start, end) in the lane's local time, start inclusive, end
    exclusive, an end before the start running over midnight. ``member_price`` in
    minor units like ``price`` (kept for promotions; the lane does not price with it).
    """

    sku: str
    name: str
    unit: Unit
    price: int
    tax_rate: Decimal
    plu: int | None = None
    age_restricted: bool = False
    active: bool = True
    # Restrictions (age checks, sale hours) and the member price:
    department: str | None = None
    min_age: int | None = None
    sale_hours: tuple[time, time] | None = None
    member_price: int | None = None
