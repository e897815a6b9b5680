"""The pricing engine as properties over small random baskets and promotions: line order
and line numbers change nothing that matters, no line goes below zero, the shares add
up, the result is never worse than one promotion alone (checked against a small
reference written here from the contract's rules), and one more item never costs more
than its own price."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from unittest.mock import patch

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from firmware_app.lane import pricing_search
from firmware_app.lane.catalog import Unit
from firmware_app.lane.money import MILLI, amount_of, round_half_up
from firmware_app.lane.pricing import BasketLine, LinePrice, PromotionBook, price_basket
from firmware_app.lane.pricing_basket import build_classes, offers_and_thresholds
from firmware_app.lane.pricing_search import Pricer, components
from firmware_app.lane.promotions import Promotion, PromoType

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone(timedelta(hours=8)))
SKUS = ["A", "B", "C", "D"]
DEPARTMENTS = ["d1", "d2"]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, tuple[str | None, Unit, int, int | None]]:
    """sku -> (department, unit, price, member price)."""
    result = {}
    for sku in SKUS:
        price = draw(st.integers(0, 3000))
        member = draw(st.one_of(st.none(), st.integers(0, 3000)))
        department = draw(st.sampled_from([*DEPARTMENTS, None]))
        unit = draw(st.sampled_from([Unit.EACH, Unit.EACH, Unit.KG]))
        result[sku] = (department, unit, price, member)
    return result


def line_of(
    no: int, sku: str, qty: int, catalog: dict[str, tuple[str | None, Unit, int, int | None]]
) -> BasketLine:
    department, unit, price, member = catalog[sku]
    return BasketLine(no, sku, department, unit, qty, price, member, amount_of(qty, price))


@st.composite
def baskets(draw: st.DrawFn, most: int = 4, pieces: int = 3, least: int = 1) -> list[BasketLine]:
    catalog = draw(catalogs())
    count = draw(st.integers(least, most))
    lines = []
    for no in range(1, count + 1):
        sku = draw(st.sampled_from(SKUS))
        if catalog[sku][1] is Unit.KG:
            qty = draw(st.integers(1, 2500))
        else:
            qty = draw(st.integers(1, pieces)) * MILLI
        lines.append(line_of(no, sku, qty, catalog))
    return lines


PERCENTS = [Decimal(p) for p in ("5", "10", "12.5", "33", "50", "100")]


@st.composite
def promotions(draw: st.DrawFn, most: int = 3, least: int = 0) -> list[Promotion]:
    ids = draw(
        st.lists(
            st.sampled_from(["P1", "P2", "P3", "P7", "P10", "P11"]),
            min_size=least,
            max_size=most,
            unique=True,
        )
    )
    result = []
    for id in ids:
        kind = draw(st.sampled_from(list(PromoType)))
        items = frozenset(draw(st.lists(st.sampled_from(SKUS), max_size=3)))
        departments = frozenset(draw(st.lists(st.sampled_from(DEPARTMENTS), max_size=1)))
        fields: dict[str, object] = {"members_only": draw(st.booleans())}
        if kind is PromoType.PERCENT_OFF:
            fields["percent"] = draw(st.sampled_from(PERCENTS))
        elif kind is PromoType.AMOUNT_OFF:
            fields["amount"] = draw(st.integers(1, 800))
        elif kind is PromoType.FIXED_PRICE:
            fields["price"] = draw(st.integers(0, 3000))
        elif kind is PromoType.MULTI_BUY:
            fields["qty"] = draw(st.integers(1, 3))
            fields["price"] = draw(st.integers(0, 6000))
        elif kind is PromoType.BUY_GET:
            fields["buy"] = draw(st.integers(0, 2))
            fields["get"] = draw(st.integers(1, 2))
            fields["percent"] = draw(st.sampled_from(PERCENTS))
        else:
            fields["min"] = draw(st.integers(1, 6000))
            fields["off"] = draw(st.integers(1, 1500))
            fields["repeat"] = draw(st.booleans())
        result.append(
            Promotion(id, f"deal {id}", kind, items=items, departments=departments, **fields)  # type: ignore[arg-type]
        )
    return result


def price(lines: list[BasketLine], deals: list[Promotion], member: bool) -> dict[int, LinePrice]:
    return price_basket(lines, member=member, now=NOW, promotions=deals)


def final_total(lines: list[BasketLine], result: dict[int, LinePrice]) -> int:
    return sum(line.amount - result[line.no].discount for line in lines)


def exact(lines: list[BasketLine], deals: list[Promotion], member: bool) -> bool:
    """The engine searches every assignment for this basket (no heuristic)."""
    classes = build_classes(lines, member)
    offers, thresholds = offers_and_thresholds(classes, deals, member=member, now=NOW)
    pricer = Pricer(classes, offers, thresholds)
    from firmware_app.lane.pricing_search import EXACT_LIMIT

    return all(pricer.ways(part) <= EXACT_LIMIT for part in components(classes, offers, thresholds))


# --- order and numbering -----------------------------------------------------------


@PROPS
@given(baskets(), promotions(), st.booleans(), st.randoms(use_true_random=False))
def test_line_order_changes_nothing(
    lines: list[BasketLine], deals: list[Promotion], member: bool, rng: random.Random
) -> None:
    shuffled = list(lines)
    rng.shuffle(shuffled)
    reordered = list(deals)
    rng.shuffle(reordered)
    assert price(shuffled, reordered, member) == price(lines, deals, member)
    book = PromotionBook(reordered)  # set up once, as the lane keeps them: same answer
    assert price_basket(shuffled, member=member, now=NOW, promotions=book) == price(
        lines, deals, member
    )


@PROPS
@given(baskets(), promotions(), st.booleans(), st.randoms(use_true_random=False))
def test_renumbering_keeps_what_each_sku_gets(
    lines: list[BasketLine], deals: list[Promotion], member: bool, rng: random.Random
) -> None:
    numbers = [line.no for line in lines]
    rng.shuffle(numbers)
    renumbered = [replace(line, no=no * 10) for line, no in zip(lines, numbers, strict=True)]

    def per_sku(basket: list[BasketLine]) -> dict[tuple[str, str], int]:
        got: dict[tuple[str, str], int] = defaultdict(int)
        for line in basket:
            result = price(basket, deals, member)[line.no]
            got[line.sku, ""] += result.member_saving
            for share in result.promotions:
                got[line.sku, share.id] += share.discount
        return dict(got)

    assert per_sku(renumbered) == per_sku(lines)


# --- bounds and sums ---------------------------------------------------------------


@PROPS
@given(baskets(), promotions(), st.booleans())
def test_no_line_goes_below_zero_and_every_share_counts(
    lines: list[BasketLine], deals: list[Promotion], member: bool
) -> None:
    result = price(lines, deals, member)
    assert set(result) == {line.no for line in lines}
    for line in lines:
        got = result[line.no]
        assert got.member_saving >= 0
        assert all(share.discount > 0 for share in got.promotions)
        assert len({share.id for share in got.promotions}) == len(got.promotions)
        assert 0 <= got.discount <= line.amount


@PROPS
@given(baskets(), promotions(most=1), st.booleans())
def test_one_promotion_s_shares_add_up_to_its_saving(
    lines: list[BasketLine], deals: list[Promotion], member: bool
) -> None:
    assume(all(deal.type is not PromoType.THRESHOLD for deal in deals))
    result = price(lines, deals, member)
    expected = {deal.id: alone_saving(lines, deal, member)[0] for deal in deals}
    given = defaultdict(int)
    for got in result.values():
        for share in got.promotions:
            given[share.id] += share.discount
    assert {id: amount for id, amount in expected.items() if amount} == dict(given)
    member_savings = sum(got.member_saving for got in result.values())
    assert sum(got.discount for got in result.values()) == member_savings + sum(given.values())


# --- never worse than one promotion alone ------------------------------------------


@PROPS
@given(baskets(), promotions(), st.booleans())
def test_never_worse_than_one_promotion_alone_or_none(
    lines: list[BasketLine], deals: list[Promotion], member: bool
) -> None:
    total = final_total(lines, price(lines, deals, member))
    assert total <= reference_total(lines, deals, None, member)
    for deal in deals:
        if deal.type is not PromoType.THRESHOLD:
            assert total <= reference_total(lines, deals, deal, member), deal


@PROPS
@given(
    baskets(least=2, most=6, pieces=4),
    promotions(least=2, most=5),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_the_heuristic_too_is_never_worse_than_one_promotion_alone(
    lines: list[BasketLine], deals: list[Promotion], member: bool, rng: random.Random
) -> None:
    with patch.object(pricing_search, "EXACT_LIMIT", 0):  # every part by the heuristic
        result = price(lines, deals, member)
        shuffled = list(lines)
        rng.shuffle(shuffled)
        assert price(shuffled, deals, member) == result
    total = final_total(lines, result)
    assert total <= reference_total(lines, deals, None, member)
    for deal in deals:
        if deal.type is not PromoType.THRESHOLD:
            assert total <= reference_total(lines, deals, deal, member), deal
    for line in lines:
        assert 0 <= result[line.no].discount <= line.amount


@PROPS
@given(baskets(most=3), promotions(), st.booleans(), st.data())
def test_one_more_item_costs_at_most_its_own_price(
    lines: list[BasketLine], deals: list[Promotion], member: bool, data: st.DataObject
) -> None:
    template = data.draw(st.sampled_from(lines))
    qty = MILLI if template.unit is Unit.EACH else data.draw(st.integers(1, 2500))
    extra = replace(template, no=99, qty=qty, amount=amount_of(qty, template.price))
    more = [*lines, extra]
    assume(exact(more, deals, member))
    before = final_total(lines, price(lines, deals, member))
    after = final_total(more, price(more, deals, member))
    assert after <= before + unit_price_amount(extra, member)


# --- the reference: one promotion alone, then the thresholds -------------------------


def unit_price_amount(line: BasketLine, member: bool) -> int:
    """The line's amount before promotions (at the member price when that is lower)."""
    if member and line.member_price is not None and line.member_price < line.price:
        return amount_of(line.qty, line.member_price)
    return line.amount


