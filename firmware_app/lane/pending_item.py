"""An item held back until the customer's age is confirmed (restrictions)."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_app.lane.barcodes import ScannedCode
from firmware_app.lane.catalog import Item


@dataclass(frozen=True)
class PendingItem:
    """What ``selling`` needs to add the item once the answer is yes: the item, the code
    it came by, the scan (a label's price or weight), and the minimum age asked."""

    item: Item
    code: str
    min_age: int
    scanned: ScannedCode | None = None
