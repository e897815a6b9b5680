"""A return without receipt at a keyed price: ``PRICE`` on the return line, approved by
a supervisor (the approval names the price from and to), within the per-return limit;
the line carries its ``override`` like any price override. As a table, then the numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.adjustments import PriceOverride
from firmware_app.lane.effects import CommitSale, RecordEvent
from firmware_app.lane.messages import Msg
from firmware_app.lane.rules import ApprovalRules
from firmware_app.lane.sale import SaleKind, Tender, TenderType
from firmware_app.lane.state import Action
from tests.unit.till import Till, check_path, setup_with

COLA = "scan 6954767410388"  # 3.50, 13 %
BREAD = "scan 96385074"  # 10.00, 9 %
SOLD = ("signon", "key 3 QTY", COLA, "key CASH")  # receipt 1: three colas
COLA_BACK = ("signon", "key RETURN", "approve", COLA)  # a cola back without receipt
KEYED = (*COLA_BACK, "key 2 PRICE")
APPROVED = (*KEYED, "approve")
BY_RECEIPT = (*SOLD, "key 1 RETURN", "key 1 ENTER", "key SUBTOTAL")

REFUSALS = {
    Msg.RETURN_AT_PAID_PRICE,
    Msg.RETURN_OVER_LIMIT,
    Msg.PRICE_TOO_HIGH,
    Msg.BAD_ENTRY,
    Msg.NEEDS_ENTRY,
}

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    ("a keyed price asks a supervisor", COLA_BACK, "key 2 PRICE", Msg.SUPERVISOR_ID, []),
    ("approved: the reason is asked", KEYED, "approve", Msg.PRICE_REASON, ["RecordEvent"]),
    ("reason chosen: the return line changes", APPROVED, "key 1 ENTER", Msg.PRICE_CHANGED,
     ["SaveSale", "RecordEvent"]),
    ("a supervisor signed on keys it alone", ("supervisor", "key RETURN", COLA), "key 2 PRICE",
     Msg.PRICE_REASON, ["RecordEvent"]),
    ("a keyed price above the limit", COLA_BACK, "key 2 0 1 PRICE", Msg.RETURN_OVER_LIMIT, []),
    ("a keyed price above the highest", COLA_BACK, "key 1 0 0 0 0 PRICE", Msg.PRICE_TOO_HIGH,
     []),
    ("the catalog's price again", COLA_BACK, "key 3 DOT 5 PRICE", Msg.BAD_ENTRY, []),
    ("no price keyed", COLA_BACK, "key PRICE", Msg.NEEDS_ENTRY, []),
    ("a line returned by receipt", BY_RECEIPT, "key 2 PRICE", Msg.RETURN_AT_PAID_PRICE, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    check_path(
        Till(setup=setup_with(return_limit=20000)).do(*before), step, message, effects, REFUSALS
    )


def events(till: Till, type_: str) -> list[dict[str, str]]:
    found = [e.event for e in till.all_effects if isinstance(e, RecordEvent)]
    return [dict(e.details) for e in found if e.type == type_]


def test_the_keyed_price_is_refunded_and_the_line_records_from_to_reason_and_by() -> None:
    till = Till().do("signon", "key RETURN", "approve", "key 2 QTY", COLA, "key 2 DOT 8 PRICE")
    till.do("approve", "key 2 ENTER", "key CASH")
    record = next(e for e in till.effects if isinstance(e, CommitSale)).record
    assert record.kind is SaleKind.RETURN
    (line,) = record.lines
    assert (line.qty, line.unit_price, line.amount, line.return_of) == (-2000, 280, -560, None)
    assert line.override == PriceOverride(350, 280, "临期 near expiry", "9001")
    assert record.tenders == (Tender(TenderType.CASH, -560),)
    approvals = events(till, "approval")
    assert [a["action"] for a in approvals] == ["return_no_receipt", "return_price"]
    assert approvals[1] == {
        "action": "return_price", "supervisor": "9001", "via": "pin", "line": "1",
        "sku": "100234", "amount": "280", "from": "350", "to": "280",
    }  # fmt: skip
    (override,) = events(till, "price_override")
    assert (override["from"], override["to"]) == ("350", "280")
    assert (override["amount_from"], override["amount_to"]) == ("-700", "-560")


def test_a_keyed_price_counts_against_the_limit_with_the_other_lines_without_receipt() -> None:
    till = Till(setup=setup_with(return_limit=1000)).do(
        "signon", "key RETURN", "approve", COLA, "key RETURN", "approve", COLA
    )  # 7.00 back so far
    till.do("key 6 DOT 5 1 PRICE")  # 3.50 + 6.51 = 10.01
    assert till.message == Msg.RETURN_OVER_LIMIT
    till.do("key CLEAR", "key 6 DOT 5 PRICE", "approve", "key 1 ENTER")
    assert till.message == Msg.PRICE_CHANGED
    assert till.state.sale is not None and -till.state.sale.total == 1000


def test_a_weighed_line_without_receipt_takes_its_weight_times_the_keyed_price() -> None:
    till = Till().do("signon", "key RETURN", "approve", "scale 0.532", "key 1 PLU")
    till.do("key 1 0 PRICE", "approve", "key 1 ENTER")
    line = till.state.sale.lines[-1]  # type: ignore[union-attr]
    assert (line.qty, line.unit_price, line.amount) == (-532, 1000, -532)
    assert line.override == PriceOverride(1280, 1000, "破损 damaged", "9001")


def test_a_keyed_return_price_needs_a_supervisor_where_price_overrides_do_not() -> None:
    rules = ApprovalRules(without_supervisor=frozenset([Action.PRICE_OVERRIDE]))
    till = Till(setup=setup_with(approvals=rules)).do(*COLA_BACK, "key 2 PRICE")
    assert till.message is Msg.SUPERVISOR_ID
    alone = ApprovalRules(without_supervisor=frozenset([Action.RETURN_PRICE]))
    till = Till(setup=setup_with(approvals=alone)).do(*COLA_BACK, "key 2 PRICE")
    assert till.message is Msg.PRICE_REASON


def test_a_price_override_on_a_sold_line_still_names_from_and_to_in_its_approval() -> None:
    till = Till().do("signon", COLA, "key 3 PRICE", "approve")
    (approval,) = events(till, "approval")
    assert (approval["from"], approval["to"]) == ("350", "300")


# --- a discount never changes what a return gives back -------------------------------------


@pytest.mark.parametrize(
    "before",
    [pytest.param(COLA_BACK, id="without receipt"), pytest.param(BY_RECEIPT, id="by receipt")],
)
def test_disc_on_a_return_line_is_refused(before: tuple[str, ...]) -> None:
    till = Till().do(*before)
    if till.state.message is not None and till.state.message.id is Msg.SUBTOTAL:
        till.do(BREAD)  # DISC on the line, not on the sale: the return line is not last
        till.do("key VOID")
    till.do("key 1 0")
    before_disc = till.state
    till.do("key DISC")
    assert till.message is Msg.RETURN_NO_DISCOUNT
    assert till.effects == []
    assert replace(till.state, message=None) == replace(before_disc, message=None)


def test_a_sale_discount_on_a_mixed_basket_comes_off_the_goods_sold_only() -> None:
    till = Till().do(*BY_RECEIPT, BREAD, "key SUBTOTAL", "key 1 0 DISC")  # 10 % off the bread
    assert till.message is Msg.DISCOUNT_GIVEN
    sale = till.state.sale
    assert sale is not None
    back, bread = sale.live_lines
    assert (back.amount, back.discount, back.discounts) == (-1050, 0, ())
    assert (bread.amount, bread.discount) == (1000, 100)
    assert sale.total == 1000 - 100 - 1050


def test_a_sale_discount_on_returns_only_is_refused() -> None:
    till = Till().do(*BY_RECEIPT, "key SUBTOTAL", "key 1 0 DISC")
    assert till.message is Msg.DISCOUNT_ZERO
    assert till.effects == []
