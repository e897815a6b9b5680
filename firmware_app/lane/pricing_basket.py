"""The pricing engine's view of a basket: its units grouped into classes, and the
promotions that apply now, each with the classes it may take.

A class is a set of identical units: one sku at one unit price (after the member
price). A counted line (``each``, a whole number of pieces, its amount exactly pieces ×
price) gives ``qty / 1000`` units at that price; any other line (``kg``, or a piece
line whose amount is not pieces × price) is one indivisible unit at its amount, and
such lines share a class only with lines of the same sku, price and quantity. Lines of
the same class are interchangeable, so the engine decides how many units of a class
each promotion takes, never which line they come from: a basket of 100 pieces is as
quick to price as one of a single piece, and the result cannot depend on line order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from itertools import compress
from typing import TYPE_CHECKING

from firmware_app.lane.catalog import Unit
from firmware_app.lane.money import MILLI, amount_of
from firmware_app.lane.promotions import Promotion, PromoType

if TYPE_CHECKING:
    from firmware_app.lane.pricing import BasketLine

ClassKey = tuple[str, str, int, int, int]  # sku, department, whole-line flag, unit amount, qty

LINEAR = frozenset({PromoType.PERCENT_OFF, PromoType.AMOUNT_OFF, PromoType.FIXED_PRICE})


# Klass, Offer and Threshold are built afresh on every recompute and never leave the
# engine: plain slotted classes, since a frozen dataclass is several times slower to build.


@dataclass(slots=True)
class Klass:
    """``count`` identical units of ``unit`` minor units each (the amount before
    promotions, after the member price). ``lines``: (line number, the line's amount
    before promotions), by line number; their amounts sum to ``unit × count``."""

    key: ClassKey
    sku: str
    department: str | None
    counted: bool
    qty: int  # thousandths, of each line (whole-line classes only; 0 for counted)
    unit: int
    count: int
    lines: tuple[tuple[int, int], ...]

    @property
    def amount(self) -> int:
        return self.unit * self.count


@dataclass(slots=True)
class Offer:
    """An item-level promotion that applies now, and the classes it may take (indices
    into the basket's classes, ascending). ``unit_saving`` (amount_off and fixed_price
    only): what it takes off one unit of each of those classes (> 0; a class it would
    not make cheaper is not offered to it). ``ratio``: percent as a fraction of 1,
    (numerator, denominator). ``size``: units per group (multi_buy, buy_get; 1
    otherwise). For the search: ``linear`` (percent_off, amount_off, fixed_price),
    ``by_worth`` (linear: (−saving per unit, class), best first), ``dearest`` (multi_buy,
    buy_get: (class, unit amount), dearest first) and ``reach`` (the amount of every
    unit it may take: no promotion takes more)."""

    promo: Promotion
    classes: tuple[int, ...]
    unit_saving: dict[int, int]
    ratio: tuple[int, int]
    size: int
    linear: bool
    by_worth: list[tuple[float, int]]
    dearest: list[tuple[int, int]]
    reach: int


@dataclass(slots=True)
class Threshold:
    """A threshold promotion that applies now and the classes whose lines qualify."""

    promo: Promotion
    classes: tuple[int, ...]
    min: int
    off: int
    repeat: bool

    def off_for(self, base: int) -> int:
        """What comes off a qualifying net of ``base`` (minor units), at most ``base``."""
        if base < self.min:
            return 0
        times = base // self.min if self.repeat else 1
        return min(base, self.off * times)


def base_price(line: BasketLine, member: bool) -> int:
    """A unit's price before promotions: the catalog price, or the member price when a
    member is on the sale and it is lower (minor units, per piece or per kg)."""
    if member and line.member_price is not None and line.member_price < line.price:
        return line.member_price
    return line.price


def member_saving(line: BasketLine, member: bool) -> int:
    """``amount`` − the amount at the member price, when that applies (≥ 0)."""
    price = base_price(line, member)
    if price == line.price:
        return 0
    return max(0, line.amount - amount_of(line.qty, price))


def build_classes(lines: Sequence[BasketLine], member: bool) -> list[Klass]:
    """The basket's classes, sorted by key (lines with qty ≤ 0 are left out)."""
    grouped: dict[ClassKey, list[tuple[int, int]]] = {}
    info: dict[ClassKey, tuple[str, str | None, bool, int]] = {}
    pieces_of: dict[ClassKey, int] = {}
    for line in lines:
        if line.qty <= 0:
            continue
        price = base_price(line, member)
        amount = line.amount - member_saving(line, member)
        pieces, part = divmod(line.qty, MILLI)
        counted = line.unit is Unit.EACH and part == 0 and amount == pieces * price
        unit = price if counted else amount
        qty = 0 if counted else line.qty
        key: ClassKey = (line.sku, line.department or "", 0 if counted else 1, unit, qty)
        grouped.setdefault(key, []).append((line.no, amount))
        pieces_of[key] = pieces_of.get(key, 0) + (pieces if counted else 1)
        info.setdefault(key, (line.sku, line.department, counted, qty))
    classes = []
    for key in sorted(grouped):
        sku, department, counted, qty = info[key]
        members = tuple(sorted(grouped[key]))
        classes.append(Klass(key, sku, department, counted, qty, key[3], pieces_of[key], members))
    return classes


