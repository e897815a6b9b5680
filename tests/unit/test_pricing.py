"""The pricing engine, type by type, with the arithmetic worked by hand beside each case.

Money in fen; quantities in thousandths. ``sold`` builds a line at its catalog amount.
"""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from unittest.mock import patch

import pytest

from firmware_app.lane import pricing_search
from firmware_app.lane.catalog import Unit
from firmware_app.lane.money import amount_of
from firmware_app.lane.pricing import BasketLine, LinePrice, PromoShare, price_basket
from firmware_app.lane.promotions import Promotion, PromoType

CST = timezone(timedelta(hours=8))
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=CST)


def sold(
    no: int,
    sku: str,
    qty: int,
    price: int,
    *,
    member_price: int | None = None,
    department: str | None = None,
    unit: Unit = Unit.EACH,
) -> BasketLine:
    return BasketLine(no, sku, department, unit, qty, price, member_price, amount_of(qty, price))


def promo(id: str, kind: PromoType, items: str = "", **fields: object) -> Promotion:
    name = fields.pop("name", f"{kind.value} {id}")
    return Promotion(id, str(name), kind, items=frozenset(items.split()), **fields)  # type: ignore[arg-type]


def percent(id: str, items: str, pct: str, **fields: object) -> Promotion:
    return promo(id, PromoType.PERCENT_OFF, items, percent=Decimal(pct), **fields)


def priced(lines: list[BasketLine], promotions: list[Promotion], **kw: object) -> dict[int, int]:
    """Each line's promotional discount (member saving + shares)."""
    result = price_basket(
        lines,
        member=bool(kw.get("member", False)),
        now=kw.get("now", NOON),  # type: ignore[arg-type]
        promotions=promotions,
    )
    return {no: price.discount for no, price in result.items()}


def shares(
    lines: list[BasketLine], promotions: list[Promotion], **kw: object
) -> dict[int, dict[str, int]]:
    result = price_basket(
        lines,
        member=bool(kw.get("member", False)),
        now=kw.get("now", NOON),  # type: ignore[arg-type]
        promotions=promotions,
    )
    return {no: {s.id: s.discount for s in p.promotions} for no, p in result.items()}


# --- one type at a time ------------------------------------------------------------


def test_nothing_applies_without_promotions() -> None:
    assert price_basket([sold(1, "A", 2000, 399)], member=False, now=NOON, promotions=[]) == {
        1: LinePrice()
    }


def test_percent_off_is_worked_on_the_covered_amount_half_up() -> None:
    # 2 × 3.99 = 798; 15 % = 119.7 -> 120
    assert priced([sold(1, "A", 2000, 399)], [percent("P1", "A", "15")]) == {1: 120}
    # 1 × 1.25 at 10 % = 12.5 -> 13 (half up)
    assert priced([sold(1, "A", 1000, 125)], [percent("P1", "A", "10")]) == {1: 13}


def test_percent_off_on_a_weighed_line() -> None:
    # 0.532 kg × 12.00/kg = 638.4 -> 638; 10 % = 63.8 -> 64
    line = sold(1, "C", 532, 1200, unit=Unit.KG)
    assert line.amount == 638
    assert priced([line], [percent("P1", "C", "10")]) == {1: 64}


def test_amount_off_each_counted_unit_never_below_zero() -> None:
    off = promo("P1", PromoType.AMOUNT_OFF, "A B", amount=50)
    # A: 2 × 50 = 100; B costs 0.30, so 30 off it, not 50
    lines = [sold(1, "A", 2000, 300), sold(2, "B", 1000, 30)]
    assert priced(lines, [off]) == {1: 100, 2: 30}


def test_amount_off_takes_nothing_off_a_weighed_line() -> None:
    off = promo("P1", PromoType.AMOUNT_OFF, "C", amount=50)
    assert priced([sold(1, "C", 532, 1200, unit=Unit.KG)], [off]) == {1: 0}


def test_fixed_price_per_unit_and_never_a_rise() -> None:
    fixed = promo("P1", PromoType.FIXED_PRICE, "A B", price=399)
    # A: 3 × (500 − 399) = 303; B at 3.00 stays 3.00 (399 would be a rise)
    lines = [sold(1, "A", 3000, 500), sold(2, "B", 1000, 300)]
    assert shares(lines, [fixed]) == {1: {"P1": 303}, 2: {}}


