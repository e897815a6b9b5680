"""End to end: a sale and a return of part of it at a simulated lane, against a real
mosquitto and the simulated store server. Every message validates against the contract,
the return carries ``return_of`` and a negative cash tender, and the store server's stock
goes back up by what was returned; a refund to the card goes through the simulated
terminal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from firmware_app.sync.contract import validate
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from tests.e2e.sim import run_sim

pytestmark = pytest.mark.e2e

SCRIPT = """\
type 1001
key SIGNON
type 1234
key ENTER
# receipt 1: three colas
type 3
key QTY
scan 6954767410388
key CASH
# two of them come back
type 1
key RETURN
type 2
key QTY
type 1
key ENTER
key SUBTOTAL
key CASH
drawer close
# the last one back to the card
type 1
key RETURN
type 1
key ENTER
key SUBTOTAL
key CARD
wait idle
sleep 3
"""


def test_a_return_reaches_the_store_server_and_stock_goes_back_up(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    with StoreServer(mosquitto.url, tmp_path / "store.db") as server:
        result = run_sim(tmp_path, SCRIPT, "--broker", mosquitto.url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 unacknowledged" in result.stdout
        messages = server.messages("S001", "01")
        stock = server.stock("100234")
    for message in messages:
        validate(message)
    sales = [m for m in messages if m["schema"] == "lane.sale/1"]
    assert [s["kind"] for s in sales] == ["sale", "return", "return"]
    returned = sales[1]
    assert returned["lines"][0]["qty"] == "-2"
    assert returned["lines"][0]["return_of"] == {"lane": "01", "receipt_no": 1, "line": 1}
    assert [t["amount"] for t in returned["tenders"]] == [-700]
    events = [m["event"] for m in messages if m["schema"] == "lane.event/1"]
    assert "return" in events
    card = sales[2]["tenders"]
    assert [(t["type"], t["amount"]) for t in card] == [("card", -350)]
    assert card[0]["reference"].startswith("SIM-F")  # the simulated terminal's refund
    assert stock == Decimal(0)  # 3 sold, 2 back, then the last one


# Returns without receipt at a keyed price: a cola comes back at 2.80, not 3.50.
KEYED_PRICE_SCRIPT = """\
type 1001
key SIGNON
type 1234
key ENTER
key RETURN
scan SV9001
scan 6954767410388
type 2.80
key PRICE
scan SV9002
type 2
key ENTER
key CASH
drawer close
wait idle
sleep 3
"""


def test_a_return_without_receipt_at_a_keyed_price_carries_its_override(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    with StoreServer(mosquitto.url, tmp_path / "store.db") as server:
        result = run_sim(tmp_path, KEYED_PRICE_SCRIPT, "--broker", mosquitto.url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 unacknowledged" in result.stdout
        messages = server.messages("S001", "01")
    for message in messages:
        validate(message)
    (sale,) = [m for m in messages if m["schema"] == "lane.sale/1"]
    assert sale["kind"] == "return"
    (line,) = sale["lines"]
    assert line["override"] == {"from": 350, "to": 280, "reason": "临期 near expiry", "by": "9002"}
    assert line.get("return_of") is None  # a return without receipt names no sale
    assert [t["amount"] for t in sale["tenders"]] == [-280]
    approvals = [
        m["details"] for m in messages if m["schema"] == "lane.event/1" and m["event"] == "approval"
    ]
    assert [(a["action"], a.get("from"), a.get("to")) for a in approvals] == [
        ("return_no_receipt", None, None),
        ("return_price", "350", "280"),
    ]
