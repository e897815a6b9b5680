"""End to end: a member's sale and a partial return of it at a simulated lane, against a
real mosquitto and the simulated store server with its members file. The lane asks
about the member, the store server answers, the sale and the return carry the member
and the points, and the store server's balance ends at what the member kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_app.sync.contract import validate
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from hw_sim.store_server.members import load_members
from tests.e2e.sim import ROOT, run_sim

pytestmark = pytest.mark.e2e

MEMBERS = ROOT / "hw_sim" / "samples" / "members.json"
WANG = "6901234567892"  # 王芳, 120 points in the members file
BLOCKED = "6901234567878"

SCRIPT = f"""\
type 1001
key SIGNON
type 1234
key ENTER
# a blocked member is refused, then the member's card is scanned
type {BLOCKED}
key MEMBER
sleep 0.5
scan M{WANG}
sleep 0.5
# receipt 1: three colas (3.50) and a bread (10.00): 20.50, 20 points
type 3
key QTY
scan 6954767410388
scan 96385074
key CASH
drawer close
# two colas come back: 13.50 left, 13 points kept, 7 taken back
type 1
key RETURN
type 2
key QTY
type 1
key ENTER
key SUBTOTAL
key CASH
drawer close
wait idle
sleep 3
"""


def test_a_members_sale_and_return_keep_its_points_at_the_store_server(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    members = load_members(MEMBERS)
    with StoreServer(mosquitto.url, tmp_path / "store.db", members=members) as server:
        result = run_sim(tmp_path, SCRIPT, "--broker", mosquitto.url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 unacknowledged" in result.stdout
        messages = server.messages("S001", "01")
        balance = server.points(WANG, "S001")
        kept = server.ledger.points_by_member("S001")
        recount = server.ledger.recount_points("S001")
        answered = server.member_answers
    for message in messages:
        validate(message)
    sales = [m for m in messages if m["schema"] == "lane.sale/1"]
    assert [(s["kind"], s["member"], s["points"]) for s in sales] == [
        ("sale", WANG, 20),
        ("return", WANG, -7),
    ]
    assert sales[0]["member_verified"] is True
    assert answered == 2  # the blocked member and 王芳
    assert kept == recount == {WANG: 13}  # each sale counted once
    assert balance == 120 + 13
    receipts = sorted((tmp_path / "out").rglob("*.txt"))
    printed = "\n".join(p.read_text(encoding="utf-8") for p in receipts)
    assert "王芳" in printed and "+20" in printed
