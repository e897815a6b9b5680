"""What a line records of the changes made to it by hand: a price override and manual
discounts (price override and discounts).

Money in minor units; prices per piece or per kg, as ``Line.unit_price``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PriceOverride:
    """The unit price changed with ``PRICE``: ``was`` → ``now`` (minor units per piece
    or per kg), the reason chosen from ``[sale] price_reasons`` and who approved it
    (the contract's ``override``: ``from``, ``to``, ``reason``, ``by``)."""

    was: int
    now: int
    reason: str
    by: str


class DiscountScope(enum.Enum):
    LINE = "line"  # DISC on the last line
    SALE = "sale"  # DISC right after SUBTOTAL: this line's share of the sale's discount


@dataclass(frozen=True)
class ManualDiscount:
    """A percent off keyed with ``DISC``: ``amount`` is what comes off this line (minor
    units); ``by`` is the approving supervisor ("" within the cashier's limit)."""

    percent: Decimal
    amount: int
    scope: DiscountScope
    by: str = ""


NOTE_WORDS = {
    "zh": {"was": "原价", "line": "折扣", "sale": "整单折扣"},
    "en": {"was": "Was", "line": "Discount", "sale": "Sale discount"},
}


def _word(language: str, key: str) -> str:
    if language == "zh-en":
        return f"{NOTE_WORDS['zh'][key]} {NOTE_WORDS['en'][key]}"
    return NOTE_WORDS.get(language, NOTE_WORDS["en"])[key]


def percent_text(percent: Decimal) -> str:
    """``Decimal("12.50")`` -> ``"12.5"``, ``Decimal("10")`` -> ``"10"``."""
    return format(percent.normalize(), "f")


def adjustment_notes(
    override: PriceOverride | None,
    discounts: tuple[ManualDiscount, ...],
    money: Callable[[int], str],
    language: str,
) -> tuple[tuple[str, str], ...]:
    """What prints and shows under a line: ``("原价 8.90 破损 damaged", "")`` for a price
    override, ``("折扣 10%", "-0.89")`` for each discount (``money`` formats minor units)."""
    notes: list[tuple[str, str]] = []
    if override is not None:
        notes.append((f"{_word(language, 'was')} {money(override.was)} {override.reason}", ""))
    for discount in discounts:
        label = _word(language, discount.scope.value)
        notes.append((f"{label} {percent_text(discount.percent)}%", money(-discount.amount)))
    return tuple(notes)
