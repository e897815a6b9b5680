"""A sale discount's spread over lines, as properties: the shares sum to the discount,
none takes a line below zero, the result depends on line numbers and amounts only
(never on the order lines are listed), and taxes per rate are those of the discounted
amounts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from firmware_app.lane.catalog import Unit
from firmware_app.lane.discounting import parse_percent, percent_of, spread
from firmware_app.lane.money import tax_included
from firmware_app.lane.sale import Line, taxes

RATES = [Decimal("13"), Decimal("9"), Decimal("6"), Decimal("0")]

amounts = st.integers(min_value=0, max_value=10**7)
percents = st.decimals(min_value=1, max_value=99, places=1)


@st.composite
def weights(draw: st.DrawFn) -> list[tuple[int, int]]:
    """(line number, net amount) with distinct line numbers."""
    values = draw(st.lists(amounts, min_size=1, max_size=12))
    numbers = draw(st.permutations(range(1, len(values) + 1)))
    return list(zip(numbers, values, strict=True))


@given(weights(), percents)
def test_the_shares_sum_to_the_discount_and_take_no_line_below_zero(
    lines: list[tuple[int, int]], percent: Decimal
) -> None:
    total = percent_of(sum(w for _, w in lines), percent)
    shares = spread(total, lines)
    assert sum(shares.values()) == total
    assert set(shares) == {no for no, _ in lines}
    for no, weight in lines:
        assert 0 <= shares[no] <= weight


@given(weights(), st.integers(min_value=0, max_value=10**6), st.randoms())
def test_the_order_lines_are_listed_in_changes_nothing(
    lines: list[tuple[int, int]], total: int, random: object
) -> None:
    total = min(total, sum(w for _, w in lines))
    shuffled = list(lines)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert spread(total, shuffled) == spread(total, lines)


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=2, max_value=9))
def test_ties_go_to_the_lower_line_numbers(weight: int, count: int) -> None:
    lines = [(no, weight) for no in range(count, 0, -1)]  # listed highest number first
    total = weight * count - 1 if weight * count > 1 else 0
    shares = spread(total, lines)
    ordered = [shares[no] for no in range(1, count + 1)]
    assert ordered == sorted(ordered, reverse=True)
    assert max(ordered) - min(ordered) <= 1


@given(st.lists(st.tuples(amounts, st.sampled_from(RATES)), min_size=1, max_size=10), percents)
def test_taxes_per_rate_are_the_tax_of_the_discounted_amounts(
    items: list[tuple[int, Decimal]], percent: Decimal
) -> None:
    lines = [
        Line(no, str(no), str(no), "x", Unit.EACH, 1000, amount, amount, rate)
        for no, (amount, rate) in enumerate(items, 1)
    ]
    total = percent_of(sum(ln.amount for ln in lines), percent)
    shares = spread(total, [(ln.no, ln.amount) for ln in lines])
    discounted = tuple(replace(ln, discount=shares[ln.no]) for ln in lines)
    net: dict[Decimal, int] = defaultdict(int)
    for ln in discounted:
        net[ln.tax_rate] += ln.amount - ln.discount
    assert {t.rate: (t.gross, t.tax) for t in taxes(discounted)} == {
        rate: (gross, tax_included(gross, rate)) for rate, gross in net.items()
    }
    assert sum(t.gross for t in taxes(discounted)) == sum(ln.amount for ln in lines) - total


@given(st.text(max_size=6))
def test_a_percent_is_1_to_99_with_one_decimal_at_most(text: str) -> None:
    percent = parse_percent(text)
    if percent is not None:
        assert 1 <= percent <= 99 and -percent.as_tuple().exponent <= 1  # type: ignore[operator]
        assert percent == Decimal(text)


def test_percent_examples() -> None:
    assert [parse_percent(t) for t in ("10", "12.5", "99", "1", "1.0")] == [
        Decimal("10"), Decimal("12.5"), Decimal("99"), Decimal("1"), Decimal("1.0"),
    ]  # fmt: skip
    for text in ("0", "0.5", "100", "99.5", "1.25", "", ".5", "5.", "-5", "١٢"):
        assert parse_percent(text) is None, text
    assert percent_of(350, Decimal("2.5")) == 9  # 8.75 half up
    assert percent_of(10, Decimal("5")) == 1  # 0.5 half up
