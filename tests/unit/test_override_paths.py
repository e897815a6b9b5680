"""PRICE and DISC at the keypad, as a table: steps in, message and effects out; every
refusal changes nothing but the message. Then the numbers: amounts, records, events."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from firmware_app.lane.adjustments import DiscountScope, ManualDiscount, PriceOverride
from firmware_app.lane.effects import CommitSale, PrintReceipt, RecordEvent, SaveSale
from firmware_app.lane.messages import Msg
from firmware_app.lane.sale import taxes
from firmware_app.lane.state import Mode
from firmware_app.lane.view import ScreenSetup, screen_view
from tests.unit.till import Till, check_path, setup_with

COLA = "scan 6954767410388"  # 3.50, 13 %
BREAD = "scan 96385074"  # 10.00, 9 %
CHEAP_COLA = "scan 2000234000041"  # a price label: cola at 0.04
ONE_COLA = ("signon", COLA)
TWO = ("signon", COLA, BREAD)
PRICE_ASKED = ("signon", COLA, "key 3 PRICE", "approve")
PAID_PART = ("signon", BREAD, "key 5 CASH")
LINE_OFF = ("signon", COLA, "key 5 DISC")
SALE_OFF = ("signon", COLA, BREAD, "key SUBTOTAL 5 DISC")

REFUSALS = {
    Msg.NO_LINE,
    Msg.NEEDS_ENTRY,
    Msg.BAD_ENTRY,
    Msg.PRICE_TOO_HIGH,
    Msg.FINISH_PAYMENT,
    Msg.KEY_NOT_ALLOWED,
    Msg.LINE_DISCOUNTED,
    Msg.SALE_DISCOUNTED,
    Msg.DISCOUNT_TOO_BIG,
    Msg.DISCOUNT_ZERO,
    Msg.TECHNICIAN_CANNOT_SELL,
}

CASES = [
    # --- PRICE
    ("PRICE asks a supervisor", ONE_COLA, "key 3 PRICE", Msg.SUPERVISOR_ID, []),
    ("PRICE approved asks the reason", ("signon", COLA, "key 3 PRICE"), "approve",
     Msg.PRICE_REASON, ["RecordEvent"]),
    ("PRICE by a supervisor asks the reason at once", ("supervisor", COLA), "key 3 PRICE",
     Msg.PRICE_REASON, ["RecordEvent"]),
    ("reason chosen: saved with its event", PRICE_ASKED, "key 2 ENTER", Msg.PRICE_CHANGED,
     ["SaveSale", "RecordEvent"]),
    ("YES picks the reason too", PRICE_ASKED, "key 1 YES", Msg.PRICE_CHANGED,
     ["SaveSale", "RecordEvent"]),
    ("no such reason", PRICE_ASKED, "key 7 ENTER", Msg.NO_SUCH_REASON, []),
    ("reason without a number", PRICE_ASKED, "key ENTER", Msg.NEEDS_ENTRY, []),
    ("DOT in a reason", PRICE_ASKED, "key DOT", Msg.KEY_NOT_ALLOWED, []),
    ("other key while choosing", PRICE_ASKED, "key CASH", Msg.KEY_NOT_ALLOWED, []),
    ("NO leaves the price", PRICE_ASKED, "key NO", Msg.PRICE_DROPPED, []),
    ("CLEAR leaves the price", PRICE_ASKED, "key CLEAR", Msg.PRICE_DROPPED, []),
    ("PRICE with no sale", ("signon",), "key 3 PRICE", Msg.NO_LINE, []),
    ("PRICE with every line voided", ("signon", COLA, "key VOID"), "key 3 PRICE", Msg.NO_LINE,
     []),
    ("PRICE without an entry", ONE_COLA, "key PRICE", Msg.NEEDS_ENTRY, []),
    ("PRICE zero", ONE_COLA, "key 0 PRICE", Msg.BAD_ENTRY, []),
    ("PRICE zero with decimals", ONE_COLA, "key 0 DOT 0 0 PRICE", Msg.BAD_ENTRY, []),
    ("PRICE three decimals", ONE_COLA, "key 1 DOT 0 0 5 PRICE", Msg.BAD_ENTRY, []),
    ("PRICE the same price", ONE_COLA, "key 3 DOT 5 PRICE", Msg.BAD_ENTRY, []),
    ("PRICE above the highest", ONE_COLA, "key 1 0 0 0 0 PRICE", Msg.PRICE_TOO_HIGH, []),
    ("PRICE once paid in part", PAID_PART, "key 3 PRICE", Msg.FINISH_PAYMENT, []),
    ("PRICE on a discounted line", LINE_OFF, "key 3 PRICE", Msg.LINE_DISCOUNTED, []),
    ("PRICE after a sale discount", SALE_OFF, "key 3 PRICE", Msg.SALE_DISCOUNTED, []),
    ("PRICE by a technician", ("key 7 0 0 1 SIGNON 7 7 7 7 ENTER",), "key 3 PRICE",
     Msg.TECHNICIAN_CANNOT_SELL, []),
    ("PRICE signed off", (), "key 3 PRICE", Msg.SIGN_ON_FIRST, []),
    # --- DISC
    ("DISC within the cashier's limit", ONE_COLA, "key 1 0 DISC", Msg.DISCOUNT_GIVEN,
     ["SaveSale", "RecordEvent"]),
    ("DISC above it asks a supervisor", ONE_COLA, "key 2 0 DISC", Msg.SUPERVISOR_ID, []),
    ("DISC approved", ("signon", COLA, "key 2 0 DISC"), "approve", Msg.DISCOUNT_GIVEN,
     ["RecordEvent", "SaveSale", "RecordEvent"]),
    ("DISC by a supervisor alone", ("supervisor", COLA), "key 3 0 DISC", Msg.DISCOUNT_GIVEN,
     ["RecordEvent", "SaveSale", "RecordEvent"]),
    ("DISC with a decimal", ONE_COLA, "key 2 DOT 5 DISC", Msg.DISCOUNT_GIVEN,
     ["SaveSale", "RecordEvent"]),
    ("DISC on the sale", ("signon", COLA, BREAD, "key SUBTOTAL 5"), "key DISC",
     Msg.DISCOUNT_GIVEN, ["SaveSale", "RecordEvent"]),
    ("DISC above the supervisor's limit", ONE_COLA, "key 6 0 DISC", Msg.DISCOUNT_TOO_BIG, []),
    ("DISC zero", ONE_COLA, "key 0 DISC", Msg.BAD_ENTRY, []),
    ("DISC 100", ONE_COLA, "key 1 0 0 DISC", Msg.BAD_ENTRY, []),
    ("DISC two decimals", ONE_COLA, "key 1 DOT 2 5 DISC", Msg.BAD_ENTRY, []),
    ("DISC below one", ONE_COLA, "key 0 DOT 5 DISC", Msg.BAD_ENTRY, []),
    ("DISC without an entry", ONE_COLA, "key DISC", Msg.NEEDS_ENTRY, []),
    ("DISC with no sale", ("signon",), "key 5 DISC", Msg.NO_LINE, []),
    ("DISC once paid in part", PAID_PART, "key 5 DISC", Msg.FINISH_PAYMENT, []),
    ("DISC twice on a line", LINE_OFF, "key 5 DISC", Msg.LINE_DISCOUNTED, []),
    ("DISC after a sale discount", SALE_OFF, "key 5 DISC", Msg.SALE_DISCOUNTED, []),
    ("DISC on the sale twice", SALE_OFF, "key SUBTOTAL 5 DISC", Msg.SALE_DISCOUNTED, []),
    ("DISC of nothing", ("signon", CHEAP_COLA), "key 1 DISC", Msg.DISCOUNT_ZERO, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    check_path(Till().do(*before), step, message, effects, REFUSALS)


def event(till: Till, type_: str) -> dict[str, str]:
    found = [e.event for e in till.effects if isinstance(e, RecordEvent)]
    return dict(next(e for e in found if e.type == type_).details)


def test_a_price_override_changes_the_line_and_records_who_why_and_what() -> None:
    till = Till().do("signon", COLA, "key 2 QTY", BREAD, "key 7 DOT 5 PRICE", "approve")
    assert till.state.mode is Mode.PRICE_REASON
    assert [c.render("en") for c in till.state.message.choices] == [  # type: ignore[union-attr]
        "1 破损 damaged",
        "2 临期 near expiry",
        "3 价签错误 wrong label",
    ]
    till.do("key 1 ENTER")
    bread = till.state.sale.lines[-1]  # type: ignore[union-attr]
    assert (bread.qty, bread.unit_price, bread.amount) == (2000, 750, 1500)
    assert bread.override == PriceOverride(1000, 750, "破损 damaged", "9001")
    assert till.state.sale.lines[0].override is None  # type: ignore[union-attr]
    assert SaveSale(till.state.sale) in till.effects  # type: ignore[arg-type]
    details = event(till, "price_override")
    assert details == {
        "line": "2", "sku": "300001", "from": "1000", "to": "750", "amount_from": "2000",
        "amount_to": "1500", "reason": "破损 damaged", "supervisor": "9001",
    }  # fmt: skip
    assert till.state.mode is Mode.READY and till.state.repricing is None


def test_a_counted_line_of_several_pieces_takes_qty_times_the_new_price() -> None:
    till = Till().do("supervisor", "key 3 QTY", COLA, "key 2 DOT 9 9 PRICE", "key 3 ENTER")
    line = till.state.sale.lines[0]  # type: ignore[union-attr]
    assert (line.unit_price, line.amount) == (299, 897)


def test_a_weighed_line_takes_its_weight_times_the_new_price_half_up() -> None:
    till = Till().do("supervisor", "scale 0.532", "key 1 PLU")
    apple = till.state.sale.lines[0]  # type: ignore[union-attr]
    assert (apple.qty, apple.amount) == (532, 681)  # 0.532 × 12.80 = 6.8096
    till.do("key 9 DOT 9 5 PRICE", "key 2 ENTER")
    apple = till.state.sale.lines[0]  # type: ignore[union-attr]
    assert (apple.unit_price, apple.amount) == (995, 529)  # 0.532 × 9.95 = 5.2934
    assert apple.weight_text == "00.532" and apple.override is not None


def test_a_wrong_reason_number_keeps_the_question() -> None:
    till = Till().do(*PRICE_ASKED, "key 9 ENTER")
    assert till.state.mode is Mode.PRICE_REASON and till.state.entry == ""
    till.do("key 2 ENTER")
    assert till.message is Msg.PRICE_CHANGED


def test_the_price_is_changed_on_the_last_live_line() -> None:
    till = Till().do("supervisor", COLA, BREAD, "key VOID", "key 3 PRICE", "key 1 ENTER")
    lines = till.state.sale.lines  # type: ignore[union-attr]
    assert lines[0].unit_price == 300 and lines[1].override is None and lines[1].voided


def test_a_line_discount_is_half_up_of_its_amount() -> None:
    till = Till().do("signon", COLA, "key 2 DOT 5 DISC")  # 2.5 % of 3.50 = 8.75 fen
    line = till.state.sale.lines[0]  # type: ignore[union-attr]
    assert line.discount == 9
    assert line.discounts == (ManualDiscount(Decimal("2.5"), 9, DiscountScope.LINE, ""),)
    assert event(till, "discount") == {
        "scope": "line", "percent": "2.5", "amount": "9", "line": "1", "lines": "1:9",
    }  # fmt: skip
    assert till.state.sale.total == 341  # type: ignore[union-attr]


def test_a_discount_above_the_cashiers_limit_names_its_supervisor() -> None:
    till = Till().do("signon", COLA, "key 2 0 DISC", "approve")
    assert till.state.sale.lines[0].discounts[0].by == "9001"  # type: ignore[union-attr]
    assert event(till, "discount")["supervisor"] == "9001"
    assert event(till, "approval")["action"] == "discount"


def test_the_limits_come_from_the_config() -> None:
    till = Till(setup=setup_with(cashier_discount_max=0, supervisor_discount_max=20))
    till.do("signon", COLA, "key 1 DISC")
    assert till.message is Msg.SUPERVISOR_ID
    till = Till(setup=setup_with(cashier_discount_max=0, supervisor_discount_max=20))
    till.do("supervisor", COLA, "key 2 1 DISC")
    assert till.message is Msg.DISCOUNT_TOO_BIG


def test_a_sale_discount_is_spread_and_taxes_stay_exact() -> None:
    # 3.50 at 13 % with 5 % off it (18 fen: 17.5 half up), then 10.00 at 9 %, then 10 %
    # off the sale: 3.32 + 10.00 = 13.32, 10 % = 133 fen, shared 33.2 : 100 (33 / 100).
    till = Till().do("signon", COLA, "key 5 DISC", BREAD, "key SUBTOTAL 1 0 DISC")
    sale = till.state.sale
    assert sale is not None
    cola, bread = sale.lines
    assert (cola.discount, bread.discount) == (18 + 33, 100)
    assert cola.discounts[-1] == ManualDiscount(Decimal("10"), 33, DiscountScope.SALE, "")
    assert sale.discount == 18 + 133 and sale.total == 1350 - 151
    assert event(till, "discount")["lines"] == "1:33,2:100"
    assert [(t.rate, t.gross) for t in taxes(sale.lines)] == [
        (Decimal("13"), 350 - 51),
        (Decimal("9"), 1000 - 100),
    ]


def test_a_sale_discount_needs_subtotal_right_before() -> None:
    till = Till().do("signon", COLA, BREAD, "key SUBTOTAL", COLA, "key 5 DISC")
    lines = till.state.sale.lines  # type: ignore[union-attr]
    assert [ln.discount for ln in lines] == [0, 0, 18]  # the last line only


def test_voided_lines_take_no_share_of_a_sale_discount() -> None:
    till = Till().do("signon", COLA, BREAD, "key 1 VOID", "approve", "key SUBTOTAL 1 0 DISC")
    cola, bread = till.state.sale.lines  # type: ignore[union-attr]
    assert cola.voided and cola.discount == 0 and bread.discount == 100


def test_the_sale_message_and_receipt_carry_override_and_discounts() -> None:
    till = Till().do(*PRICE_ASKED, "key 1 ENTER", BREAD, "key SUBTOTAL 5 DISC", "key CASH")
    commit = next(e for e in till.effects if isinstance(e, CommitSale))
    cola, bread = commit.record.lines
    assert cola.override == PriceOverride(350, 300, "破损 damaged", "9001")
    assert (cola.discount, bread.discount) == (15, 50)  # 5 % of 13.00 = 65: 15 + 50
    printed = next(e for e in till.effects if isinstance(e, PrintReceipt)).receipt
    assert printed.lines[0].notes == (
        ("原价 Was 3.50 破损 damaged", ""),
        ("整单折扣 Sale discount 5%", "-0.15"),
    )
    assert printed.lines[1].notes == (("整单折扣 Sale discount 5%", "-0.50"),)


def test_the_screen_shows_them_under_their_line() -> None:
    till = Till().do(*PRICE_ASKED, "key 1 ENTER", "key 5 DISC")
    view = screen_view(till.state, till.setup, ScreenSetup(language="en"), till.now)
    subs = [(s.text, s.amount) for s in view.lines[0].subs]
    assert subs == [("Was 3.50 破损 damaged", ""), ("Discount 5%", "-0.15")]
    zh = screen_view(till.state, till.setup, ScreenSetup(language="zh"), till.now)
    assert [s.text for s in zh.lines[0].subs] == ["原价 3.50 破损 damaged", "折扣 5%"]


def test_a_resumed_sale_keeps_overridden_and_discounted_prices() -> None:
    """The catalog price changed while the sale was parked: a line whose price a
    supervisor set, or that carries a discount worked out on its amount, keeps both (a
    new price under an old discount could take the line below zero)."""
    till = Till().do("supervisor", COLA, "key 3 PRICE", "key 1 ENTER", BREAD, "key 5 0 DISC")
    till.do("key SUSPEND")
    catalog = till.ports.catalog
    catalog.codes["06954767410388"] = replace(catalog.codes["06954767410388"], price=380)  # type: ignore[attr-defined]
    catalog.codes["00000096385074"] = replace(catalog.codes["00000096385074"], price=100)  # type: ignore[attr-defined]
    before = till.state.parked[0].sale.lines
    till.do("key 1 RESUME")
    assert till.message is Msg.SALE_RESUMED
    assert till.state.sale is not None and till.state.sale.lines == before


@pytest.mark.parametrize(
    ("sale", "error"),
    [
        ({"cashier_discount_max": 20, "supervisor_discount_max": 10}, "cashier_discount_max"),
        ({"supervisor_discount_max": 100}, "supervisor_discount_max"),
        ({"cashier_discount_max": -1}, "cashier_discount_max"),
        ({"max_override_price": "0"}, "max_override_price"),
        ({"max_override_price": "1.005"}, "max_override_price"),
        ({"price_reasons": []}, "price_reasons"),
        ({"price_reasons": [""]}, r"price_reasons\[0\]"),
    ],
)
def test_the_config_refuses_limits_that_make_no_sense(sale: dict[str, object], error: str) -> None:
    from firmware_app import config
    from firmware_app.errors import ConfigError

    with pytest.raises(ConfigError, match=f"sale.{error}"):
        config.parse({"lane": {"store": "S1", "lane": "1"}, "sale": sale})


def test_the_config_sets_reasons_price_limit_and_discount_limits() -> None:
    from firmware_app import config
    from firmware_app.app.bootstrap import lane_setup

    sale = {
        "price_reasons": ["damaged"],
        "max_override_price": "500",
        "cashier_discount_max": 0,
        "supervisor_discount_max": 99,
    }
    rules = lane_setup(config.parse({"lane": {"store": "S1", "lane": "1"}, "sale": sale})).rules
    assert rules.price_reasons == ("damaged",) and rules.max_override_price == 50000
    assert (rules.cashier_discount_max, rules.supervisor_discount_max) == (0, 99)


def test_an_override_the_config_lets_a_cashier_do_alone_is_by_that_cashier() -> None:
    """The contract's ``by`` is never empty: with no approver, it is who changed it."""
    from firmware_app.lane.rules import ApprovalRules
    from firmware_app.lane.state import Action

    alone = ApprovalRules(without_supervisor=frozenset({Action.PRICE_OVERRIDE}))
    till = Till(setup=setup_with(approvals=alone)).do(*ONE_COLA, "key 3 PRICE")
    assert till.message is Msg.PRICE_REASON
    till.do("key 1 ENTER")
    line = till.state.sale.lines[0]  # type: ignore[union-attr]
    assert line.override == PriceOverride(350, 300, "破损 damaged", "1001")
    assert "supervisor" not in event(till, "price_override")
