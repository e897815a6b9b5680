"""What a simulated scale weighs and shows, and how each protocol words it.

``Platter`` is the weighing model (no I/O, no lock: ``hw_sim.scale`` holds one):
the load, the zero the scale keeps, the tare, and the rules for the zero and tare
keys as the Mettler Toledo 8217 states them. The ``answer_*`` functions put what
the display shows into each protocol's bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

STX = b"\x02"
CR = b"\r"
LF = b"\n"
ETX = b"\x03"
CAPACITY_G = 99_999  # the 8217's kilogram format holds two integer digits
ZERO_RANGE_G = 2_000  # the zero key reaches ±2 % of capacity around the calibrated zero

GRAMS_PER_LB = 453.59237
GRAMS_PER_OZ = 28.349523125
UNITS = ("kg", "lb", "oz")


class Condition(enum.Enum):
    """A state set by hand that overrides the load: still moving, or out of range."""

    MOTION = "motion"
    OVER = "over"
    UNDER = "under"


@dataclass(frozen=True)
class Shown:
    """What the display shows at one answer: ``grams`` is net when a tare is on (then
    ``net``), else gross, relative to the zero the scale keeps; it may be negative."""

    grams: int
    net: bool = False
    moving: bool = False
    over: bool = False
    under: bool = False

    @property
    def steady_weight(self) -> bool:
        """A plain weight: not moving, not out of range."""
        return not (self.moving or self.over or self.under)


@dataclass
class Platter:
    """The load on the platter and the scale's zero and tare, in grams.

    ``load_g`` is relative to the calibrated zero; the scale shows ``load_g -
    zero_g`` (gross) minus ``tare_g``. Rules (8217): ``zero()`` obeys only with no
    condition set, no tare, and a load within ``zero_range_g`` of the calibrated
    zero; ``tare()`` only when the gross has been at zero since the last tare (it is
    at power-on), with a stable load above zero. A refused command changes nothing.
    """

    capacity_g: int = CAPACITY_G
    zero_range_g: int = ZERO_RANGE_G
    load_g: int = 0
    zero_g: int = 0
    tare_g: int = 0
    condition: Condition | None = None
    settling: list[int] = field(default_factory=list)
    gross_zero_seen: bool = True

    @property
    def gross_g(self) -> int:
        return self.load_g - self.zero_g

    def put(self, grams: int) -> None:
        """A load of ``grams`` at rest."""
        self.load_g, self.condition, self.settling = grams, None, []
        self._note_zero()

    def settle(self, weights: list[int]) -> None:
        """The next answers show ``weights`` in turn; the last one stays."""
        self.condition, self.settling = None, list(weights)

    def set_condition(self, condition: Condition) -> None:
        self.condition, self.settling = condition, []

    def advance(self) -> Shown:
        """What the next answer shows (a settling load moves one step first)."""
        if self.settling:
            self.load_g = self.settling.pop(0)
            self._note_zero()
        return self.shown()

    def shown(self) -> Shown:
        grams = self.gross_g - self.tare_g
        return Shown(
            grams=grams,
            net=self.tare_g != 0,
            moving=self.condition is Condition.MOTION,
            over=self.condition is Condition.OVER or self.gross_g > self.capacity_g,
            under=self.condition is Condition.UNDER or grams < 0,
        )

    def zero(self) -> bool:
        """The zero key; whether the scale obeyed."""
        if self.condition is not None or self.tare_g or abs(self.load_g) > self.zero_range_g:
            return False
        self.zero_g = self.load_g
        self._note_zero()
        return True

    def tare(self, *, empty_clears: bool = False) -> bool:
        """The tare key; whether the scale obeyed. With ``empty_clears`` (scales with
        no clear-tare command), taring an empty platter clears the tare."""
        if self.condition is not None:
            return False
        if empty_clears and self.tare_g and self.gross_g == 0:
            self.tare_g = 0
            return True
        if not self.gross_zero_seen or not 0 < self.gross_g <= self.capacity_g:
            return False
        self.tare_g, self.gross_zero_seen = self.gross_g, False
        return True

    def clear_tare(self) -> None:
        self.tare_g = 0
        self._note_zero()

    def _note_zero(self) -> None:
        if self.condition is None and self.gross_g == 0:
            self.gross_zero_seen = True


# --- Mettler Toledo 8217 ---------------------------------------------------------------


def weight_body(grams: int) -> bytes:
    """The 8217's stable-weight text for ``grams``: 1235 -> ``b"01.235"``."""
    kilos, thousandths = divmod(grams, 1000)
    return f"{kilos:02d}.{thousandths:03d}".encode("ascii")


def answer_8217(shown: Shown) -> bytes:
    """STX, the weight (``N`` when net) or ``?`` and the status byte, CR."""
    if shown.steady_weight:
        return STX + weight_body(shown.grams) + (b"N" if shown.net else b"") + CR
    bits = 0x40  # bit 6 always set, as on a real 8217: ?A moving, ?B over, ?D under
    bits |= 0x01 if shown.moving else 0
    bits |= 0x02 if shown.over else 0
    bits |= 0x04 if shown.under else 0
    bits |= 0x20 if shown.net else 0
    return STX + b"?" + bytes([bits]) + CR


# --- NCI / Weigh-Tronix SCP-01 -----------------------------------------------------------


def status_scp01(shown: Shown) -> bytes:
    """The status bytes: two, or three (net bit) when a tare is on."""
    at_zero = shown.steady_weight and shown.grams == 0
    first = 0x30 | (0x01 if shown.moving else 0) | (0x02 if at_zero else 0)
    second = 0x30 | (0x01 if shown.under else 0) | (0x02 if shown.over else 0)
    if not shown.net:
        return bytes([first, second])
    return bytes([first, second | 0x40, 0x30 | 0x04])


def answer_scp01_status(shown: Shown) -> bytes:
    """LF, status, CR, ETX: the answer to ``S``, ``Z`` and ``T``."""
    return LF + status_scp01(shown) + CR + ETX


def answer_scp01_weight(shown: Shown, unit: str = "kg") -> bytes:
    """LF, the weight and unit, CR, LF, status, CR, ETX: the answer to ``W``."""
    return LF + _display(shown, unit).encode("ascii") + CR + answer_scp01_status(shown)


def _display(shown: Shown, unit: str) -> str:
    if shown.over:
        return "^^^^.^^^" + unit  # the display's out-of-range marks; the status bits tell
    sign = "-" if shown.under else ""
    grams = abs(shown.grams)
    if unit == "kg":
        return f"{sign}{grams // 1000:04d}.{grams % 1000:03d}kg"
    per_unit = GRAMS_PER_LB if unit == "lb" else GRAMS_PER_OZ
    return f"{sign}{grams / per_unit:07.2f}{unit}"


REFUSED_SCP01 = LF + b"?" + CR + ETX
