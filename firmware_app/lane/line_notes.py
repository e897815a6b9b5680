"""What prints and shows under a line: its member price and promotions (each with its
name and saving), then its price override and manual discounts."""

from __future__ import annotations

from collections.abc import Callable

from firmware_app.lane.adjustments import adjustment_notes
from firmware_app.lane.sale import Line

WORDS = {"zh": {"member": "会员价"}, "en": {"member": "Member price"}}


def _member_word(language: str) -> str:
    if language == "zh-en":
        return f"{WORDS['zh']['member']} {WORDS['en']['member']}"
    return WORDS.get(language, WORDS["en"])["member"]


def line_notes(
    line: Line, money: Callable[[int], str], language: str
) -> tuple[tuple[str, str], ...]:
    """``("会员价", "-0.50")``, ``("第二件半价", "-1.75")``, then the adjustments'
    notes (``money`` formats minor units)."""
    notes: list[tuple[str, str]] = []
    if line.member_saving:
        notes.append((_member_word(language), money(-line.member_saving)))
    notes.extend((share.name, money(-share.discount)) for share in line.promotions)
    return (*notes, *adjustment_notes(line.override, line.discounts, money, language))
