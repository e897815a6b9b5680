"""A ``store.catalog/1`` document with promotions: ``bench.lean_store``'s items, each in
one of ``bench.scan_to_disk``'s departments, the same promotions that bench prices
with (every type, naming departments and items), and PLUs 1…n on the first items so a
page's keys can sell them."""

from __future__ import annotations

import random

from bench.lean_store import catalog_document
from bench.scan_to_disk import DEPARTMENTS, build_promotions
from firmware_app.lane.promotions import Promotion, PromoType

FIELDS: dict[PromoType, tuple[str, ...]] = {
    PromoType.PERCENT_OFF: ("percent",),
    PromoType.AMOUNT_OFF: ("amount",),
    PromoType.FIXED_PRICE: ("price",),
    PromoType.MULTI_BUY: ("qty", "price"),
    PromoType.BUY_GET: ("buy", "get", "percent"),
    PromoType.THRESHOLD: ("min", "off", "repeat"),
}


def promotion_json(promotion: Promotion) -> dict[str, object]:
    """The catalog document's form of ``promotion`` (docs/mqtt.md, "Promotions")."""
    doc: dict[str, object] = {
        "id": promotion.id,
        "name": promotion.name,
        "type": promotion.type.value,
        "items": sorted(promotion.items),
        "departments": sorted(promotion.departments),
    }
    for name in FIELDS[promotion.type]:
        value = getattr(promotion, name)
        doc[name] = str(value) if name == "percent" else value
    return doc


def promoted_document(items: int, promotions: int, plus: int = 9) -> dict[str, object]:
    """``items`` items over ``DEPARTMENTS`` departments, ``promotions`` promotions of
    every type, and PLUs 1…``plus`` on the first ``plus`` items."""
    doc = catalog_document(items)
    entries = doc["items"]
    assert isinstance(entries, list)
    for n, item in enumerate(entries):
        item["department"] = f"d{n % DEPARTMENTS}"
        if n < plus:
            item["plu"] = n + 1
    deals = build_promotions(promotions, items, random.Random(11))
    doc["promotions"] = [promotion_json(p) for p in deals]
    return doc
