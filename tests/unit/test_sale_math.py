"""Amounts, taxes, rounding, split tender and stock deltas of whole sales through the core."""

from __future__ import annotations

from decimal import Decimal

from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import (
    CommitSale,
    KickDrawer,
    LogPayment,
    PrintReceipt,
    RequestPayment,
)
from firmware_app.lane.money import MILLI
from firmware_app.lane.rules import CashRounding
from firmware_app.lane.sale import SaleKind, StockDelta, TenderType
from tests.unit.till import Till, setup_with


def committed(till: Till):
    commits = [e for e in till.all_effects if isinstance(e, CommitSale)]
    assert len(commits) == 1, till.all_effects
    return commits[0].record


def test_quantity_times_price_and_tax_per_rate() -> None:
    till = Till().do(
        "signon",
        "key 2 QTY",
        "scan 6954767410388",  # 2 × 3.50 at 13 %
        "scale 0.532",
        "key 1 PLU",  # 0.532 kg × 12.80 = 6.8096 -> 6.81 at 9 %
        "scan ]E496385074",  # bread 10.00 at 9 %
        "key 3 0 CASH",
    )
    record = committed(till)
    amounts = [(ln.sku, ln.qty, ln.amount) for ln in record.lines]
    assert amounts == [("100234", 2000, 700), ("200001", 532, 681), ("300001", 1000, 1000)]
    assert record.gross == 2381 and record.total == 2381
    # 13 %: 700 × 13 / 113 = 80.53 -> 81; 9 %: 1681 × 9 / 109 = 138.80 -> 139
    assert [(t.rate, t.gross, t.tax) for t in record.taxes] == [
        (Decimal("13"), 700, 81),
        (Decimal("9"), 1681, 139),
    ]
    assert record.tax == 220
    assert (record.tenders[0].amount, record.change) == (3000, 619)


def test_change_is_tendered_minus_total() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 1 0 0 CASH")
    record = committed(till)
    assert record.total == 350 and record.change == 9650
    assert [type(e).__name__ for e in till.effects] == ["CommitSale", "KickDrawer", "PrintReceipt"]


def test_cash_decimal_entry() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 9 DOT 5 CASH")
    assert committed(till).change == 600


def test_price_label_sells_at_label_price_with_weight_for_stock() -> None:
    till = Till().do("signon", "scan 2000001005002", "key CASH")
    line = committed(till).lines[0]
    # 5.00 at 12.80/kg = 0.390625 kg -> 391 g for stock
    assert (line.amount, line.qty, line.unit) == (500, 391, Unit.KG)
    assert committed(till).deltas == (StockDelta("200001", -391, Unit.KG),)


def test_weight_label_sells_weight_times_price() -> None:
    till = Till().do("signon", "scan 2100001005320", "key CASH")
    line = committed(till).lines[0]
    assert (line.amount, line.qty) == (681, 532)


def test_gs1_databar_weight() -> None:
    till = Till()
    till.ports.catalog.codes["09501101530003"] = till.ports.catalog.by_plu(1)
    till.do("signon", "scan ]C10109501101530003310300053239220125", "key CASH")
    line = committed(till).lines[0]
    assert (line.qty, line.amount) == (532, 125)  # the code's own price wins


def test_voided_lines_stay_but_count_nowhere() -> None:
    till = Till().do(
        "signon",
        "scan 6954767410388",
        "scan 6954767410388",
        "key VOID",
        "scan ]E496385074",
        "key CASH",
    )
    record = committed(till)
    assert [ln.voided for ln in record.lines] == [False, True, False]
    assert record.total == 1350
    assert record.deltas == (
        StockDelta("100234", -MILLI, Unit.EACH),
        StockDelta("300001", -MILLI, Unit.EACH),
    )


def test_same_sku_twice_is_one_delta() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 3 QTY", "scan 6954767410388", "key CASH")
    assert committed(till).deltas == (StockDelta("100234", -4 * MILLI, Unit.EACH),)


