"""The open sale priced by the engine after every change of its basket: through the
core's ``handle``, as the cashier works (lane.basket_pricing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal

from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.effects import CommitSale, PrintReceipt, SaveSale
from firmware_app.lane.events import MemberAnswer
from firmware_app.lane.member_check import MemberStatus
from firmware_app.lane.pricing import PromoShare
from firmware_app.lane.promotions import Promotion, PromoType
from firmware_app.lane.sale import Sale
from firmware_app.sync.contract import sale_body
from tests.unit.till import CST, T0, FakeCatalog, Till

COLA_CODE = "6954767410388"  # 可口可乐 330ml, 3.50, 13 %
BREAD_CODE = "96385074"  # Bread, 10.00, 9 %
MILK = Item(
    "600001", "光明牛奶 Milk", Unit.EACH, 1200, Decimal("13"), department="dairy", member_price=990
)
MILK_CODE = "6901234567892"

THREE_COLAS = Promotion(
    "P1", "可乐 3件10元", PromoType.MULTI_BUY, items=frozenset({"100234"}), qty=3, price=1000
)
HAPPY_BREAD = Promotion(
    "P2",
    "面包 欢乐时光",
    PromoType.FIXED_PRICE,
    items=frozenset({"300001"}),
    price=600,
    hours=(time(17, 0), time(20, 0)),
)
DAIRY_10 = Promotion(
    "P3", "乳品 9折", PromoType.PERCENT_OFF, departments=frozenset({"dairy"}), percent=Decimal("10")
)


class PromoCatalog(FakeCatalog):
    def __init__(self, promotions: tuple[Promotion, ...]) -> None:
        super().__init__()
        self.codes["06901234567892"] = MILK
        self.items.append(MILK)
        self.promos = promotions

    def promotions(self) -> tuple[Promotion, ...]:
        return self.promos

    def loyalty(self) -> None:
        return None


def till_with(*promotions: Promotion, now: datetime = T0) -> Till:
    till = Till(now=now)
    till.ports = replace(till.ports, catalog=PromoCatalog(promotions))
    return till.do("signon")


def sale(till: Till) -> Sale:
    assert till.state.sale is not None
    return till.state.sale


def saved_sale(till: Till) -> Sale:
    """The sale the last step persisted."""
    saves = [e for e in till.effects if isinstance(e, SaveSale)]
    assert saves, till.effect_types()
    return saves[-1].sale


def test_the_third_cola_scanned_one_by_one_makes_the_group_and_each_line_gets_its_share() -> None:
    till = till_with(THREE_COLAS).do(f"scan {COLA_CODE}", f"scan {COLA_CODE}")
    assert sale(till).discount == 0
    till.do(f"scan {COLA_CODE}")
    # 3 × 3.50 = 10.50 for 10.00: 50 off, spread 350:350:350 -> 16.67 each, the 2 left
    # to the lower line numbers: 17, 17, 16.
    assert [ln.promotions for ln in sale(till).lines] == [
        (PromoShare("P1", "可乐 3件10元", 17),),
        (PromoShare("P1", "可乐 3件10元", 17),),
        (PromoShare("P1", "可乐 3件10元", 16),),
    ]
    assert [ln.discount for ln in sale(till).lines] == [17, 17, 16]
    assert sale(till).total == 1000
    assert saved_sale(till) == sale(till)  # what is persisted is what is shown


def test_voiding_a_line_of_the_group_takes_the_promotion_off_the_others() -> None:
    till = till_with(THREE_COLAS).do(*[f"scan {COLA_CODE}"] * 3, "key 3 VOID", "approve")
    assert all(not ln.promotions and ln.discount == 0 for ln in sale(till).live_lines)
    assert sale(till).total == 700
    assert saved_sale(till) == sale(till)


def test_the_same_goods_in_another_order_cost_the_same() -> None:
    a = till_with(THREE_COLAS, DAIRY_10).do(
        f"scan {COLA_CODE}", f"scan {MILK_CODE}", f"scan {COLA_CODE}", f"scan {COLA_CODE}"
    )
    b = till_with(THREE_COLAS, DAIRY_10).do(
        f"scan {MILK_CODE}", f"scan {COLA_CODE}", "key 2 QTY", f"scan {COLA_CODE}"
    )
    assert sale(a).total == sale(b).total == 1000 + 1080


def test_a_member_keyed_gets_the_member_price_and_a_refused_one_loses_it() -> None:
    till = till_with().do(f"scan {MILK_CODE}")
    assert sale(till).total == 1200
    till.do("key " + " ".join("6221234567891") + " MEMBER")
    line = sale(till).lines[0]
    assert (line.member_saving, line.discount, sale(till).total) == (210, 210, 990)
    assert saved_sale(till) == sale(till)
    check = sale(till).member_check
    assert check is not None
    till.send(MemberAnswer(check.request_id, "6221234567891", MemberStatus.BLOCKED))
    assert sale(till).member is None
    line = sale(till).lines[0]
    assert (line.member_saving, line.discount, sale(till).total) == (0, 0, 1200)
    assert saved_sale(till) == sale(till)


def test_a_line_discount_is_its_percent_of_what_the_promotions_left() -> None:
    till = till_with(DAIRY_10).do(f"scan {MILK_CODE}", "key 5 DISC")
    line = sale(till).lines[0]
    # 12.00 − 10 % = 10.80; 5 % of 10.80 = 0.54.
    assert [d.amount for d in line.discounts] == [54]
    assert line.discount == 120 + 54


def test_a_happy_hour_starting_before_payment_prices_the_basket_at_the_tick() -> None:
    before = datetime(2026, 11, 28, 16, 59, 59, tzinfo=CST)
    till = till_with(HAPPY_BREAD, now=before).do(f"scan {BREAD_CODE}")
    assert sale(till).total == 1000
    till.do("wait 1", "tick")
    assert till.now.time() == time(17, 0)
    assert sale(till).total == 600
    assert saved_sale(till) == sale(till)


def test_once_money_is_taken_the_clock_changes_no_price() -> None:
    before = datetime(2026, 11, 28, 19, 59, 0, tzinfo=CST)
    till = till_with(HAPPY_BREAD, now=before).do(f"scan {BREAD_CODE}", "key 1 CASH")
    assert sale(till).total == 600
    till.do("wait 120", "tick")
    assert sale(till).total == 600


def test_the_sale_message_and_the_receipt_carry_each_promotion() -> None:
    till = till_with(THREE_COLAS).do(*[f"scan {COLA_CODE}"] * 3, "key 1 0 CASH")
    record = next(e for e in till.effects if isinstance(e, CommitSale)).record
    body = sale_body(record, "S001", "07")
    assert [ln["promotions"] for ln in body["lines"]] == [
        [{"id": "P1", "discount": 17}],
        [{"id": "P1", "discount": 17}],
        [{"id": "P1", "discount": 16}],
    ]
    assert body["totals"]["discount"] == 50
    receipt = next(e for e in till.effects if isinstance(e, PrintReceipt)).receipt
    assert receipt.lines[0].notes == (("可乐 3件10元", "-0.17"),)
    assert ("共节省 You saved", "-0.50") in receipt.totals


def test_a_resumed_sale_is_priced_again() -> None:
    till = till_with(THREE_COLAS).do(*[f"scan {COLA_CODE}"] * 3, "key SUSPEND")
    assert till.state.sale is None
    till.do("key 1 RESUME")
    assert sale(till).total == 1000


def test_at_an_hours_edge_the_end_is_exclusive() -> None:
    at_end = datetime(2026, 11, 28, 20, 0, 0, tzinfo=CST)
    till = till_with(HAPPY_BREAD, now=at_end - timedelta(seconds=1)).do(f"scan {BREAD_CODE}")
    assert sale(till).total == 600
    till.do("wait 1", "tick")
    assert sale(till).total == 1000


SPEND_15 = Promotion(
    "P9", "满15减5", PromoType.THRESHOLD, items=frozenset({"100234", "300001"}), min=1500, off=500
)


def test_returns_in_parts_give_back_exactly_what_the_promotions_left_per_tax_rate() -> None:
    """Four colas (13 %: 3 for 10.00 and one at 3.50) and two breads (9 %), 满15减5 over
    both: returned in two visits, the refunds add up to what was paid, line by line and
    rate by rate, with each line's promotions given back as they were spread."""
    till = till_with(THREE_COLAS, SPEND_15).do(
        "key 4 QTY", f"scan {COLA_CODE}", "key 2 QTY", f"scan {BREAD_CODE}", "key CASH"
    )
    sold = next(e for e in till.effects if isinstance(e, CommitSale)).record
    assert {p.id for ln in sold.lines for p in ln.promotions} == {"P1", "P9"}
    assert sold.total == 1400 + 2000 - 50 - 500
    refunds = []
    for picks in (["key 1 QTY", "key 1 ENTER", "key 1 QTY", "key 2 ENTER"],
                  ["key 1 ENTER", "key 2 ENTER"]):  # fmt: skip
        till.do("key 1 RETURN", *picks, "key SUBTOTAL", "key CASH")
        refunds.append(next(e for e in till.effects if isinstance(e, CommitSale)).record)
    back = [ln for r in refunds for ln in r.lines]
    assert all(not ln.promotions for ln in back)  # a return line gives back an amount
    for line in sold.lines:
        mine = [ln for ln in back if ln.return_of is not None and ln.return_of.line == line.no]
        assert -sum(ln.qty for ln in mine) == line.qty
        assert -sum(ln.discount for ln in mine) == line.discount
    assert -sum(r.total for r in refunds) == sold.total
    for rate in {tx.rate for tx in sold.taxes}:
        paid = [(tx.gross, tx.tax) for tx in sold.taxes if tx.rate == rate]
        given = [(tx.gross, tx.tax) for r in refunds for tx in r.taxes if tx.rate == rate]
        assert -sum(g for g, _ in given) == sum(g for g, _ in paid)


def test_a_return_line_shows_the_discount_it_gives_back_and_no_promotion() -> None:
    till = till_with(THREE_COLAS).do("key 3 QTY", f"scan {COLA_CODE}", "key CASH")
    till.do("key 1 RETURN", "key 1 QTY", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    receipt = next(e for e in till.effects if isinstance(e, PrintReceipt)).receipt
    # One of three colas sold 3 for 10.00: 3.50 back less its third of 0.50, 0.17.
    assert receipt.lines[0].notes == (("原优惠 Discount paid", "0.17"),)
