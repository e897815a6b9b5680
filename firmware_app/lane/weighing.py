"""Scale readings as the lane core sees them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ScaleStatus(enum.Enum):
    """What the scale said on its last answer (UnifiedPOS scale status words)."""

    STABLE = "stable"
    MOVING = "moving"
    OVER = "over"  # over capacity
    UNDER = "under"  # below zero
    ERROR = "error"  # answered, but with something the driver could not use
    SILENT = "silent"  # did not answer within the driver's timeout


@dataclass(frozen=True)
class ScaleReading:
    """One answer of the scale.

    ``grams`` is set only for ``STABLE`` readings: the net weight in whole grams.
    ``text`` is the weight exactly as the scale reported it (e.g. ``"01.235"``),
    for display; legal-for-trade rules want the scale's own figure shown.
    """

    status: ScaleStatus
    grams: int | None = None
    text: str = ""

    @classmethod
    def stable(cls, grams: int, text: str = "") -> ScaleReading:
        return cls(ScaleStatus.STABLE, grams, text or format_kg(grams))


def format_kg(grams: int) -> str:
    """Grams as a kilogram decimal string with three places: 532 -> ``"0.532"``."""
    sign = "-" if grams < 0 else ""
    whole, frac = divmod(abs(grams), 1000)
    return f"{sign}{whole}.{frac:03d}"
