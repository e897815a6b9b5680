"""Which promotion each unit takes: the assignment that leaves the lowest final total.

The basket splits into independent parts (components): classes joined by a promotion
that may take units of both, or a threshold both qualify for. Each part is solved
alone; the parts' totals simply add up.

Exact search, when a part is small: every way of sharing each class's units among the
promotions that may take them (and none) is tried, when there are at most
``EXACT_LIMIT`` (250) such ways in the part: the product over its classes of
C(units + promotions, promotions), e.g. two classes of 2 units each open to 3
promotions (10 × 10), three single units open to 3 (4 × 4 × 4), or one class of 12
units open to 2 (91). A way costs some 10 µs to price on a desktop core, so the
bound keeps the search within a few ms. A way where a multi_buy or buy_get holds
other than whole groups is skipped (a branch ends as soon as one does). The total of each way
counts the thresholds too, so an item-level promotion that would take a threshold away
is not chosen when that costs more than it saves.

Above the bound, three kinds of candidates are compared, and the lowest total taken
(a candidate is not worked out when even its lowest possible total, with every
threshold at its largest, is above the best so far: it could not win or tie):

- no promotion at all;
- a greedy assignment: the promotions offer blocks (percent_off, amount_off,
  fixed_price: all the units left of the class where a unit saves most; multi_buy and
  buy_get: one group of the dearest units left, repeated while the same group can be
  formed again), and the block saving most per unit is taken first, ties to the lower
  promotion id; a block is re-offered when what is left has changed (a promotion's best
  block only gets worse as units go);
- each promotion alone, on every unit it may take (for multi_buy and buy_get, as many
  groups of the dearest units as save something).

So the result is never worse than no promotion or any one promotion alone, and, being
built from classes and promotion ids only, never depends on line order.

Ties. Two assignments with the same total are told apart by the units each promotion
takes, read promotion by promotion in id order (ids compared as strings, code point by
code point: ``"P10"`` < ``"P7"``), and within a promotion class by class (by sku, then
department, then price): the first difference decides, and the assignment giving more
units to the lower promotion (then to the lower class) wins.

Savings. percent_off: round-half-up of the covered amount × percent, on all the units
the promotion takes together (a weighed line is one unit at its amount); amount_off
and fixed_price: per unit, never below zero, never a rise; multi_buy: the covered
amount − groups × price; buy_get: round-half-up of percent × the amount of the
cheapest ``get`` of each ``buy`` + ``get`` units (the units are grouped dearest first,
the best the customer can do). Thresholds, in id order: the
qualifying lines' total after item-level promotions reaches ``min`` → ``off`` (once per
full ``min`` with ``repeat``), never more than is left of those lines after the
thresholds before it.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain

from firmware_app.lane.money import round_half_up
from firmware_app.lane.pricing_basket import Klass, Offer, Threshold
from firmware_app.lane.pricing_spread import spread
from firmware_app.lane.promotions import PromoType

EXACT_LIMIT = 250  # ways to share a part's units, at most, for the exact search

Assignment = dict[int, dict[int, int]]  # offer index -> class index -> units it takes
Block = tuple[float, dict[int, int]]  # saving per unit, units per class


@dataclass
class Component:
    """One independent part of the basket: class, offer and threshold indices, each
    ascending (offers and thresholds are already in promotion-id order)."""

    classes: list[int] = field(default_factory=list)
    offers: list[int] = field(default_factory=list)
    thresholds: list[int] = field(default_factory=list)


def components(
    classes: Sequence[Klass], offers: Sequence[Offer], thresholds: Sequence[Threshold]
) -> list[Component]:
    """The parts with at least one promotion, by their lowest class."""
    parent = list(range(len(classes)))

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    groups = [o.classes for o in offers] + [t.classes for t in thresholds]
    merges_left = len(set().union(*groups)) - 1  # when none is left, it is all one part
    for members in groups:
        if merges_left <= 0:
            break
        first = root(members[0])
        for c in members[1:]:
            other = root(c)
            if other != first:
                parent[max(first, other)] = min(first, other)
                first = min(first, other)
                merges_left -= 1
    label = [root(c) for c in range(len(classes))]
    parts: dict[int, Component] = {}
    for k, offer in enumerate(offers):
        parts.setdefault(label[offer.classes[0]], Component()).offers.append(k)
    for t, threshold in enumerate(thresholds):
        parts.setdefault(label[threshold.classes[0]], Component()).thresholds.append(t)
    for c, r in enumerate(label):
        if r in parts:
            parts[r].classes.append(c)
    return [parts[r] for r in sorted(parts)]


class Pricer:
    """Savings and totals of assignments over one basket's classes and promotions."""

    def __init__(
        self, classes: Sequence[Klass], offers: Sequence[Offer], thresholds: Sequence[Threshold]
    ) -> None:
        self.classes = classes
        self.offers = offers
        self.thresholds = thresholds
        self.amounts = [klass.amount for klass in classes]
        self._earlier: list[list[int]] | None = None
        self.threshold_sets = [frozenset(threshold.classes) for threshold in thresholds]
        # class -> how many offers may take it
        self.takers = Counter(chain.from_iterable(offer.classes for offer in offers))

    # --- savings ------------------------------------------------------------------

    def saving(self, k: int, covered: dict[int, int]) -> int:
        """What offer ``k`` takes off the units ``covered`` (minor units, ≥ 0); a
        multi_buy or buy_get must hold whole groups."""
        offer, classes = self.offers[k], self.classes
        kind = offer.promo.type
        if kind is PromoType.AMOUNT_OFF or kind is PromoType.FIXED_PRICE:
            per = offer.unit_saving
            return sum(n * per[c] for c, n in covered.items())
        amount = sum(n * classes[c].unit for c, n in covered.items())
        num, den = offer.ratio
        if kind is PromoType.PERCENT_OFF:
            return min(amount, round_half_up(amount * num, den))
        if kind is PromoType.MULTI_BUY:
            assert offer.promo.price is not None
            groups = sum(covered.values()) // offer.size
            return max(0, amount - groups * offer.promo.price)
        cheapest = self._cheapest(offer, covered)
        return min(cheapest, round_half_up(cheapest * num, den))

    def _cheapest(self, offer: Offer, covered: dict[int, int]) -> int:
        """buy_get: the amount of the cheapest ``get`` of every ``buy`` + ``get`` units,
        the units grouped dearest first."""
        assert offer.promo.buy is not None
        size, buy, classes = offer.size, offer.promo.buy, self.classes

        def discounted(n: int) -> int:  # how many of the first n units (dearest first)
            return (n // size) * (size - buy) + max(0, n % size - buy)

        total = position = 0
        for c in sorted(covered, key=lambda c: (-classes[c].unit, c)):
            n = covered[c]
            total += (discounted(position + n) - discounted(position)) * classes[c].unit
            position += n
        return total

    def class_shares(self, k: int, covered: dict[int, int], saving: int) -> dict[int, int]:
        """Offer ``k``'s ``saving`` by class: per unit for amount_off and fixed_price,
        otherwise spread in proportion to the amounts covered."""
        offer = self.offers[k]
        if offer.promo.type in (PromoType.AMOUNT_OFF, PromoType.FIXED_PRICE):
            return {c: n * offer.unit_saving[c] for c, n in covered.items()}
        unit = self.classes
        return spread(saving, [(c, n * unit[c].unit) for c, n in sorted(covered.items())])

    def threshold_shares(self, ts: Sequence[int], nets: dict[int, int]) -> list[dict[int, int]]:
        """Each threshold's saving by class, in id order, each at most what is left of
        its classes after the ones before it. ``nets``: class -> amount after item-level
        promotions."""
        left = dict(nets)
        result = []
        for t in ts:
            threshold = self.thresholds[t]
            off = threshold.off_for(sum([nets[c] for c in threshold.classes]))
            weights = [(c, left[c]) for c in threshold.classes]
            shares = spread(min(off, sum([w for _, w in weights])), weights)
            for c, share in shares.items():
                left[c] -= share
            result.append(shares)
        return result

    def threshold_total(
        self, part: Component, assignment: Assignment, savings: dict[int, int]
    ) -> int:
        """All the part's thresholds' savings together, after the item-level ``savings``
        (offer -> minor units) of ``assignment``. When no threshold can meet its cap (what
        the earlier ones sharing a class with it could have left), the sum of their offs;
        otherwise everything is spread exactly."""
        offs: dict[int, int] = {}
        for t, base in zip(part.thresholds, self._bases(part, assignment, savings), strict=True):
            off = self.thresholds[t].off_for(base)
            if off and off + sum([offs[e] for e in self.earlier(t)]) > base:
                return self._threshold_spread(part, assignment, savings)
            offs[t] = off
        return sum(offs.values())

    def _bases(self, part: Component, assignment: Assignment, savings: dict[int, int]) -> list[int]:
        """Each threshold's qualifying total after the item-level savings. With one or two
        thresholds (small baskets, searched exactly), a promotion wholly inside a
        threshold's classes takes its whole saving off, one wholly outside nothing, and
        only one across the edge is spread; with more, every saving is spread once."""
        amounts = self.amounts
        if len(part.thresholds) > 2:
            nets = {c: amounts[c] for c in part.classes}
            for k, saving in savings.items():
                for c, share in self.class_shares(k, assignment[k], saving).items():
                    nets[c] -= share
            return [sum([nets[c] for c in self.thresholds[t].classes]) for t in part.thresholds]
        bases = []
        for t in part.thresholds:
            inside = self.threshold_sets[t]
            base = sum([amounts[c] for c in self.thresholds[t].classes])
            for k, saving in savings.items():
                covered = assignment[k]
                within = sum([1 for c in covered if c in inside])
                if within == len(covered):
                    base -= saving
                elif within:
                    shares = self.class_shares(k, covered, saving)
                    base -= sum([v for c, v in shares.items() if c in inside])
            bases.append(base)
        return bases

    def _threshold_spread(
        self, part: Component, assignment: Assignment, savings: dict[int, int]
    ) -> int:
        nets = {c: self.amounts[c] for c in part.classes}
        for k, saving in savings.items():
            for c, share in self.class_shares(k, assignment[k], saving).items():
                nets[c] -= share
        return sum(sum(s.values()) for s in self.threshold_shares(part.thresholds, nets))

    def earlier(self, t: int) -> list[int]:
        """The thresholds before ``t`` (by id) that share a class with it."""
        if self._earlier is None:
            sets = self.threshold_sets
            self._earlier = [
                [e for e in range(u) if not sets[e].isdisjoint(sets[u])] for u in range(len(sets))
            ]
        return self._earlier[t]

    def total(self, part: Component, assignment: Assignment) -> int:
        """The part's final total under ``assignment`` (minor units)."""
        saved = 0
        savings: dict[int, int] = {}
        for k, covered in assignment.items():
            if covered:
                saving = self.saving(k, covered)
                if saving:
                    saved += saving
                    savings[k] = saving
        gross = sum([self.amounts[c] for c in part.classes])
        if not part.thresholds:
            return gross - saved
        return gross - saved - self.threshold_total(part, assignment, savings)

    def tie_key(self, part: Component, assignment: Assignment) -> tuple[int, ...]:
        """Units per (promotion in id order, class in key order): larger wins a tie."""
        offers = self.offers
        return tuple(
            assignment.get(k, {}).get(c, 0) for k in part.offers for c in offers[k].classes
        )

    # --- choosing -----------------------------------------------------------------

    def choose(self, part: Component) -> Assignment:
        """The assignment with the lowest total for the part (ties as the module says)."""
        if self.ways(part) <= EXACT_LIMIT:
            return self.exact(part)
        return self.heuristic(part)

    def ways(self, part: Component) -> int:
        """How many ways the exact search would try (stops counting past the limit)."""
        count = 1
        for c in part.classes:
            takers = self.takers[c]
            count *= math.comb(self.classes[c].count + takers, takers)
            if count > EXACT_LIMIT:
                break
        return count

    def exact(self, part: Component) -> Assignment:
        """Every way, class by class; a multi_buy or buy_get left holding other than
        whole groups once its last class is shared out ends that branch."""
        offers, classes = self.offers, part.classes
        takers: dict[int, list[int]] = {c: [] for c in classes}
        for k in part.offers:
            for c in offers[k].classes:
                takers[c].append(k)
        ways = [  # per class: every way to share its units, as (offer, units > 0) pairs
            [
                tuple((k, n) for k, n in zip(takers[c], units, strict=True) if n)
                for units in _shares_of(self.classes[c].count, len(takers[c]))
            ]
            for c in classes
        ]
        settled: list[list[int]] = [[] for _ in classes]  # groups whose last class is i
        for k in part.offers:
            if offers[k].size > 1:
                settled[max(classes.index(c) for c in offers[k].classes)].append(k)
        units = dict.fromkeys(part.offers, 0)
        assignment: Assignment = {}
        best = _Best(self, part)

        def walk(i: int) -> None:
            if i == len(classes):
                best.offer(assignment, keep=True)
                return
            c = classes[i]
            for way in ways[i]:
                for k, n in way:
                    assignment.setdefault(k, {})[c] = n
                    units[k] += n
                if all(units[k] % offers[k].size == 0 for k in settled[i]):
                    walk(i + 1)
                for k, n in way:
                    units[k] -= n
                    del assignment[k][c]
                    if not assignment[k]:
                        del assignment[k]

        walk(0)
        return best.assignment

    def heuristic(self, part: Component) -> Assignment:
        best = _Best(self, part)
        best.offer(self.greedy(part))
        amounts = self.amounts
        gross = sum([amounts[c] for c in part.classes])
        most_off = sum(  # every threshold at its largest: nets only fall
            self.thresholds[t].off_for(sum([amounts[c] for c in self.thresholds[t].classes]))
            for t in part.thresholds
        )
        # a candidate whose total cannot come below the best so far is not worked out
        if gross - most_off <= best.total:
            best.offer({})
        for k in part.offers:
            # no promotion takes more than the amount it covers: most can be ruled out
            # before working out what they would take
            if gross - self.offers[k].reach - most_off > best.total:
                continue
            alone = self.alone(k)
            if gross - self.saving(k, alone) - most_off > best.total:
                continue
            best.offer({k: alone})
        return best.assignment

    def alone(self, k: int) -> dict[int, int]:
        """Offer ``k`` on everything it may take."""
        avail = {c: self.classes[c].count for c in self.offers[k].classes}
        if self.offers[k].linear:
            return avail
        covered: dict[int, int] = {}
        while (block := self.block(k, avail)) is not None:
            _take(block[1], avail, covered)
        return covered

    def greedy(self, part: Component) -> Assignment:
        avail = {c: self.classes[c].count for c in part.classes}
        assignment: Assignment = {}
        heap: list[tuple[float, int, int]] = []
        for rank, k in enumerate(part.offers):
            block = self.block(k, avail)
            if block is not None:
                heap.append((-block[0], rank, k))
        heapq.heapify(heap)
        while heap:
            value, rank, k = heapq.heappop(heap)
            block = self.block(k, avail)
            if block is None:
                continue
            if block[0] != -value:  # what is left changed: offer it again at its worth
                heapq.heappush(heap, (-block[0], rank, k))
                continue
            _take(block[1], avail, assignment.setdefault(k, {}))
            block = self.block(k, avail)
            if block is not None:
                heapq.heappush(heap, (-block[0], rank, k))
        return assignment

    def block(self, k: int, avail: dict[int, int]) -> Block | None:
        """Offer ``k``'s best next block from the units ``avail``, or None."""
        offer = self.offers[k]
        if offer.linear:
            for worth, c in offer.by_worth:
                if avail[c] > 0:
                    return -worth, {c: avail[c]}
            return None
        need = offer.size
        picked: list[tuple[int, int, int]] = []  # (class, unit amount, units), dearest first
        for c, unit in offer.dearest:
            have = avail[c]
            if have > 0:
                n = have if have < need else need
                picked.append((c, unit, n))
                need -= n
                if need == 0:
                    break
        if need:
            return None
        promo = offer.promo
        if promo.type is PromoType.MULTI_BUY:
            assert promo.price is not None
            worth = (sum([u * n for _, u, n in picked]) - promo.price) / offer.size
        else:
            assert promo.get is not None
            num, den = offer.ratio
            worth = _last_units(picked, promo.get) * num / den / offer.size
        if worth <= 0:
            return None
        times = min([avail[c] // n for c, _, n in picked])
        return worth, {c: n * times for c, _, n in picked}


def _last_units(picked: list[tuple[int, int, int]], count: int) -> int:
    """The amount of the last ``count`` units of ``picked`` (dearest first)."""
    total = 0
    for _, unit, n in reversed(picked):
        n = min(n, count)
        total += unit * n
        count -= n
        if count == 0:
            break
    return total


def _take(block: dict[int, int], avail: dict[int, int], covered: dict[int, int]) -> None:
    for c, n in block.items():
        avail[c] -= n
        covered[c] = covered.get(c, 0) + n


class _Best:
    """The best assignment offered so far (the tie key is worked out only for a tie)."""

    def __init__(self, pricer: Pricer, part: Component) -> None:
        self.pricer, self.part = pricer, part
        self.total = -1  # none yet (a total is never below zero)
        self.assignment: Assignment = {}

    def offer(self, assignment: Assignment, *, keep: bool = False) -> None:
        """Consider ``assignment`` (``keep``: copy it if it is the best, as the caller
        goes on changing it)."""
        total = self.pricer.total(self.part, assignment)
        if self.total < 0 or total < self.total:
            self.total = total
        elif total != self.total or self.pricer.tie_key(
            self.part, assignment
        ) <= self.pricer.tie_key(self.part, self.assignment):
            return
        self.assignment = assignment
        if keep:  # the caller goes on changing it
            self.assignment = {k: dict(got) for k, got in assignment.items()}


def _shares_of(units: int, takers: int) -> Iterator[tuple[int, ...]]:
    """Every way to give up to ``units`` to ``takers`` (the rest to none)."""
    if takers == 0:
        yield ()
        return
    for first in range(units + 1):
        for rest in _shares_of(units - first, takers - 1):
            yield (first, *rest)