def test_fixed_price_per_kg_on_a_weighed_line() -> None:
    # 638 − amount_of(0.532 kg, 9.99/kg) = 638 − 531.468 -> 638 − 531 = 107
    fixed = promo("P1", PromoType.FIXED_PRICE, "C", price=999)
    assert priced([sold(1, "C", 532, 1200, unit=Unit.KG)], [fixed]) == {1: 107}


def test_multi_buy_mixed_across_items() -> None:
    # 3 for 10.00 over A (2 × 4.00) and B (3.50): 800 + 350 − 1000 = 150 off,
    # spread 800 : 350 -> 104.35 / 45.65 -> 104 + 45, the last fen to the larger
    # remainder (B's .65) -> A 104, B 46
    deal = promo("P1", PromoType.MULTI_BUY, "A B", qty=3, price=1000)
    lines = [sold(1, "A", 2000, 400), sold(2, "B", 1000, 350)]
    assert priced(lines, [deal]) == {1: 104, 2: 46}


def test_multi_buy_only_whole_groups_and_dearest_first() -> None:
    # 3 for 10.00; A 4.50, B 4.00 × 3: one group; the dearest (A, B, B) saves
    # 450 + 400 + 400 − 1000 = 250, the fourth unit pays full price.
    # spread 450 : 800 (of the 1200 of B's line, 800 are in the group) -> 90 + 160 = 250
    deal = promo("P1", PromoType.MULTI_BUY, "A B", qty=3, price=1000)
    lines = [sold(1, "A", 1000, 450), sold(2, "B", 3000, 400)]
    assert priced(lines, [deal]) == {1: 90, 2: 160}


def test_multi_buy_takes_no_weighed_line() -> None:
    deal = promo("P1", PromoType.MULTI_BUY, "A C", qty=2, price=500)
    lines = [sold(1, "A", 1000, 400), sold(2, "C", 1000, 1200, unit=Unit.KG)]
    assert priced(lines, [deal]) == {1: 0, 2: 0}


def test_buy_get_the_cheapest_at_the_percent() -> None:
    # buy 1 get 1 at 50 %: A 5.00 + B 3.00, the cheaper (300) half off = 150;
    # spread 500 : 300 -> 93.75 / 56.25 -> 93 + 56, last fen to A (.75) -> 94, 56
    deal = promo("P1", PromoType.BUY_GET, "A B", buy=1, get=1, percent=Decimal("50"))
    lines = [sold(1, "A", 1000, 500), sold(2, "B", 1000, 300)]
    assert priced(lines, [deal]) == {1: 94, 2: 56}


def test_buy_get_groups_dearest_first_for_the_customer() -> None:
    # buy 1 get 1 free over A 5.00 × 2 and B 3.00 × 2: groups [A A] [B B] free one A and
    # one B (800), better than [A B] [A B] (600); 800 spread 1000 : 600 -> 500, 300
    deal = promo("P1", PromoType.BUY_GET, "A B", buy=1, get=1, percent=Decimal("100"))
    lines = [sold(1, "A", 2000, 500), sold(2, "B", 2000, 300)]
    assert priced(lines, [deal]) == {1: 500, 2: 300}


def test_buy_get_needs_a_whole_group() -> None:
    # buy 2 get 1: three units give one free (the cheapest, 300); a fourth gives nothing
    deal = promo("P1", PromoType.BUY_GET, "A", buy=2, get=1, percent=Decimal("100"))
    assert priced([sold(1, "A", 4000, 300)], [deal]) == {1: 300}
    assert priced([sold(1, "A", 2000, 300)], [deal]) == {1: 0}


def test_threshold_once_and_with_repeat() -> None:
    # qualifying 250.00: min 100.00 -> 20.00 off; with repeat 2 × 20.00 = 40.00
    lines = [sold(1, "A", 1000, 15000), sold(2, "B", 1000, 10000)]
    once = promo("P1", PromoType.THRESHOLD, "A B", min=10000, off=2000)
    again = promo("P1", PromoType.THRESHOLD, "A B", min=10000, off=2000, repeat=True)
    # 2000 spread 15000 : 10000 -> 1200, 800; 4000 -> 2400, 1600
    assert priced(lines, [once]) == {1: 1200, 2: 800}
    assert priced(lines, [again]) == {1: 2400, 2: 1600}


def test_threshold_not_reached_by_a_fen() -> None:
    lines = [sold(1, "A", 1000, 9999)]
    deal = promo("P1", PromoType.THRESHOLD, "A", min=10000, off=2000)
    assert priced(lines, [deal]) == {1: 0}


