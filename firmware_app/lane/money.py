"""Money and quantities: integers only, one rounding function.

Money is in minor units (fen). Quantities are integer thousandths of their unit
(grams for ``kg``, 1000 per piece for ``each``), printed as decimal strings.
"""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal

MILLI = 1000


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero.

    The one rounding rule for money: line amounts of weighed goods, tax per rate.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def round_to_step(amount: int, step: int, mode: str) -> int:
    """Cash rounding of ``amount`` to a multiple of ``step`` (``half-up`` or ``down``)."""
    if step <= 1:
        return amount
    if mode == "down":
        return (amount // step) * step
    return round_half_up(amount, step) * step


def format_money(amount: int, minor_digits: int) -> str:
    """Minor units as a decimal string: 1234 -> ``"12.34"``, -5 -> ``"-0.05"``."""
    if minor_digits == 0:
        return str(amount)
    if amount < 0:
        return "-" + format_money(-amount, minor_digits)
    text = str(amount).rjust(minor_digits + 1, "0")  # every receipt line: kept cheap
    return f"{text[:-minor_digits]}.{text[-minor_digits:]}"


def parse_money(text: str, minor_digits: int) -> int:
    """A keyed amount in currency units (``"100"``, ``"9.5"``) to minor units.

    Raises ``ValueError`` for anything that is not a plain non-negative amount
    with at most ``minor_digits`` decimals.
    """
    digits = text.replace(".", "")
    if not text or text.count(".") > 1 or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not an amount: {text!r}")
    whole, _, frac = text.partition(".")
    if len(frac) > minor_digits:
        raise ValueError(f"more than {minor_digits} decimals: {text!r}")
    scale: int = 10**minor_digits
    return int(whole or "0") * scale + int((frac or "0").ljust(minor_digits, "0"))


def format_qty(milli: int) -> str:
    """Thousandths as the contract's decimal string: 2000 -> ``"2"``, -532 -> ``"-0.532"``."""
    if milli % MILLI == 0:  # whole pieces, nearly every line: no Decimal needed
        return str(milli // MILLI)
    text = format(Decimal(milli).scaleb(-3).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def amount_of(milli_qty: int, unit_price: int) -> int:
    """Line amount in minor units: quantity (thousandths) × unit price, half up."""
    return round_half_up(milli_qty * unit_price, MILLI)


@functools.lru_cache(maxsize=64)
def rate_text(rate: Decimal) -> str:
    """A tax rate as the contract writes it: ``Decimal("13.0")`` -> ``"13"`` (a store has
    a handful of rates, and each sale writes them on every line: kept once worked out)."""
    return format(rate.normalize(), "f")


def tax_included(gross: int, rate: Decimal) -> int:
    """Tax contained in a tax-inclusive ``gross``: round-half-up(gross × r / (100 + r))."""
    exact = Decimal(gross) * rate / (Decimal(100) + rate)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
