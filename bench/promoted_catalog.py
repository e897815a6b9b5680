"""A ``store.catalog/1`` document with promotions: ``bench.lean_store``'s items, each in
one of ``bench.scan_to_disk``'s departments, the same promotions that bench prices
with (every type, naming departments and items), and PLUs 1…n on the first items so a
page's keys can sell them."""

from __future__ import annotations

import random

from bench.lean_store import catalog_document
from bench.scan_to_disk import DEPARTMENTS, build_promotions
from firmware_app.store.promotions_doc import promotion_json


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