def applies(deal: Promotion, member: bool) -> bool:
    return member or not deal.members_only


def units(
    lines: list[BasketLine], member: bool
) -> list[tuple[tuple[object, ...], BasketLine, int, bool]]:
    """Every unit: (its group, its line, its amount, counted), one by one."""
    result = []
    for line in lines:
        amount = unit_price_amount(line, member)
        each = amount // (line.qty // MILLI) if line.qty % MILLI == 0 and line.qty else 0
        if (
            line.unit is Unit.EACH
            and line.qty % MILLI == 0
            and each * (line.qty // MILLI) == amount
        ):
            key = (line.sku, line.department or "", 0, each, 0)
            result += [(key, line, each, True)] * (line.qty // MILLI)
        else:
            key = (line.sku, line.department or "", 1, amount, line.qty)
            result.append((key, line, amount, False))
    return result


def qualifies(deal: Promotion, line: BasketLine) -> bool:
    return line.sku in deal.items or (
        line.department is not None and line.department in deal.departments
    )


def largest_remainder(
    total: int, weights: dict[tuple[object, ...], int]
) -> dict[tuple[object, ...], int]:
    base = sum(weights.values())
    if not total or not base:
        return {key: 0 for key in weights}
    shares = {key: w * total // base for key, w in weights.items()}
    order = sorted(weights, key=lambda key: (-(weights[key] * total % base), key))
    for key in order[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


def percent_of(amount: int, percent: Decimal) -> int:
    num, den = percent.as_integer_ratio()
    return min(amount, round_half_up(amount * num, den * 100))


def alone_saving(
    lines: list[BasketLine], deal: Promotion, member: bool
) -> tuple[int, dict[tuple[object, ...], int]]:
    """What ``deal`` alone takes off, in total and by group of identical units."""
    if not applies(deal, member):
        return 0, {}
    kind = deal.type
    mine = [u for u in units(lines, member) if qualifies(deal, u[1])]
    if kind in (PromoType.AMOUNT_OFF, PromoType.MULTI_BUY, PromoType.BUY_GET):
        mine = [u for u in mine if u[3]]
    by_group: dict[tuple[object, ...], int] = defaultdict(int)
    if kind is PromoType.AMOUNT_OFF or kind is PromoType.FIXED_PRICE:
        for key, line, amount, counted in mine:
            if kind is PromoType.AMOUNT_OFF:
                off = min(deal.amount or 0, amount)
            elif counted:
                off = max(0, amount - (deal.price or 0))
            else:
                off = max(0, amount - amount_of(line.qty, deal.price or 0))
            by_group[key] += off
        return sum(by_group.values()), dict(by_group)
    covered: list[tuple[tuple[object, ...], int]] = []
    if kind is PromoType.PERCENT_OFF:
        covered = [(u[0], u[2]) for u in mine]
        saving = percent_of(sum(a for _, a in covered), deal.percent or Decimal(0))
    else:
        dearest = sorted(((u[0], u[2]) for u in mine), key=lambda u: (-u[1], u[0]))
        size = deal.qty if kind is PromoType.MULTI_BUY else (deal.buy or 0) + (deal.get or 0)
        assert size
        cheapest = saving = 0
        for start in range(0, len(dearest) - size + 1, size):
            group = dearest[start : start + size]
            if kind is PromoType.MULTI_BUY:
                worth = sum(a for _, a in group) - (deal.price or 0)
            else:
                worth = sum(a for _, a in group[size - (deal.get or 0) :])
            if worth <= 0:
                break
            covered += group
            if kind is PromoType.MULTI_BUY:
                saving += worth
            else:
                cheapest += worth
        if kind is PromoType.BUY_GET:
            saving = percent_of(cheapest, deal.percent or Decimal(0))
    weights: dict[tuple[object, ...], int] = defaultdict(int)
    for key, amount in covered:
        weights[key] += amount
    return saving, largest_remainder(saving, dict(weights))


def reference_total(
    lines: list[BasketLine], deals: list[Promotion], alone: Promotion | None, member: bool
) -> int:
    """The final total with only ``alone`` of the item-level promotions (or none), then
    every threshold in id order."""
    live = [line for line in lines if line.qty > 0]
    nets: dict[tuple[object, ...], int] = defaultdict(int)
    for key, _, amount, _ in units(live, member):
        nets[key] += amount
    if alone is not None:
        _, by_group = alone_saving(live, alone, member)
        for key, off in by_group.items():
            nets[key] -= off
    left = dict(nets)
    taken = 0
    for deal in sorted(deals, key=lambda d: d.id):
        if deal.type is not PromoType.THRESHOLD or not applies(deal, member):
            continue
        keys = sorted({u[0] for u in units(live, member) if qualifies(deal, u[1])})
        base = sum(nets[key] for key in keys)
        assert deal.min and deal.off
        if base < deal.min:
            continue
        off = min(base, deal.off * (base // deal.min if deal.repeat else 1))
        off = min(off, sum(left[key] for key in keys))
        for key, share in largest_remainder(off, {key: left[key] for key in keys}).items():
            left[key] -= share
        taken += off
    return sum(nets.values()) - taken


# --- a book remembers the parts it priced ----------------------------------------------


@PROPS
@given(st.lists(baskets(), min_size=1, max_size=6), promotions(), st.booleans())
def test_a_book_prices_as_a_fresh_list_whatever_it_priced_before(
    sequence: list[list[BasketLine]], deals: list[Promotion], member: bool
) -> None:
    """One book prices basket after basket (and each basket grown line by line, as a
    cashier scans it): its remembered parts never change an answer."""
    book = PromotionBook(deals)
    for lines in sequence:
        for end in range(1, len(lines) + 1):
            grown = lines[:end]
            assert price_basket(grown, member=member, now=NOW, promotions=book) == price(
                grown, deals, member
            )
