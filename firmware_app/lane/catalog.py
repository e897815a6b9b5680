"""Catalog items as the core sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
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
    """

    sku: str
    name: str
    unit: Unit
    price: int
    tax_rate: Decimal
    plu: int | None = None
    age_restricted: bool = False
    active: bool = True
