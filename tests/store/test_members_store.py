"""Members in a real SQLite lane database: the member's check survives a restart of the
open sale, the sale message carries ``member_verified`` and ``points``, and a return by
receipt reads the member and the points back from the journal to take them back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from firmware_app.lane.effects import DURABLE
from firmware_app.lane.events import MemberAnswer
from firmware_app.lane.member_check import CheckState, MemberStatus
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.return_source import ReturnSource
from firmware_app.lane.rules import MemberRules
from firmware_app.store.db import open_database
from firmware_app.store.returns import SaleLookup
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.validation import validate
from tests.unit.till import Till, setup_with

COLA_SCAN = "scan 6954767410388"
CARD = "6901234567892"


def lane(tmp_path: Path) -> tuple[SalesStore, Till]:
    store = SalesStore(
        open_database(tmp_path / "lane.db"), messages=LaneUplink(Topics("pos", "S001", "07"))
    )
    till = Till(setup=setup_with(members=MemberRules(loyalty=Loyalty(100, 1))))
    lookup = SaleLookup(store.db, "07", keep_days=90, clock=lambda: till.now)
    till.ports = replace(till.ports, returns=lookup)
    return store, till


def run(store: SalesStore, till: Till, *steps: str) -> None:
    for step in steps:
        till.do(step)
        store.apply([e for e in till.effects if isinstance(e, DURABLE)], at=till.now)


def answer(store: SalesStore, till: Till, status: MemberStatus) -> None:
    sale = till.state.sale
    assert sale is not None and sale.member_check is not None
    till.send(MemberAnswer(sale.member_check.request_id, CARD, status, "王芳", 120))
    store.apply([e for e in till.effects if isinstance(e, DURABLE)], at=till.now)


def sales(store: SalesStore) -> list[dict[str, Any]]:
    rows = store.m.OutboxMessage.select().order_by(store.m.OutboxMessage.seq)
    messages = [json.loads(bytes(r.payload)) for r in rows]
    for message in messages:
        validate(message)
    return [m for m in messages if m["schema"] == "lane.sale/1"]


def test_the_open_sales_member_check_survives_a_restart(tmp_path: Path) -> None:
    store, till = lane(tmp_path)
    run(store, till, "signon", COLA_SCAN, "key " + " ".join(CARD) + " MEMBER")
    answer(store, till, MemberStatus.ACTIVE)
    store.db.close()
    again = SalesStore(open_database(tmp_path / "lane.db"), messages=store.messages)
    try:
        sale = again.load_open_sale()
        assert sale is not None and sale == till.state.sale
        assert sale.member_check is not None
        assert sale.member_check.state is CheckState.VERIFIED
        assert sale.member_check.name == "王芳"
    finally:
        again.db.close()


def test_a_member_sale_and_its_return_carry_the_points(tmp_path: Path) -> None:
    store, till = lane(tmp_path)
    member = "key " + " ".join(CARD) + " MEMBER"
    try:
        run(store, till, "signon", "key 3 QTY", COLA_SCAN, member)
        answer(store, till, MemberStatus.ACTIVE)
        run(store, till, "key CASH")
        run(store, till, "signon", COLA_SCAN, "key CASH")  # no member: no fields
        found = till.ports.returns.sale_by_receipt(1)  # type: ignore[union-attr]
        assert isinstance(found, ReturnSource)
        assert (found.member, found.member_verified, found.points) == (CARD, True, 10)
        run(store, till, "key 1 RETURN", "key 1 QTY", "key 1 ENTER", "key SUBTOTAL", "key CASH")
        run(store, till, "key 1 RETURN", "key 1 ENTER", "key SUBTOTAL", "key CASH")
        sent = sales(store)
        assert [(s["kind"], s.get("member"), s.get("points")) for s in sent] == [
            ("sale", CARD, 10),
            ("sale", None, None),
            ("return", CARD, -3),  # 10.50 - 3.50 = 7.00 left: 7 of the 10 points
            ("return", CARD, -7),
        ]
        assert sent[0]["member_verified"] is True and "member_verified" not in sent[1]
    finally:
        store.db.close()