def test_threshold_counts_only_qualifying_lines_by_department() -> None:
    # dairy 60.00 + 50.00 = 110.00 ≥ 100.00 -> 20.00 off, spread 6000 : 5000 -> 1091, 909;
    # the bread line does not count and gets nothing
    deal = Promotion(
        "P1",
        "满100减20",
        PromoType.THRESHOLD,
        departments=frozenset({"dairy"}),
        min=10000,
        off=2000,
    )
    lines = [
        sold(1, "A", 1000, 6000, department="dairy"),
        sold(2, "B", 1000, 5000, department="dairy"),
        sold(3, "X", 1000, 9000, department="bread"),
    ]
    # 2000 × 6000 / 11000 = 1090.9, 2000 × 5000 / 11000 = 909.1 -> 1090 + 909, +1 to A
    assert priced(lines, [deal]) == {1: 1091, 2: 909, 3: 0}


def test_threshold_applies_to_amounts_after_item_level_promotions() -> None:
    # A 60.00, B 50.00; threshold 100.00 -> 20.00 on both. P1 10 % off A (6.00) keeps the
    # net at 104.00 (threshold holds): 110 − 6 − 20 = 84.00. P2 A at 44.00 saves 16.00 but
    # leaves 94.00 (no threshold): 94.00. Neither: 110 − 20 = 90.00. P1 is chosen.
    lines = [sold(1, "A", 1000, 6000), sold(2, "B", 1000, 5000)]
    deals = [
        percent("P1", "A", "10"),
        promo("P2", PromoType.FIXED_PRICE, "A", price=4400),
        promo("P9", PromoType.THRESHOLD, "A B", min=10000, off=2000),
    ]
    got = shares(lines, deals)
    # threshold spread over the nets 5400 : 5000 -> 1038.46 / 961.54 -> 1038, 962
    assert got == {1: {"P1": 600, "P9": 1038}, 2: {"P9": 962}}
    assert sum(priced(lines, deals).values()) == 11000 - 8400


def test_two_thresholds_never_take_more_than_is_left() -> None:
    # 1.00 of A; two thresholds of 0.60 off at 1.00: the first 60, the second the 40 left
    deals = [
        promo("P1", PromoType.THRESHOLD, "A", min=100, off=60),
        promo("P2", PromoType.THRESHOLD, "A", min=100, off=60),
    ]
    assert shares([sold(1, "A", 1000, 100)], deals) == {1: {"P1": 60, "P2": 40}}


# --- choosing ----------------------------------------------------------------------


def test_each_unit_takes_one_promotion_the_best() -> None:
    # A 10.00: 10 % (100) or 0.50 off (50): one of them, the better
    deals = [percent("P1", "A", "10"), promo("P2", PromoType.AMOUNT_OFF, "A", amount=50)]
    assert shares([sold(1, "A", 1000, 1000)], deals) == {1: {"P1": 100}}


def test_units_of_one_line_may_take_different_promotions() -> None:
    # A 10.00 × 3; 2 for 15.00 saves 500 a pair, 20 % saves 200 a unit:
    # a pair + one at 20 % = 700 beats 3 at 20 % (600)
    deals = [
        promo("P1", PromoType.MULTI_BUY, "A", qty=2, price=1500),
        percent("P2", "A", "20"),
    ]
    assert shares([sold(1, "A", 3000, 1000)], deals) == {1: {"P1": 500, "P2": 200}}


def test_ties_go_to_the_lower_promotion_id() -> None:
    deals = [
        promo("P2", PromoType.AMOUNT_OFF, "A", amount=100),
        promo("P1", PromoType.AMOUNT_OFF, "A", amount=100),
    ]
    assert shares([sold(1, "A", 1000, 1000)], deals) == {1: {"P1": 100}}
    # ids compare as strings: "P10" < "P2"
    deals = [
        promo("P2", PromoType.AMOUNT_OFF, "A", amount=100),
        promo("P10", PromoType.AMOUNT_OFF, "A", amount=100),
    ]
    assert shares([sold(1, "A", 1000, 1000)], deals) == {1: {"P10": 100}}


