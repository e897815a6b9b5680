"""In-store labels: GS1 restricted-circulation numbers printed by the store's label scales.

A label format is a pattern of one character per digit, e.g. ``20IIIIIPPPPPC``:

- a digit: must be exactly that digit (the prefix, usually 20–29 or 02);
- ``I``: the item's PLU (matched against the catalog's ``plu`` as a number);
- ``P``: the price in minor units, or ``W``: the weight in grams (one of the two);
- ``V``: optional GS1 verifier digit over the 4- or 5-digit price/weight field;
- ``C``: the EAN/UPC check digit, last.

biip knows RCN layouts only for fixed European regions, and Chinese stores
choose their own, so the layout is data here. Check and verifier digits come from
biip's GS1 arithmetic.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit


class LabelFormatError(ValueError):
    """A label pattern in the config is not usable."""


class LabelKind(enum.Enum):
    PRICE = "price"
    WEIGHT = "weight"


@dataclass(frozen=True)
class LabelData:
    """What a label says: the PLU and either a price (minor units) or a weight (grams)."""

    plu: int
    kind: LabelKind
    value: int


def verifier_digit(field: str) -> int:
    """GS1 price/weight verifier digit of a 4- or 5-digit field (GS1 GenSpecs §7.9.3).

    >>> verifier_digit("2875"), verifier_digit("14685")
    (9, 6)
    """
    return gs1_price_weight_check_digit(field)


@dataclass(frozen=True)
class LabelFormat:
    """One configured label layout (see the module docstring)."""

    pattern: str
    kind: LabelKind
    literal: tuple[tuple[int, str], ...]
    item: slice
    measure: slice
    verifier: int | None

    @classmethod
    def parse(cls, pattern: str) -> LabelFormat:
        if len(pattern) not in (12, 13):
            raise LabelFormatError(f"{pattern!r}: a label is 12 or 13 digits long")
        bad = set(pattern) - set("0123456789IPWVC")
        if bad:
            raise LabelFormatError(f"{pattern!r}: unknown pattern letters {''.join(sorted(bad))}")
        if pattern.count("C") != 1 or not pattern.endswith("C"):
            raise LabelFormatError(f"{pattern!r}: exactly one check digit C, at the end")
        if ("P" in pattern) == ("W" in pattern):
            raise LabelFormatError(f"{pattern!r}: needs either price digits P or weight digits W")
        measure_letter = "P" if "P" in pattern else "W"
        item = _run(pattern, "I")
        measure = _run(pattern, measure_letter)
        if item is None or measure is None:
            raise LabelFormatError(f"{pattern!r}: I and {measure_letter} must each be one run")
        literal = tuple((i, c) for i, c in enumerate(pattern) if c.isdigit())
        if not literal or literal[0][0] != 0:
            raise LabelFormatError(f"{pattern!r}: must start with a literal prefix digit")
        verifier = None
        if "V" in pattern:
            if pattern.count("V") != 1 or (measure.stop - measure.start) not in (4, 5):
                raise LabelFormatError(f"{pattern!r}: one V, over a 4- or 5-digit field")
            verifier = pattern.index("V")
        kind = LabelKind.PRICE if measure_letter == "P" else LabelKind.WEIGHT
        return cls(pattern, kind, literal, item, measure, verifier)

    def matches(self, digits: str) -> bool:
        return len(digits) == len(self.pattern) and all(digits[i] == c for i, c in self.literal)

    def decode(self, digits: str) -> LabelData:
        """Read a label whose prefix ``matches``; the EAN check digit is already verified.

        Raises ``ValueError`` when the verifier digit is wrong.
        """
        field = digits[self.measure]
        if self.verifier is not None and int(digits[self.verifier]) != verifier_digit(field):
            raise ValueError(f"label {digits}: price/weight verifier digit is wrong")
        return LabelData(plu=int(digits[self.item]), kind=self.kind, value=int(field))

    def encode(self, plu: int, value: int) -> str:
        """Make a label (for hw_sim, tests and technicians)."""
        item_len = self.item.stop - self.item.start
        measure_len = self.measure.stop - self.measure.start
        if not (0 <= plu < 10**item_len and 0 <= value < 10**measure_len):
            raise ValueError(f"PLU {plu} or value {value} does not fit {self.pattern}")
        out = list(self.pattern)
        out[self.item] = f"{plu:0{item_len}d}"
        field = f"{value:0{measure_len}d}"
        out[self.measure] = field
        if self.verifier is not None:
            out[self.verifier] = str(verifier_digit(field))
        body = "".join(out[:-1])
        return body + str(gs1_standard_check_digit(body))


def _run(pattern: str, letter: str) -> slice | None:
    first = pattern.find(letter)
    if first < 0:
        return None
    last = pattern.rfind(letter)
    if pattern[first : last + 1] != letter * (last - first + 1):
        return None
    return slice(first, last + 1)