def applies_now(promo: Promotion, *, member: bool, now: datetime) -> bool:
    """Inside its window (``starts`` inclusive, ``ends`` exclusive, ``hours`` local time
    of day, start inclusive, end exclusive, an end before the start running over
    midnight, an end equal to the start never), and a member is on the sale if it is
    ``members_only``."""
    if promo.members_only and not member:
        return False
    if promo.starts is not None and now < promo.starts:
        return False
    if promo.ends is not None and now >= promo.ends:
        return False
    if promo.hours is not None:
        return _in_hours(_of_day(now), promo.hours)
    return True


TimeOfDay = tuple[int, int, int, int]  # hour, minute, second, microsecond


def _of_day(at: datetime | time) -> TimeOfDay:
    """The local time of day (of ``now`` in its own zone; an ``hours`` bound as given)."""
    return (at.hour, at.minute, at.second, at.microsecond)


def _in_hours(at: TimeOfDay, hours: tuple[time, time]) -> bool:
    start, end = _of_day(hours[0]), _of_day(hours[1])
    if start <= end:
        return start <= at < end
    return at >= start or at < end


@functools.lru_cache(maxsize=256)
def ratio_of(percent: Decimal | None) -> tuple[int, int]:
    """``percent`` as a fraction of 1: Decimal("12.5") -> (125, 1000)."""
    if percent is None:
        return (0, 1)
    num, den = percent.as_integer_ratio()
    return (num, den * 100)


def _valid(promo: Promotion) -> bool:
    """The fields its type needs are there and sensible (the catalog checks them; a
    promotion without them applies to nothing rather than breaking the sale)."""
    kind = promo.type
    if kind is PromoType.PERCENT_OFF:
        return promo.percent is not None and 0 < promo.percent <= 100
    if kind is PromoType.AMOUNT_OFF:
        return promo.amount is not None and promo.amount > 0
    if kind is PromoType.FIXED_PRICE:
        return promo.price is not None and promo.price >= 0
    if kind is PromoType.MULTI_BUY:
        return promo.qty is not None and promo.qty > 0 and promo.price is not None
    if kind is PromoType.BUY_GET:
        return (
            promo.buy is not None
            and promo.get is not None
            and promo.buy >= 0
            and promo.get > 0
            and promo.percent is not None
            and 0 < promo.percent <= 100
        )
    return promo.min is not None and promo.min > 0 and promo.off is not None and promo.off > 0


class PromotionBook(tuple[Promotion, ...]):
    """The catalog's promotions set up once for every recompute of every sale: in id
    order (ids as strings; two with one id keep the order given), each one's fields
    checked once, and indexed by the skus and departments it names, so a recompute
    touches only the promotions that name something in the basket. ``price_basket``
    takes any sequence of promotions and builds a book when it is given none."""

    valid: list[bool]
    by_sku: dict[str, list[int]]
    by_department: dict[str, list[int]]
    # The lines' shares of each part of the baskets priced with this book, by what each
    # part holds (``pricing.price_basket``): a scan changes one part of the basket, and
    # the others are not searched again. Bounded; lives as long as the book.
    chosen: dict[object, dict[int, tuple[tuple[str, str, int], ...]]]

    def __new__(cls, promotions: Iterable[Promotion]) -> PromotionBook:
        book = super().__new__(cls, sorted(promotions, key=lambda promo: promo.id))
        book.valid = [_valid(promo) for promo in book]
        book.chosen = {}
        book.by_sku = {}
        book.by_department = {}
        for i, promo in enumerate(book):
            for sku in promo.items:
                book.by_sku.setdefault(sku, []).append(i)
            for department in promo.departments:
                book.by_department.setdefault(department, []).append(i)
        return book

    def naming(self, classes: Sequence[Klass]) -> dict[int, list[int]]:
        """Promotion index -> the classes it names (by sku or department), ascending."""
        found: dict[int, list[int]] = {}
        by_sku, by_department = self.by_sku, self.by_department
        for c, klass in enumerate(classes):
            for i in by_sku.get(klass.sku, ()):
                found.setdefault(i, []).append(c)
            if klass.department is not None and klass.department in by_department:
                for i in by_department[klass.department]:
                    named = found.setdefault(i, [])
                    if not named or named[-1] != c:  # not already by its sku
                        named.append(c)
        return found


