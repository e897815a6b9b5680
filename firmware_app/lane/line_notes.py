"""What prints and shows under a line: its member price and promotions (each with its
name and saving), then its price override and manual discounts."""

from __future__ import annotations

from collections.abc import Callable

from firmware_app.lane.adjustments import adjustment_notes
from firmware_app.lane.sale import Line

WORDS = {
    "zh": {"member": "会员价", "returned": "原优惠"},
    "en": {"member": "Member price", "returned": "Discount paid"},
}


def _word(language: str, key: str) -> str:
    if language == "zh-en":
        return f"{WORDS['zh'][key]} {WORDS['en'][key]}"
    return WORDS.get(language, WORDS["en"])[key]


def line_notes(
    line: Line, money: Callable[[int], str], language: str
) -> tuple[tuple[str, str], ...]:
    """``("会员价", "-0.50")``, ``("第二件半价", "-1.75")``, then the adjustments'
    notes (``money`` formats minor units). A return line by receipt shows the part of
    the sold line's discount it gives back: ``("原优惠", "5.28")``."""
    notes: list[tuple[str, str]] = []
    if line.is_return and line.discount:  # the part of the sold line's discount it gives back
        notes.append((_word(language, "returned"), money(-line.discount)))
    if line.member_saving:
        notes.append((_word(language, "member"), money(-line.member_saving)))
    notes.extend((share.name, money(-share.discount)) for share in line.promotions)
    return (*notes, *adjustment_notes(line.override, line.discounts, money, language))
