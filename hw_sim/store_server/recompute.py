"""The store server's check of a sale's prices: each line's member saving and promotions,
its discount, the taxes per rate, the totals and the member's points, recomputed from the
catalog the store server sent and the contract's pricing rules.

The rules are the contract's ("Additions for the full checkout": promotions, member
prices, loyalty); ``firmware_app.lane.pricing.price_basket`` is their reference
implementation and prices the basket here too. What this checks on top is everything the
lane composed around it: the lines it priced (its live sold lines, without a price
override), the catalog's department and member price for each, the manual discounts
added to the line's discount, the taxes per rate on the net amounts, the totals and the
points. A line priced by its label (its amount is not qty × catalog price) gets no
member price, as on the lane.

The time: the lane prices the basket until the first tender, so the sale's prices are
those of a moment between ``opened_at`` and ``closed_at``. The check prices the basket
at ``closed_at`` and, when that differs, at ``opened_at``; a sale matching neither is
reported (one crossing a promotion's window edge between scan and payment is the only
honest sale that can, and a test basket avoids it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.money import MILLI, amount_of, tax_included
from firmware_app.lane.points import points_for
from firmware_app.lane.pricing import BasketLine, LinePrice, price_basket
from firmware_app.lane.promotions import Loyalty, Promotion
from hw_sim.store_server.errors import StoreServerError


def _milli(qty: str) -> int:
    return int(Decimal(qty) * MILLI)


def _priced_lines(message: Mapping[str, Any], items: Mapping[str, Item]) -> list[BasketLine]:
    basket: list[BasketLine] = []
    for line in message["lines"]:
        qty = _milli(line["qty"])
        if line["voided"] or qty <= 0 or "override" in line:
            continue
        item = items.get(line["sku"])
        member_price = None
        department = None
        if item is not None:
            department = item.department
            if line["amount"] == amount_of(qty, item.price):
                member_price = item.member_price
        basket.append(
            BasketLine(
                no=line["line"],
                sku=line["sku"],
                department=department,
                unit=Unit(line["unit"]),
                qty=qty,
                price=line["unit_price"],
                member_price=member_price,
                amount=line["amount"],
            )
        )
    return basket


def _differences(message: Mapping[str, Any], prices: Mapping[int, LinePrice]) -> list[str]:
    problems: list[str] = []
    for line in message["lines"]:
        no = line["line"]
        if no not in prices:
            continue
        price = prices[no]
        manual = sum(d["amount"] for d in line.get("manual_discounts", ()))
        expected = price.discount + manual
        got_promotions = [(p["id"], p["discount"]) for p in line["promotions"]]
        want_promotions = [(p.id, p.discount) for p in price.promotions]
        if got_promotions != want_promotions:
            problems.append(f"line {no}: promotions {got_promotions}, expected {want_promotions}")
        if line["discount"] != expected:
            problems.append(f"line {no}: discount {line['discount']}, expected {expected}")
    return problems


def _tax_problems(message: Mapping[str, Any]) -> list[str]:
    gross: dict[Decimal, int] = defaultdict(int)
    for line in message["lines"]:
        if not line["voided"]:
            gross[Decimal(line["tax_rate"])] += line["amount"] - line["discount"]
    want = sorted(((rate, g, tax_included(g, rate)) for rate, g in gross.items()), reverse=True)
    got = sorted(
        ((Decimal(t["rate"]), t["gross"], t["tax"]) for t in message["taxes"]), reverse=True
    )
    problems = [] if got == want else [f"taxes {got}, expected {want}"]
    live = [ln for ln in message["lines"] if not ln["voided"]]
    totals = message["totals"]
    discount = sum(ln["discount"] for ln in live)
    gross_total = sum(ln["amount"] for ln in live)
    if totals["discount"] != discount or totals["gross"] != gross_total:
        problems.append(f"totals {totals}: gross {gross_total}, discount {discount} expected")
    if totals["total"] != gross_total - discount + totals["rounding"]:
        problems.append(f"totals {totals}: total is not gross - discount + rounding")
    return problems


def check_sale(
    message: Mapping[str, Any],
    items: Mapping[str, Item],
    promotions: Sequence[Promotion],
    loyalty: Loyalty | None = None,
) -> list[str]:
    """What in ``message`` (a ``lane.sale/1``) differs from the prices, taxes and totals
    recomputed from the catalog (``items`` by sku, ``promotions``, ``loyalty``); empty
    when it all matches. Training sales are checked like any other."""
    if message["kind"] == "cancelled":
        return []
    basket = _priced_lines(message, items)
    member = message.get("member") is not None
    problems: list[str] = []
    tried: list[datetime] = []
    for stamp in (message["closed_at"], message["opened_at"]):
        at = datetime.fromisoformat(stamp)
        if at in tried:
            continue
        tried.append(at)
        prices = price_basket(basket, member=member, now=at, promotions=promotions)
        problems = _differences(message, prices)
        if not problems:
            break
    return problems + _tax_problems(message) + _points_problems(message, loyalty)


def _points_problems(message: Mapping[str, Any], loyalty: Loyalty | None) -> list[str]:
    """A member's sale earns ``points_for`` its sold goods after discounts. A transaction
    that returns goods by receipt takes back what depends on the sales it returns from
    (the ledger's balances check those): here only its sign is checked."""
    if message.get("member") is None or message.get("training"):
        return []
    got = message.get("points", 0)
    lines = [ln for ln in message["lines"] if not ln["voided"]]
    returns = [ln for ln in lines if ln["amount"] < 0 or _milli(ln["qty"]) < 0]
    if returns:
        sold = [ln for ln in lines if ln not in returns]
        most = points_for(sum(ln["amount"] - ln["discount"] for ln in sold), loyalty)
        return [] if got <= most else [f"points {got}: more than the goods sold earn ({most})"]
    want = points_for(sum(ln["amount"] - ln["discount"] for ln in lines), loyalty)
    return [] if got == want else [f"points {got}, expected {want}"]


@dataclass(frozen=True)
class PriceBook:
    """What the store server sent its lanes, to check their sales against: the items by
    sku, the promotions and the loyalty rule of one ``store.catalog/1`` snapshot."""

    items: Mapping[str, Item]
    promotions: tuple[Promotion, ...]
    loyalty: Loyalty | None

    def check(self, message: Mapping[str, Any]) -> list[str]:
        """``check_sale`` of ``message`` against this catalog."""
        return check_sale(message, self.items, self.promotions, self.loyalty)


def load_price_book(path: Path) -> PriceBook:
    """The ``PriceBook`` of a ``store.catalog/1`` snapshot file; ``StoreServerError``
    naming the file and the field when it is not one."""
    from firmware_app.errors import CatalogError
    from firmware_app.store.catalog_doc import parse_catalog

    try:
        change = parse_catalog(path.read_bytes())
    except (OSError, CatalogError) as e:
        raise StoreServerError(f"{path}: {e}") from e
    if not change.is_snapshot:
        raise StoreServerError(f"{path}: a catalog change, not a snapshot (no base_version)")
    return PriceBook({i.sku: i for i in change.items}, change.promotions, change.loyalty)