def test_ties_give_the_lower_promotion_all_it_can_take() -> None:
    # P1 and P2 each take 1.00 off a unit of A or B (both 5.00): 200 off whichever takes
    # what; at equal totals P1, the lower id, takes both
    deals = [
        promo("P2", PromoType.MULTI_BUY, "A B", qty=1, price=400),
        promo("P1", PromoType.MULTI_BUY, "A B", qty=1, price=400),
    ]
    lines = [sold(1, "B", 1000, 500), sold(2, "A", 1000, 500)]
    assert shares(lines, deals) == {1: {"P1": 100}, 2: {"P1": 100}}


def test_ties_give_the_lower_promotion_the_lower_sku() -> None:
    # A, B, C at 5.00; P1 2 for 8.00 (200 off a pair), P2 1.00 off any: a pair to P1 and
    # the third to P2 = 300 whichever pair; P1 takes A and B (the lower skus), P2 C
    deals = [
        promo("P1", PromoType.MULTI_BUY, "A B C", qty=2, price=800),
        promo("P2", PromoType.AMOUNT_OFF, "A B C", amount=100),
    ]
    lines = [sold(1, "C", 1000, 500), sold(2, "B", 1000, 500), sold(3, "A", 1000, 500)]
    assert shares(lines, deals) == {1: {"P2": 100}, 2: {"P1": 100}, 3: {"P1": 100}}


# --- member prices -----------------------------------------------------------------


def test_member_price_is_the_price_before_promotions() -> None:
    # 10.00, member 8.00: member saving 200; 10 % of 8.00 = 80 on top
    line = sold(1, "A", 1000, 1000, member_price=800)
    result = price_basket([line], member=True, now=NOON, promotions=[percent("P1", "A", "10")])
    assert result == {1: LinePrice(200, (PromoShare("P1", "percent_off P1", 80),))}
    # no member: 10 % of 10.00
    assert priced([line], [percent("P1", "A", "10")]) == {1: 100}


def test_a_fixed_price_above_the_member_price_gives_nothing_more() -> None:
    line = sold(1, "A", 2000, 1000, member_price=800)
    fixed = promo("P1", PromoType.FIXED_PRICE, "A", price=850)
    # member: 2 × 2.00 member saving, 8.50 would be a rise -> 400, no share
    assert shares([line], [fixed], member=True) == {1: {}}
    assert priced([line], [fixed], member=True) == {1: 400}
    # no member: 2 × (10.00 − 8.50) = 300
    assert priced([line], [fixed]) == {1: 300}


def test_member_price_on_a_weighed_line() -> None:
    # 0.532 kg: 12.00/kg -> 638, member 10.00/kg -> 532; saving 106
    line = sold(1, "C", 532, 1200, member_price=1000, unit=Unit.KG)
    assert price_basket([line], member=True, now=NOON, promotions=[]) == {1: LinePrice(106)}


def test_a_member_price_above_the_price_is_ignored() -> None:
    line = sold(1, "A", 1000, 1000, member_price=1200)
    assert priced([line], [], member=True) == {1: 0}


def test_members_only_needs_a_member() -> None:
    deal = percent("P1", "A", "10", members_only=True)
    line = sold(1, "A", 1000, 1000)
    assert priced([line], [deal]) == {1: 0}
    assert priced([line], [deal], member=True) == {1: 100}


# --- windows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "applies"),
    [
        (datetime(2026, 12, 1, 0, 0, tzinfo=CST), True),  # starts: inclusive
        (datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=CST), False),
        (datetime(2026, 12, 7, 23, 59, 59, 999999, tzinfo=CST), True),
        (datetime(2026, 12, 8, 0, 0, tzinfo=CST), False),  # ends: exclusive
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), False),  # = 8 Dec 00:00 CST
    ],
)
def test_starts_inclusive_ends_exclusive(now: datetime, applies: bool) -> None:
    deal = percent(
        "P1",
        "A",
        "10",
        starts=datetime(2026, 12, 1, tzinfo=CST),
        ends=datetime(2026, 12, 8, tzinfo=CST),
    )
    assert priced([sold(1, "A", 1000, 1000)], [deal], now=now) == {1: 100 if applies else 0}


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (time(17, 0), True),
        (time(16, 59, 59), False),
        (time(19, 59, 59), True),
        (time(20, 0), False),
    ],
)
def test_hours_start_inclusive_end_exclusive(at: time, applies: bool) -> None:
    deal = percent("P1", "A", "10", hours=(time(17, 0), time(20, 0)))
    now = datetime.combine(NOON.date(), at, tzinfo=CST)
    assert priced([sold(1, "A", 1000, 1000)], [deal], now=now) == {1: 100 if applies else 0}


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (time(22, 0), True),
        (time(21, 59), False),
        (time(23, 59, 59), True),
        (time(0, 0), True),
        (time(5, 59, 59), True),
        (time(6, 0), False),
        (time(12, 0), False),
    ],
)
def test_hours_running_over_midnight(at: time, applies: bool) -> None:
    deal = percent("P1", "A", "10", hours=(time(22, 0), time(6, 0)))
    now = datetime.combine(NOON.date(), at, tzinfo=CST)
    assert priced([sold(1, "A", 1000, 1000)], [deal], now=now) == {1: 100 if applies else 0}


