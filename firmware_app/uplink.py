"""The lane's uplink message bodies (spec/mqtt-contract.md), built from core records.

Money stays integer minor units, quantities become decimal strings, tax rates
percent strings, timestamps RFC 3339 with offset. The journal hashes the sale
body exactly as built here (see ``journal_record``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from firmware_app.lane.effects import AuditEvent
from firmware_app.lane.money import format_qty, rate_text
from firmware_app.lane.sale import FinishedSale, Line, Tender
from firmware_app.sync.contract import timestamp

GENESIS_HASH = "0" * 64


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The journal link: SHA-256 over the previous hash and the canonical record."""
    return hashlib.sha256((prev_hash + canonical(record)).encode("utf-8")).hexdigest()


def _line(line: Line) -> dict[str, Any]:
    return {
        "line": line.no,
        "sku": line.sku,
        "code": line.code,
        "name": line.name,
        "unit": line.unit.value,
        "qty": format_qty(line.qty),
        "unit_price": line.unit_price,
        "amount": line.amount,
        "discount": line.discount,
        "tax_rate": rate_text(line.tax_rate),
        "voided": line.voided,
        "promotions": [],
    }


def _tender(tender: Tender) -> dict[str, Any]:
    """A tender; a voided one (cash handed back, a charge reversed) carries
    ``"voided": true`` and, when reversed on the terminal, the reversal's reference."""
    body: dict[str, Any] = {"type": tender.type.value, "amount": tender.amount}
    if tender.reference:
        body["reference"] = tender.reference
    if tender.voided:
        body["voided"] = True
        if tender.reversal:
            body["reversal"] = tender.reversal
    return body


def journal_record(record: FinishedSale, store: str, lane: str) -> dict[str, Any]:
    """The sale as journalled: the ``lane.sale/1`` body without envelope and hash."""
    return {
        "store": store,
        "lane": lane,
        "sale_id": record.sale_id,
        "receipt_no": record.receipt_no,
        "kind": record.kind.value,
        "opened_at": timestamp(record.opened_at),
        "closed_at": timestamp(record.closed_at),
        "cashier": record.cashier,
        "member": record.member,
        "currency": record.currency,
        "lines": [_line(line) for line in record.lines],
        "totals": {
            "gross": record.gross,
            "discount": record.discount,
            "rounding": record.rounding,
            "total": record.total,
            "tax": record.tax,
        },
        "taxes": [
            {"rate": rate_text(t.rate), "gross": t.gross, "tax": t.tax} for t in record.taxes
        ],
        "tenders": [_tender(t) for t in record.tenders],
        "change": record.change,
    }


def sale_message(body: Mapping[str, Any], *, seq: int, journal_hash: str) -> dict[str, Any]:
    return {
        "schema": "lane.sale/1",
        "at": body["closed_at"],
        "seq": seq,
        **body,
        "journal_hash": journal_hash,
    }


def stock_message(record: FinishedSale, store: str, lane: str, *, seq: int) -> dict[str, Any]:
    return {
        "schema": "lane.stock/1",
        "at": timestamp(record.closed_at),
        "store": store,
        "lane": lane,
        "seq": seq,
        "sale_id": record.sale_id,
        "deltas": [
            {"sku": d.sku, "qty": format_qty(d.qty), "unit": d.unit.value} for d in record.deltas
        ],
    }


def event_message(event: AuditEvent, store: str, lane: str, *, seq: int) -> dict[str, Any]:
    return {
        "schema": "lane.event/1",
        "at": timestamp(event.at),
        "store": store,
        "lane": lane,
        "seq": seq,
        "event": event.type,
        "cashier": event.cashier,
        "sale_id": event.sale_id,
        "details": dict(event.details),
    }
