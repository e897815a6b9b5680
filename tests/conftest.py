"""Fixtures shared by every test folder: a private broker and contract-shaped messages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw_sim.broker import BrokerError, MosquittoBroker, mosquitto_path

AT = "2026-11-28T13:20:01.250+08:00"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private mosquitto on a free port of 127.0.0.1, persistent sessions in ``tmp_path``.

    ``mosquitto.url`` is ``mqtt://127.0.0.1:PORT``; ``stop()``/``kill()`` then
    ``start()`` restart it on the same port with its sessions.
    """
    try:
        mosquitto_path()
    except BrokerError as e:
        pytest.skip(str(e))
    broker = MosquittoBroker(data_dir=tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


class LaneMessages:
    """Uplink bodies shaped like the contract's examples, with real values filled in."""

    def __init__(self, store: str = "S001", lane: str = "01") -> None:
        self.store = store
        self.lane = lane

    def sale(self, seq: int, *, receipt_no: int | None = None, **changes: Any) -> dict[str, Any]:
        """``lane.sale/1``: two cans of cola (2 × 3.50 CNY), paid 10.00 cash, 3.00 change."""
        sale_id = f"0193a9e2-7c4d-7e10-8000-{seq:012d}"
        message: dict[str, Any] = {
            "schema": "lane.sale/1",
            "at": AT,
            "store": self.store,
            "lane": self.lane,
            "seq": seq,
            "sale_id": sale_id,
            "receipt_no": receipt_no or seq,
            "kind": "sale",
            "opened_at": "2026-11-28T13:19:40.020+08:00",
            "closed_at": AT,
            "cashier": "1001",
            "member": None,
            "currency": "CNY",
            "lines": [
                {
                    "line": 1,
                    "sku": "100234",
                    "code": "6954767410388",
                    "name": "可口可乐 330ml",
                    "unit": "each",
                    "qty": "2",
                    "unit_price": 350,
                    "amount": 700,
                    "discount": 0,
                    "tax_rate": "13",
                    "voided": False,
                    "promotions": [],
                }
            ],
            "totals": {"gross": 700, "discount": 0, "rounding": 0, "total": 700, "tax": 81},
            "taxes": [{"rate": "13", "gross": 700, "tax": 81}],
            "tenders": [{"type": "cash", "amount": 1000}],
            "change": 300,
            "journal_hash": hashlib.sha256(sale_id.encode()).hexdigest(),
        }
        message.update(changes)
        return message

    def stock(self, seq: int, deltas: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
        """``lane.stock/1``; ``deltas`` are (sku, signed qty, unit)."""
        deltas = deltas if deltas is not None else [("100234", "-2", "each")]
        return {
            "schema": "lane.stock/1",
            "at": AT,
            "store": self.store,
            "lane": self.lane,
            "seq": seq,
            "sale_id": f"0193a9e2-7c4d-7e10-8000-{seq:012d}",
            "deltas": [{"sku": s, "qty": q, "unit": u} for s, q, u in deltas],
        }

    def event(self, seq: int, event: str = "no_sale") -> dict[str, Any]:
        """``lane.event/1``."""
        return {
            "schema": "lane.event/1",
            "at": AT,
            "store": self.store,
            "lane": self.lane,
            "seq": seq,
            "event": event,
            "cashier": "1001",
            "sale_id": None,
            "details": {"reason": "change"},
        }


@pytest.fixture
def lane_messages() -> LaneMessages:
    """Builders of contract messages for store S001, lane 01."""
    return LaneMessages()
