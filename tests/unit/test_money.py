"""Money and quantities: integers only, one rounding rule."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.lane.money import (
    amount_of,
    format_money,
    format_qty,
    parse_money,
    round_half_up,
    round_to_step,
    tax_included,
)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_half_up_matches_decimal(n: int, d: int) -> None:
    expected = (Decimal(n) / Decimal(d)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_half_up(n, d) == int(expected)


@given(st.integers(0, 10**10), st.integers(0, 3))
def test_money_round_trip(amount: int, digits: int) -> None:
    assert parse_money(format_money(amount, digits), digits) == amount


@pytest.mark.parametrize(("text", "minor"), [("100", 10000), ("9.5", 950), ("0.05", 5), (".5", 50)])
def test_parse_money(text: str, minor: int) -> None:
    assert parse_money(text, 2) == minor


@pytest.mark.parametrize("text", ["", ".", "1.2.3", "1.234", "-1", "1e3", "١٢"])
def test_parse_money_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text, 2)


@pytest.mark.parametrize(
    ("milli", "text"), [(2000, "2"), (532, "0.532"), (-532, "-0.532"), (1500, "1.5"), (0, "0")]
)
def test_format_qty(milli: int, text: str) -> None:
    assert format_qty(milli) == text


def test_amounts_and_taxes() -> None:
    assert amount_of(532, 1280) == 681  # 6.8096
    assert amount_of(2000, 350) == 700
    assert tax_included(700, Decimal("13")) == 81
    assert tax_included(113, Decimal("13")) == 13
    assert tax_included(100, Decimal("0")) == 0


@pytest.mark.parametrize(
    ("amount", "step", "mode", "out"),
    [
        (681, 10, "half-up", 680),
        (685, 10, "half-up", 690),
        (689, 10, "down", 680),
        (681, 0, "half-up", 681),
        (681, 50, "half-up", 700),
    ],
)
def test_round_to_step(amount: int, step: int, mode: str, out: int) -> None:
    assert round_to_step(amount, step, mode) == out


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_qty_is_the_normalised_decimal(milli: int) -> None:
    """The whole-piece fast path says what the general one says."""
    from decimal import Decimal

    text = format(Decimal(milli).scaleb(-3).normalize(), "f")
    assert format_qty(milli) == ("0" if text in ("-0", "0") else text)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=0, max_value=4))
def test_format_money_is_the_exact_decimal(amount: int, digits: int) -> None:
    from decimal import Decimal

    expected = f"{Decimal(amount).scaleb(-digits):f}" if digits else str(amount)
    assert format_money(amount, digits) == expected
