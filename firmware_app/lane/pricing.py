"""The pricing engine: member prices and promotions over a basket.

One pure function, ``price_basket``: what is in the basket, whether a member is on the
sale, the time, the promotions -> each line's member saving and the promotions it got.
No I/O, no clock, and no dependence on the order of the lines (spec/mqtt-contract.md,
"Promotions").

The steps, each in its own module:

1. ``pricing_basket``: member prices; the lines' units grouped into classes (one sku at
   one price); the promotions that apply now (window, hours, members_only) and the
   classes each may take.
2. ``pricing_search``: for each independent part of the basket, the assignment of
   units to item-level promotions with the lowest final total, thresholds included
   (exact for small parts; the bound, the strategy above it and the tie rule are
   written there).
3. ``pricing_spread``: each promotion's saving spread over classes, then lines, by
   largest remainder, so every line's discount is exact and never exceeds its amount.

Lines with ``qty`` ≤ 0 (returns) take no part: they get an empty ``LinePrice``.

``promotions`` may be any sequence; a ``PromotionBook`` (built once when the catalog's
promotions load) saves each recompute setting them up again, and lets it touch only
those that name something in the basket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from firmware_app.lane.catalog import Unit
from firmware_app.lane.pricing_basket import (
    PromotionBook,
    build_classes,
    member_saving,
    offers_and_thresholds,
)
from firmware_app.lane.pricing_search import Component, Pricer, components
from firmware_app.lane.pricing_spread import to_lines
from firmware_app.lane.promotions import Promotion

__all__ = ["BasketLine", "LinePrice", "PromoShare", "PromotionBook", "price_basket"]


@dataclass(frozen=True)
class BasketLine:
    """A live sold line as the engine sees it.

    ``qty`` in thousandths (grams for ``kg``, 1000 a piece for ``each``); ``price`` the
    catalog's unit price (per piece or per kg); ``member_price`` likewise (None: none);
    ``amount`` the line's amount at ``price`` (``money.amount_of(qty, price)``).
    ``no`` is the line's number, used only to break ties (lower first) and to key the
    answer.
    """

    no: int
    sku: str
    department: str | None
    unit: Unit
    qty: int
    price: int
    member_price: int | None
    amount: int


@dataclass(frozen=True)
class PromoShare:
    """What one promotion took off one line (minor units, > 0)."""

    id: str
    name: str
    discount: int


@dataclass(frozen=True)
class LinePrice:
    """One line's price: ``member_saving`` (catalog amount − member amount, ≥ 0) and the
    promotions' shares, by promotion id. The line's promotional discount is
    ``member_saving + sum(share.discount for share in promotions)``, never more than
    ``amount``."""

    member_saving: int = 0
    promotions: tuple[PromoShare, ...] = ()

    @property
    def discount(self) -> int:
        return self.member_saving + sum(share.discount for share in self.promotions)


def price_basket(
    lines: Sequence[BasketLine],
    *,
    member: bool,
    now: datetime,
    promotions: Sequence[Promotion],
) -> dict[int, LinePrice]:
    """Each line's price (keyed by ``BasketLine.no``). ``now`` is aware and in the lane's
    time zone (``hours`` are compared with its local time of day)."""
    if not promotions:  # member prices only
        return {
            line.no: LinePrice(member_saving(line, member)) if line.qty > 0 else LinePrice()
            for line in lines
        }
    classes = build_classes(lines, member)
    offers, thresholds = offers_and_thresholds(classes, promotions, member=member, now=now)
    pricer = Pricer(classes, offers, thresholds)
    memo = promotions.chosen if isinstance(promotions, PromotionBook) else None
    shares: dict[int, tuple[tuple[str, str, int], ...]] = {}
    for part in components(classes, offers, thresholds):
        shares.update(
            _part_lines(pricer, part) if memo is None else _remembered(pricer, part, memo)
        )
    got = {no: tuple(PromoShare(*share) for share in sorted(s)) for no, s in shares.items()}
    return {
        line.no: LinePrice(member_saving(line, member), got.get(line.no, ()))
        if line.qty > 0
        else LinePrice()
        for line in lines
    }


MEMO_PARTS = 4096  # parts remembered per book; then it starts again

LineShares = dict[int, tuple[tuple[str, str, int], ...]]  # line -> (id, name, saving)


def _remembered(pricer: Pricer, part: Component, memo: dict[object, LineShares]) -> LineShares:
    """``_part_lines(pricer, part)``, from ``memo`` when a part holding the same was
    priced before. What a part holds: each class (its key, units and lines, with their
    numbers and amounts) and each promotion (the object itself: a book keeps its
    promotions, so its identity stands for its content) with the classes it may take,
    by their places in the part. Nothing else goes into a part's search and spread."""
    classes, offers, thresholds = pricer.classes, pricer.offers, pricer.thresholds
    place = {c: i for i, c in enumerate(part.classes)}
    key = (
        tuple((classes[c].key, classes[c].count, classes[c].lines) for c in part.classes),
        tuple(
            (id(offers[k].promo), tuple(place[c] for c in offers[k].classes)) for k in part.offers
        ),
        tuple(
            (id(thresholds[t].promo), tuple(place[c] for c in thresholds[t].classes))
            for t in part.thresholds
        ),
    )
    kept = memo.get(key)
    if kept is None:
        kept = _part_lines(pricer, part)
        if len(memo) >= MEMO_PARTS:
            memo.clear()
        memo[key] = kept
    return kept


def _part_lines(pricer: Pricer, part: Component) -> LineShares:
    """The part's lowest-total assignment, its savings spread class by class, then
    line by line: each line's (promotion id, name, share). Parts share no class, so
    each is spread on its own."""
    chosen = pricer.choose(part)
    classes, offers, thresholds = pricer.classes, pricer.offers, pricer.thresholds
    per_class: dict[int, list[tuple[int, int]]] = {}  # class -> [(promotion rank, share)]
    nets = {c: classes[c].amount for c in part.classes}
    for k in sorted(chosen):
        covered = chosen[k]
        saving = pricer.saving(k, covered) if covered else 0
        if saving:
            for c, share in pricer.class_shares(k, covered, saving).items():
                per_class.setdefault(c, []).append((k, share))
                nets[c] -= share
    spread_out = pricer.threshold_shares(part.thresholds, nets)
    for t, shares in zip(part.thresholds, spread_out, strict=True):
        for c, share in shares.items():
            per_class.setdefault(c, []).append((len(offers) + t, share))
    result: dict[int, list[tuple[str, str, int]]] = {}
    for c in sorted(per_class):
        for no, got in to_lines(classes[c].lines, per_class[c]).items():
            listed = result.setdefault(no, [])
            for rank, amount in got:
                promo = (
                    offers[rank].promo
                    if rank < len(offers)
                    else thresholds[rank - len(offers)].promo
                )
                listed.append((promo.id, promo.name, amount))
    return {no: tuple(got) for no, got in result.items()}