def offers_and_thresholds(
    classes: Sequence[Klass], promotions: Sequence[Promotion], *, member: bool, now: datetime
) -> tuple[list[Offer], list[Threshold]]:
    """The promotions that apply now to something in the basket, in promotion-id order
    (then in the order given, should two share an id)."""
    book = promotions if isinstance(promotions, PromotionBook) else PromotionBook(promotions)
    columns = Columns(classes)
    offers: list[Offer] = []
    thresholds: list[Threshold] = []
    found = book.naming(classes)
    for i in sorted(found):
        promo = book[i]
        if not book.valid[i] or not applies_now(promo, member=member, now=now):
            continue
        if promo.type is PromoType.THRESHOLD:
            assert promo.min is not None and promo.off is not None
            thresholds.append(Threshold(promo, tuple(found[i]), promo.min, promo.off, promo.repeat))
            continue
        offer = _offer(promo, columns, found[i])
        if offer is not None:
            offers.append(offer)
    return offers, thresholds


class Columns:
    """The classes' fields as lists by class index, for the promotions' set-up (read
    with ``map`` over a promotion's classes: far quicker than an attribute a class)."""

    __slots__ = ("amount", "count", "counted", "dearer", "qty", "unit")

    def __init__(self, classes: Sequence[Klass]) -> None:
        self.unit = [klass.unit for klass in classes]
        self.dearer = [-klass.unit for klass in classes]  # sort key: dearest first
        self.count = [klass.count for klass in classes]
        self.counted = [klass.counted for klass in classes]
        self.qty = [klass.qty for klass in classes]
        self.amount = [klass.unit * klass.count for klass in classes]


def _offer(promo: Promotion, columns: Columns, found: list[int]) -> Offer | None:
    """The promotion over the classes it may take, or None if they cannot make one
    whole group (and a unit it would not make cheaper is not offered to it)."""
    kind = promo.type
    unit_saving: dict[int, int] = {}
    ratio = ratio_of(promo.percent)
    units, counted = columns.unit, columns.counted
    if kind is PromoType.PERCENT_OFF:
        num, den = ratio
        taken = tuple(compress(found, map(units.__getitem__, found)))  # a unit of 0: nothing
        by_worth = [(-units[c] * num / den, c) for c in taken]
    elif kind is PromoType.AMOUNT_OFF:
        assert promo.amount is not None
        off = promo.amount
        for c in found:
            if counted[c] and units[c] > 0:
                unit_saving[c] = off if off < units[c] else units[c]
        taken = tuple(unit_saving)
        by_worth = [(-float(saving), c) for c, saving in unit_saving.items()]
    elif kind is PromoType.FIXED_PRICE:
        assert promo.price is not None
        price = promo.price
        for c in found:
            saving = units[c] - (price if counted[c] else amount_of(columns.qty[c], price))
            if saving > 0:  # never a rise
                unit_saving[c] = saving
        taken = tuple(unit_saving)
        by_worth = [(-float(saving), c) for c, saving in unit_saving.items()]
    else:
        return _group_offer(promo, columns, found, ratio)
    if not taken:
        return None
    by_worth.sort()
    reach = sum(map(columns.amount.__getitem__, taken))
    return Offer(promo, taken, unit_saving, ratio, 1, True, by_worth, [], reach)


def _group_offer(
    promo: Promotion, columns: Columns, found: list[int], ratio: tuple[int, int]
) -> Offer | None:
    """multi_buy, buy_get: counted units only, and enough of them for one group."""
    if promo.type is PromoType.MULTI_BUY:
        assert promo.qty is not None
        size = promo.qty
    else:
        assert promo.buy is not None and promo.get is not None
        size = promo.buy + promo.get
    taken = tuple(compress(found, map(columns.counted.__getitem__, found)))
    if sum(map(columns.count.__getitem__, taken)) < size:
        return None
    order = sorted(taken, key=columns.dearer.__getitem__)  # stable: ties to the lower class
    dearest = list(zip(order, map(columns.unit.__getitem__, order), strict=True))
    reach = sum(map(columns.amount.__getitem__, taken))
    return Offer(promo, taken, {}, ratio, size, False, [], dearest, reach)