def test_hours_are_the_local_time_of_now() -> None:
    # 10:00 UTC is 18:00 in the lane's zone (+08:00): inside 17:00–20:00
    deal = percent("P1", "A", "10", hours=(time(17, 0), time(20, 0)))
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC).astimezone(CST)
    assert priced([sold(1, "A", 1000, 1000)], [deal], now=now) == {1: 100}


# --- lines -------------------------------------------------------------------------


def test_return_lines_take_no_part() -> None:
    back = BasketLine(2, "A", None, Unit.EACH, -1000, 1000, None, -1000)
    zero = BasketLine(3, "A", None, Unit.EACH, 0, 1000, None, 0)
    deals = [promo("P1", PromoType.AMOUNT_OFF, "A", amount=100)]
    result = price_basket(
        [sold(1, "A", 1000, 1000), back, zero], member=False, now=NOON, promotions=deals
    )
    assert result[2] == LinePrice() and result[3] == LinePrice()
    assert result[1].discount == 100


def test_lines_of_one_sku_share_as_one() -> None:
    # A scanned three times (lines 1, 4, 7), 2 for 15.00 on 3 units: one pair (500 off),
    # spread over the three equal lines 1000 : 1000 : 1000 -> 166.67 each -> 166 × 3 = 498,
    # the 2 fen left to the lower lines 1 and 4
    deal = promo("P1", PromoType.MULTI_BUY, "A", qty=2, price=1500)
    lines = [sold(7, "A", 1000, 1000), sold(1, "A", 1000, 1000), sold(4, "A", 1000, 1000)]
    assert priced(lines, [deal]) == {7: 166, 1: 167, 4: 167}


def test_a_line_of_a_hundred_pieces_is_quick() -> None:
    deals = [
        percent("P1", "A", "10"),
        promo("P2", PromoType.MULTI_BUY, "A", qty=3, price=2500),
        promo("P3", PromoType.BUY_GET, "A", buy=2, get=1, percent=Decimal("50")),
        promo("P4", PromoType.THRESHOLD, "A", min=10000, off=1000, repeat=True),
    ]
    started = clock.perf_counter()
    got = shares([sold(1, "A", 100_000, 1000)], deals)
    assert clock.perf_counter() - started < 0.5
    # 3 for 25.00 saves 500 per 3 units (166.7 a unit), better than 10 % (100) or the
    # half-price third (166.66): 33 groups = 16500, the last unit 10 % = 100;
    # net 100000 − 16600 = 83400 -> 8 × 1000 off
    assert got == {1: {"P1": 100, "P2": 16500, "P4": 8000}}


def test_above_the_exact_bound_one_promotion_alone_can_still_win() -> None:
    # The same basket as above, priced as if it were too big to search exactly: the
    # greedy pass gives A to P2 (16.00 off a unit beats 6.00) and loses the threshold
    # (94.00); no promotion gives 90.00; P1 alone gives 84.00 and is chosen.
    lines = [sold(1, "A", 1000, 6000), sold(2, "B", 1000, 5000)]
    deals = [
        percent("P1", "A", "10"),
        promo("P2", PromoType.FIXED_PRICE, "A", price=4400),
        promo("P9", PromoType.THRESHOLD, "A B", min=10000, off=2000),
    ]
    with patch.object(pricing_search, "EXACT_LIMIT", 0):
        assert shares(lines, deals) == {1: {"P1": 600, "P9": 1038}, 2: {"P9": 962}}
    with patch.object(pricing_search, "EXACT_LIMIT", 0):  # and the greedy pass alone
        greedy = pricing_search.Pricer.greedy
        with patch.object(pricing_search.Pricer, "heuristic", greedy):
            assert sum(priced(lines, deals).values()) == 1600
