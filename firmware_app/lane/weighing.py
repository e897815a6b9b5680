"""Scale readings, and the zero and tare commands, as the lane core sees them."""

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


class ScaleCommand(enum.Enum):
    """A scale key the lane can press; the value is the word the cashier sees."""

    ZERO = "zero"
    TARE = "tare"
    CLEAR_TARE = "clear tare"


class ScaleDone(enum.Enum):
    """What the scale did when it obeyed a command. Tare on a tared, empty platter
    clears the tare on scales without a clear-tare command: ``TARE_CLEARED``."""

    ZEROED = "zeroed"
    TARED = "tared"
    TARE_CLEARED = "tare cleared"


class ScaleRefusal(enum.Enum):
    """Why the scale did not obey a command: how it was when it got it."""

    MOVING = "moving"
    OVER = "over capacity"
    BELOW_ZERO = "below zero"
    OUT_OF_RANGE = "outside zero range"  # a load (or underload) too big to zero away
    TARE_ON = "tare on"
    EMPTY = "nothing on the scale"
    ZERO_FIRST = "zero the empty scale first"
    TARE_KEPT = "tare kept"
    ERROR = "scale error"
    UNKNOWN = "unknown to the scale"  # the scale answered "unknown command"


def format_kg(grams: int) -> str:
    """Grams as a kilogram decimal string with three places: 532 -> ``"0.532"``."""
    sign = "-" if grams < 0 else ""
    whole, frac = divmod(abs(grams), 1000)
    return f"{sign}{whole}.{frac:03d}"
