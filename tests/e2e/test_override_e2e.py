"""End to end: a price override and discounts keyed at a hw_sim lane reach a store server
over a real mosquitto; the sale and its events validate against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import run_to_store

pytestmark = pytest.mark.e2e

# F6 is PRICE and F7 DISC on the simulated keypad. A cola at 3.00 instead of 3.50
# (badge approval, reason 1), 5 % off it, bread, then 20 % off the sale (badge), cash.
SCRIPT = """\
type 1001
key SIGNON
type 1234
key ENTER
scan ]E06954767410388
type 3
key PRICE
scan SV9001
type 1
key ENTER
type 5
key DISC
scan ]E496385074
key SUBTOTAL
type 20
key DISC
scan SV9001
key CASH
drawer close
wait idle
"""


def test_override_and_discounts_reach_the_store_server(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    _, received = run_to_store(tmp_path, SCRIPT, mosquitto.url)
    events: list[tuple[str, dict[str, Any]]] = []
    sales = []
    for topic, message in received:
        if topic.endswith("/events"):
            events.append((message["event"], message.get("details", {})))
        elif topic.endswith("/sales"):
            sales.append(message)
    overrides = [d for e, d in events if e == "price_override"]
    assert overrides == [
        {
            "line": "1", "sku": "100234", "from": "350", "to": "300", "amount_from": "350",
            "amount_to": "300", "reason": "破损 damaged", "supervisor": "9001",
        }
    ]  # fmt: skip
    discounts = [d for e, d in events if e == "discount"]
    assert [(d["scope"], d["percent"], d.get("supervisor")) for d in discounts] == [
        ("line", "5", None),
        ("sale", "20", "9001"),
    ]
    (sale,) = sales
    cola = sale["lines"][0]
    assert cola["override"] == {"from": 350, "to": 300, "reason": "破损 damaged", "by": "9001"}
    assert [d["scope"] for d in cola["manual_discounts"]] == ["line", "sale"]
    assert sale["totals"]["discount"] == sum(line["discount"] for line in sale["lines"])
