"""End to end: a member's basket under every kind of promotion at a simulated lane, against
a real mosquitto and the simulated store server. The store server prices every sale it
receives again from the catalog the lane was given (``hw_sim.store_server.recompute``):
each line's member saving and promotions, its discount, the taxes per rate, the totals
and the points must be what the lane sent. The totals are also worked out by hand here,
so the check does not rest on the pricing engine alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_app.sync.contract import validate
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from hw_sim.store_server.members import load_members
from hw_sim.store_server.recompute import load_price_book
from tests.e2e.sim import ROOT, run_sim

pytestmark = pytest.mark.e2e

CATALOG = ROOT / "hw_sim" / "samples" / "catalog-promotions.json"
MEMBERS = ROOT / "hw_sim" / "samples" / "members.json"
WANG = "6901234567892"  # 王芳, 120 points in the members file

SCRIPT = f"""\
type 1001
key SIGNON
type 1234
key ENTER
# a Saturday evening in December: the evening bread and the December Oreo apply
clock 2026-12-05T19:30:00+08:00
scan M{WANG}
sleep 0.5
# colas: the 2nd at half price (one pair of three): 1.75 off
type 3
key QTY
scan 6954767410388
# noodles: 3 for 10.00: 3.50 off
type 3
key QTY
scan 6902263021362
# milk: 10 % for members: 0.76 off
type 2
key QTY
scan 6901045504017
# water: member price 1.80 for 2.00
scan 6921094000018
# apples by weight, member price 11.80/kg for 12.80: 0.50 off 0.5 kg
scale 0.5
type 1
key PLU
scale 0
# bread: 6.00 in the evening: 4.00 off
scan 96385074
# Oreo: 3.00 off each in December: 18.00 off
type 6
key QTY
scan 036000291452
# gum: no item promotion; snacks and drinks now reach 100.00 after the item
# promotions, so 20.00 off them
type 10
key QTY
scan 042100005264
key SUBTOTAL
key CASH
drawer close
# one Oreo comes back at what was paid for it (line 7)
type 1
key RETURN
type 1
key QTY
type 7
key ENTER
key SUBTOTAL
key CASH
drawer close
wait idle
sleep 3
"""

ALL_PROMOTIONS = {
    "P-COLA-2ND", "P-NOODLE-3FOR", "P-SNACKS-100-20", "P-MILK-MEMBER", "P-BREAD-EVENING",
    "P-OREO-DEC",
}  # fmt: skip
# By hand: gross 10.50 + 13.50 + 7.60 + 2.00 + 6.40 + 10.00 + 95.40 + 25.00 = 170.40;
# off 1.75 + 3.50 + 0.76 + 0.20 + 0.50 + 4.00 + 18.00 + 20.00 = 48.71.
GROSS, DISCOUNT = 17040, 4871


def test_a_members_promotional_basket_is_what_the_store_server_recomputes(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    prices = load_price_book(CATALOG)
    members = load_members(MEMBERS)
    with StoreServer(
        mosquitto.url, tmp_path / "store.db", members=members, prices=prices
    ) as server:
        result = run_sim(tmp_path, SCRIPT, "--broker", mosquitto.url, "--catalog", str(CATALOG))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 unacknowledged" in result.stdout
        messages = server.messages("S001", "01")
        problems, checked = server.price_problems, server.sales_checked
        balance = server.points(WANG, "S001")
    for message in messages:
        validate(message)
    sales = [m for m in messages if m["schema"] == "lane.sale/1"]
    assert [s["kind"] for s in sales] == ["sale", "return"]
    assert problems == [] and checked == 2

    sale, back = sales
    got = {p["id"] for line in sale["lines"] for p in line["promotions"]}
    assert got == ALL_PROMOTIONS
    assert (sale["totals"]["gross"], sale["totals"]["discount"]) == (GROSS, DISCOUNT)
    assert sale["member"] == WANG and sale["member_verified"] is True
    assert sale["points"] == (GROSS - DISCOUNT) // 100  # a point per full 1.00
    # A line's discount is its member saving and its promotions' shares: water (drinks)
    # has its member saving and a share of the 满100减20 only.
    water = next(ln for ln in sale["lines"] if ln["sku"] == "100235")
    shares = {p["id"]: p["discount"] for p in water["promotions"]}
    assert set(shares) == {"P-SNACKS-100-20"}
    assert water["discount"] - shares["P-SNACKS-100-20"] == 200 - 180

    oreo = next(ln for ln in sale["lines"] if ln["sku"] == "300002")
    (returned,) = back["lines"]
    assert returned["return_of"]["line"] == oreo["line"]
    # One of six Oreos back: a sixth of what its line was charged, the rest to the others.
    paid = oreo["amount"] - oreo["discount"]
    assert -back["totals"]["total"] in (paid // 6, paid // 6 + 1)
    assert back["points"] < 0
    assert balance == 120 + sale["points"] + back["points"]
