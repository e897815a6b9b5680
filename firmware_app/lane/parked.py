"""A parked (suspended) sale: a basket set aside with ``SUSPEND`` and brought back with
``RESUME``. Its own module so that the state, the effects and the store share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firmware_app.lane.sale import Sale

SLIP_PREFIX = "SUSP-"
"""The slip's barcode is ``SUSP-{store}-{lane}-{no}``: letters and hyphens, so it never
reads as a GTIN, an in-store label (digits only) or a member card (prefix + digits)."""


@dataclass(frozen=True)
class ParkedSale:
    """Sale ``sale`` parked under suspend number ``no`` (from 1, never reused on a lane)
    by ``cashier`` at ``parked_at``."""

    no: int
    sale: Sale
    parked_at: datetime
    cashier: str


def slip_code(store: str, lane: str, no: int) -> str:
    """The code printed as a barcode on the slip of parked sale ``no``."""
    return f"{SLIP_PREFIX}{store}-{lane}-{no}"


@dataclass(frozen=True)
class SlipCode:
    store: str
    lane: str
    no: int


def read_slip_code(data: str) -> SlipCode | None:
    """The slip code in a scan (an AIM prefix such as ``]C0`` allowed), or None when the
    scan is no slip. The store id may hold hyphens; the lane id and the number do not."""
    text = data.strip()
    if text.startswith("]") and len(text) > 3:
        text = text[3:]
    if not text.startswith(SLIP_PREFIX):
        return None
    parts = text[len(SLIP_PREFIX) :].rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    store, lane, no = parts
    if not (no.isascii() and no.isdigit()) or len(no) > 9:
        return None
    return SlipCode(store, lane, int(no))