def test_split_tender_cash_then_card() -> None:
    till = Till().do("signon", "key 3 QTY", "scan 6954767410388", "key 5 CASH")
    assert till.state.sale is not None and till.state.sale.due == 550
    till.do("key CARD")
    request = till.effects[-1]
    assert isinstance(request, RequestPayment) and request.amount == 550
    till.do("terminal approve")
    record = committed(till)
    assert [(t.type, t.amount) for t in record.tenders] == [
        (TenderType.CASH, 500),
        (TenderType.CARD, 550),
    ]
    assert record.tenders[1].reference == "REF1"
    assert record.change == 0
    # cash was tendered, so the drawer opens
    assert any(isinstance(e, KickDrawer) for e in till.effects)


def test_card_only_does_not_open_the_drawer() -> None:
    till = Till().do("signon", "scan 6954767410388", "key MOBILE", "terminal approve")
    assert [type(e) for e in till.effects] == [LogPayment, CommitSale, PrintReceipt]
    assert committed(till).tenders[0].type is TenderType.MOBILE


def test_card_part_amount_then_cash() -> None:
    till = Till().do("signon", "key 3 QTY", "scan 6954767410388", "key 5 CARD", "terminal approve")
    assert till.state.sale is not None and till.state.sale.due == 550
    till.do("key CASH")
    assert committed(till).change == 0


def test_cash_rounding_half_up_to_jiao() -> None:
    till = Till(setup=setup_with(cash_rounding=CashRounding(10, "half-up")))
    till.do("signon", "scale 0.532", "key 1 PLU", "key CASH")  # 6.81 -> 6.80
    record = committed(till)
    assert (record.gross, record.rounding, record.total, record.change) == (681, -1, 680, 0)
    assert record.tax == 56  # taxes are over the lines, before rounding: 681 × 9 / 109


def test_cash_rounding_down() -> None:
    till = Till(setup=setup_with(cash_rounding=CashRounding(10, "down")))
    till.do("signon", "key 2 QTY", "scan 6954767410388", "scale 0.532", "key 1 PLU", "key 2 0 CASH")
    record = committed(till)
    assert (record.gross, record.rounding, record.total, record.change) == (1381, -1, 1380, 620)


def test_no_rounding_for_card() -> None:
    till = Till(setup=setup_with(cash_rounding=CashRounding(10, "half-up")))
    till.do("signon", "scale 0.532", "key 1 PLU", "key CARD", "terminal approve")
    assert committed(till).rounding == 0


def test_cancelled_sale_voids_everything_and_moves_no_stock() -> None:
    till = Till().do("signon", "scan 6954767410388", "key CANCEL 9 0 0 1 ENTER 9 9 9 9 ENTER")
    record = committed(till)
    assert record.kind is SaleKind.CANCELLED
    assert all(ln.voided for ln in record.lines)
    assert (record.total, record.deltas, record.taxes) == (0, (), ())
    assert till.state.sale is None


def test_receipt_numbers_count_up() -> None:
    till = Till().do("signon", "scan 6954767410388", "key CASH", "scan 6954767410388", "key CASH")
    numbers = [e.record.receipt_no for e in till.all_effects if isinstance(e, CommitSale)]
    assert numbers == [1, 2]


def test_receipt_says_what_was_sold() -> None:
    till = Till().do(
        "signon",
        "key 2 QTY",
        "scan 6954767410388",
        "scale 0.532",
        "key 1 PLU",
        "scan ]E496385074",
        "key VOID",
        "key 2 0 CASH",
    )
    receipt = next(e.receipt for e in till.effects if isinstance(e, PrintReceipt))
    assert receipt.header == ("测试超市",)
    assert [(ln.name, ln.detail, ln.amount, ln.voided) for ln in receipt.lines] == [
        ("可口可乐 330ml", "2 × 3.50", "7.00", False),
        ("富士苹果", "0.532 kg × 12.80/kg", "6.81", False),
        ("Bread", "1 × 10.00", "10.00", True),
    ]
    assert receipt.totals == (("合计 TOTAL", "13.81"),)
    assert receipt.taxes == (
        ("含税 incl. tax 13%  7.00", "0.81"),
        ("含税 incl. tax 9%  6.81", "0.56"),
    )
    assert receipt.tenders == (("现金 Cash", "20.00"), ("找零 Change", "6.19"))
    assert receipt.info == (
        "小票号 Receipt: 1   收银台 Lane: S001-07",
        "收银员 Cashier: 1001",
        "2026-11-28 09:00:00",
    )
    assert receipt.void_mark == "作废 VOID"
