"""Returns (退货) in the core: every path and refusal as a table, then the committed
return, a mixed basket, and the exact refund of a line returned in parts."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_app.lane.catalog import Unit
from firmware_app.lane.effects import CommitSale, PrintReceipt, RecordEvent, RequestPayment
from firmware_app.lane.events import Scanned
from firmware_app.lane.messages import Msg
from firmware_app.lane.return_source import NotReturnable
from firmware_app.lane.returns import share
from firmware_app.lane.sale import FinishedSale, Line, ReturnRef, SaleKind, Tender, TenderType
from firmware_app.lane.state import Mode
from tests.unit.till import T0, Till, setup_with

COLA_SCAN = "scan 6954767410388"
BREAD_SCAN = "scan 96385074"
# Receipt 1: line 1 three colas (3.50 each), line 2 0.532 kg of apples, line 3 a bread.
SOLD = ("signon", "key 3 QTY", COLA_SCAN, "scale 0.532", "key 1 PLU", BREAD_SCAN, "key CASH")
PICKING = (*SOLD, "key 1 RETURN")
COLA_BACK = (*PICKING, "key 1 ENTER", "key SUBTOTAL")
RETURNED = (*COLA_BACK, "key CASH")  # receipt 2: the three colas back
PRUNED_NO, TRAINING_NO = 50, 60

REFUND = ["CommitSale", "RecordEvent", "KickDrawer", "PrintReceipt"]

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    # --- RETURN: finding the sale
    ("list a receipt's lines", SOLD, "key 1 RETURN", Msg.CHOOSE_RETURN, []),
    ("scan this lane's receipt", SOLD, "scan S001-07-1", Msg.CHOOSE_RETURN, []),
    ("scan another lane's receipt", SOLD, "scan S001-03-1", Msg.RETURN_OTHER_LANE, []),
    ("an unknown receipt", SOLD, "key 9 9 RETURN", Msg.RETURN_NOT_FOUND, []),
    ("a receipt older than kept", SOLD, "key 5 0 RETURN", Msg.RETURN_TOO_OLD, []),
    ("a training receipt", SOLD, "key 6 0 RETURN", Msg.RETURN_TRAINING, []),
    ("a return of a return", RETURNED, "key 2 RETURN", Msg.RETURN_OF_RETURN, []),
    ("a decimal receipt number", SOLD, "key 1 DOT 5 RETURN", Msg.BAD_ENTRY, []),
    # --- RETURN alone: without a receipt, a supervisor first
    ("RETURN alone asks a supervisor", SOLD, "key RETURN", Msg.SUPERVISOR_ID, []),
    (
        "approved: the next item comes back",
        (*SOLD, "key RETURN"),
        "approve",
        Msg.RETURN_SCAN_ITEM,
        ["RecordEvent"],
    ),
    (
        "the item scanned comes back",
        (*SOLD, "key RETURN", "approve"),
        COLA_SCAN,
        Msg.RETURN_ADDED,
        ["SaveSale"],
    ),
    (
        "the item keyed comes back",
        (*SOLD, "key RETURN", "approve"),
        "key 3 0 0 1 PLU",
        Msg.RETURN_ADDED,
        ["SaveSale"],
    ),
    (
        "refunded in cash",
        (*SOLD, "key RETURN", "approve", COLA_SCAN),
        "key CASH",
        Msg.REFUND,
        REFUND,
    ),
    (
        "RETURN on a part-paid sale",
        (*SOLD, BREAD_SCAN, "key 1 CASH"),
        "key 1 RETURN",
        Msg.FINISH_PAYMENT,
        [],
    ),
    ("RETURN while signed off", (), "key 1 RETURN", Msg.SIGN_ON_FIRST, []),
    (
        "RETURN by a technician",
        (*SOLD, "key SIGNOFF", "key 7 0 0 1 SIGNON 7 7 7 7 ENTER"),
        "key 1 RETURN",
        Msg.TECHNICIAN_CANNOT_SELL,
        [],
    ),
    # --- picking lines
    ("all that is left of a line", PICKING, "key 1 ENTER", Msg.RETURN_ADDED, ["SaveSale"]),
    ("n pieces of a line", (*PICKING, "key 2 QTY"), "key 1 ENTER", Msg.RETURN_ADDED, ["SaveSale"]),
    ("more pieces than are left", (*PICKING, "key 4 QTY"), "key 1 ENTER", Msg.RETURN_TOO_MANY, []),
    ("a weighed line whole", PICKING, "key 2 ENTER", Msg.RETURN_ADDED, ["SaveSale"]),
    ("a weighed line by pieces", (*PICKING, "key 1 QTY"), "key 2 ENTER", Msg.RETURN_WHOLE_LINE, []),
    ("a line the sale has not", PICKING, "key 9 ENTER", Msg.NO_SUCH_LINE, []),
    (
        "a line already in the basket",
        (*PICKING, "key 1 ENTER"),
        "key 1 ENTER",
        Msg.RETURN_NOTHING_LEFT,
        [],
    ),
    (
        "a line returned before",
        (*RETURNED, "key 1 RETURN"),
        "key 1 ENTER",
        Msg.RETURN_NOTHING_LEFT,
        [],
    ),
    ("ENTER with no line", PICKING, "key ENTER", Msg.NEEDS_ENTRY, []),
    ("a key the list does not take", PICKING, "key VOID", Msg.KEY_NOT_ALLOWED, []),
    ("SUBTOTAL ends the picking", (*PICKING, "key 1 ENTER"), "key SUBTOTAL", Msg.SUBTOTAL, []),
    # --- the refund
    ("CASH pays out the refund", COLA_BACK, "key CASH", Msg.REFUND, REFUND),
    ("a keyed amount on a refund", COLA_BACK, "key 5 CASH", Msg.KEY_NOT_ALLOWED, []),
    (
        "CARD refunds on the terminal",
        COLA_BACK,
        "key CARD",
        Msg.REFUNDING,
        ["LogPayment", "RequestPayment"],
    ),
    (
        "MOBILE refunds on the terminal",
        COLA_BACK,
        "key MOBILE",
        Msg.REFUNDING,
        ["LogPayment", "RequestPayment"],
    ),
    ("a keyed amount on a card refund", COLA_BACK, "key 5 CARD", Msg.KEY_NOT_ALLOWED, []),
    (
        "the terminal approves the refund",
        (*COLA_BACK, "key CARD"),
        "terminal approve",
        Msg.REFUND,
        ["LogPayment", "CommitSale", "RecordEvent", "PrintReceipt"],
    ),
    (
        "the terminal declines the refund",
        (*COLA_BACK, "key CARD"),
        "terminal decline",
        Msg.DECLINED,
        ["LogPayment"],
    ),
    (
        "cash after a declined card refund",
        (*COLA_BACK, "key CARD", "terminal decline"),
        "key CASH",
        Msg.REFUND,
        REFUND,
    ),
]


def till() -> Till:
    t = Till()
    t.returns.gone = {PRUNED_NO: NotReturnable.PRUNED, TRAINING_NO: NotReturnable.TRAINING}
    return t


@pytest.mark.parametrize(
    ("name", "before", "step", "message", "effects"), CASES, ids=[c[0] for c in CASES]
)
def test_return_paths(
    name: str, before: tuple[str, ...], step: str, message: Msg, effects: list[str]
) -> None:
    t = till().do(*before)
    t.do(step)
    assert t.message == message
    assert t.effect_types() == effects


def test_a_refusal_changes_nothing_but_the_message() -> None:
    t = till().do(*PICKING, "key 4 QTY", "key 1")
    before = t.state
    t.do("key ENTER")
    assert replace(t.state, message=before.message) == before


def test_the_list_shows_what_is_left() -> None:
    t = till().do(*SOLD, "key 1 RETURN", "key 2 QTY", "key 1 ENTER", "key SUBTOTAL", "key CASH")
    t.do("key 1 RETURN")
    assert t.state.mode is Mode.CHOOSE_RETURN
    text = t.state.message.render() if t.state.message else ""
    assert "1 可口可乐 330ml 1 of 3 left" in text
    assert "2 富士苹果 0.532kg of 0.532kg left" in text


def test_a_return_commits_negative_lines_a_negative_cash_tender_and_positive_stock() -> None:
    t = till().do(*PICKING, "key 2 QTY", "key 1 ENTER", "key 2 ENTER", "key SUBTOTAL", "key CASH")
    commit = next(e for e in t.effects if isinstance(e, CommitSale))
    record = commit.record
    assert record.kind is SaleKind.RETURN
    cola, apple = record.lines
    assert (cola.qty, cola.amount, cola.return_of) == (-2000, -700, ReturnRef("07", 1, 1))
    assert (apple.qty, apple.amount, apple.return_of) == (-532, -681, ReturnRef("07", 1, 2))
    assert record.tenders == (Tender(TenderType.CASH, -1381),)
    assert record.total == -1381 and record.change == 0
    assert [(str(tx.rate), tx.gross, tx.tax) for tx in record.taxes] == [
        ("13", -700, -81),
        ("9", -681, -56),
    ]
    assert [(d.sku, d.qty) for d in record.deltas] == [("100234", 2000), ("200001", 532)]
    event = next(e for e in t.effects if isinstance(e, RecordEvent)).event
    assert event.type == "return"
    assert dict(event.details) == {
        "receipt": "2",
        "kind": "return",
        "lines": "2",
        "amount": "1381",
        "of": "1",
    }
    assert t.state.next_receipt_no == 3


def test_a_card_refund_is_a_negative_card_tender_and_opens_no_drawer() -> None:
    t = till().do(*COLA_BACK, "key CARD")
    request = next(e for e in t.effects if isinstance(e, RequestPayment))
    assert (request.tender, request.amount) == (TenderType.CARD, -1050)
    t.do("terminal approve")
    record = next(e for e in t.effects if isinstance(e, CommitSale)).record
    assert record.kind is SaleKind.RETURN
    assert record.tenders == (Tender(TenderType.CARD, -1050, "REF1", request.request_id),)
    assert "KickDrawer" not in t.effect_types()


def test_a_mixed_basket_nets_to_one_sale() -> None:
    """Return the bread (10.00), buy a cola (3.50): one sale, 6.50 paid out."""
    t = till().do(*PICKING, "key 3 ENTER", "key SUBTOTAL", COLA_SCAN, "key CASH")
    record = next(e for e in t.effects if isinstance(e, CommitSale)).record
    assert record.kind is SaleKind.SALE
    assert [line.qty for line in record.lines] == [-1000, 1000]
    assert record.tenders == (Tender(TenderType.CASH, -650),)
    assert [(d.sku, d.qty) for d in record.deltas] == [("300001", 1000), ("100234", -1000)]
    assert t.message == Msg.REFUND


def test_a_mixed_basket_that_costs_more_is_paid_as_usual() -> None:
    t = till().do(*PICKING, "key 1 QTY", "key 1 ENTER", "key SUBTOTAL", BREAD_SCAN, "key CASH")
    record = next(e for e in t.effects if isinstance(e, CommitSale)).record
    assert record.kind is SaleKind.SALE
    assert record.tenders == (Tender(TenderType.CASH, 650),)


def test_a_voided_return_line_can_be_picked_again() -> None:
    t = till().do(*PICKING, "key 1 ENTER", "key SUBTOTAL", "key VOID", "key 1 RETURN")
    t.do("key 1 ENTER")
    assert t.message == Msg.RETURN_ADDED


def test_a_return_without_receipt_is_at_the_current_price_and_names_no_sale() -> None:
    t = till().do("signon", "key RETURN", "approve", "key 2 QTY", COLA_SCAN, "key CASH")
    record = next(e for e in t.effects if isinstance(e, CommitSale)).record
    assert record.kind is SaleKind.RETURN
    (line,) = record.lines
    assert (line.qty, line.amount, line.return_of) == (-2000, -700, None)
    assert record.tenders == (Tender(TenderType.CASH, -700),)
    assert not t.state.return_next
    t.do(COLA_SCAN)  # the next item sells again
    assert t.state.sale is not None and t.state.sale.lines[0].qty == 1000


def test_clear_drops_an_approved_return_without_receipt() -> None:
    t = till().do("signon", "key RETURN", "approve", "key CLEAR", COLA_SCAN)
    assert t.message == Msg.ITEM_ADDED
    assert t.state.sale is not None and t.state.sale.lines[0].qty == 1000


def test_a_supervisor_signed_on_returns_without_receipt_alone() -> None:
    t = till().do("supervisor", "key RETURN")
    assert t.message == Msg.RETURN_SCAN_ITEM


def test_the_limit_of_returns_without_receipt_is_configured() -> None:
    t = Till(setup=setup_with(return_limit=500)).do("signon", "key RETURN", "approve")
    t.do(BREAD_SCAN)
    assert t.message == Msg.RETURN_OVER_LIMIT
    assert t.state.return_next and t.state.sale is None
    t.do(COLA_SCAN)
    assert t.message == Msg.RETURN_ADDED


def test_a_parked_return_holds_what_it_gives_back() -> None:
    t = till().do(*PICKING, "key 2 QTY", "key 1 ENTER", "key SUBTOTAL", "key SUSPEND")
    assert t.message == Msg.SALE_PARKED
    t.do("key 1 RETURN", "key 2 QTY", "key 1 ENTER")
    assert t.message == Msg.RETURN_TOO_MANY
    t.do("key CLEAR", "key 1 ENTER")
    assert t.message == Msg.RETURN_ADDED
    assert t.state.sale is not None and t.state.sale.lines[0].qty == -1000


def test_a_cancelled_sale_is_not_found() -> None:
    t = till().do("signon", COLA_SCAN, "key CANCEL", "approve")
    assert t.state.last_sale is not None and t.state.last_sale.kind is SaleKind.CANCELLED
    t.do("key 1 RETURN")
    assert t.message == Msg.RETURN_NOT_FOUND


# --- the price paid, exactly, however a line is returned -------------------------------


@given(
    total=st.integers(0, 10**7),
    sold=st.integers(1, 10**6),
    cuts=st.lists(st.integers(0, 10**6), max_size=8),
)
def test_shares_of_a_line_add_up_to_its_total(total: int, sold: int, cuts: list[int]) -> None:
    points = sorted({0, sold, *(c % (sold + 1) for c in cuts)})
    parts = [share(total, sold, a, b - a) for a, b in itertools.pairwise(points)]
    assert sum(parts) == total
    assert all(part >= 0 for part in parts)


RATES = (Decimal("13"), Decimal("9"), Decimal("6"), Decimal("0"))


@st.composite
def sold_lines(draw: st.DrawFn) -> tuple[Line, ...]:
    """Counted lines with mixed tax rates and discounts set directly on the line."""
    lines = []
    for no in range(1, draw(st.integers(1, 4)) + 1):
        pieces = draw(st.integers(1, 12))
        price = draw(st.integers(1, 20000))
        amount = pieces * price
        discount = draw(st.integers(0, amount))
        rate = draw(st.sampled_from(RATES))
        line = Line(no, f"SKU{no}", "", f"item {no}", Unit.EACH, pieces * 1000, price, amount, rate)
        lines.append(replace(line, discount=discount))
    return tuple(lines)


@settings(max_examples=60, deadline=None)
@given(lines=sold_lines(), data=st.data())
def test_partial_returns_of_a_sale_refund_exactly_what_was_paid(
    lines: tuple[Line, ...], data: st.DataObject
) -> None:
    t = till().do("signon")
    paid = sum(line.amount - line.discount for line in lines)
    t.returns.sales[1] = FinishedSale(
        "s-1", 1, SaleKind.SALE, T0, T0, "1001", None, "CNY", lines,
        (Tender(TenderType.CASH, paid),), 0, 0,
    )  # fmt: skip
    t.state = replace(t.state, next_receipt_no=2)
    left = {line.no: line.qty // 1000 for line in lines}
    refunds: list[FinishedSale] = []
    while any(left.values()):
        t.do("key 1 RETURN")
        assert t.message == Msg.CHOOSE_RETURN
        picked = False
        for no, pieces in left.items():
            if not pieces:
                continue
            # Each round returns something: all of the first line left if nothing drawn.
            n = data.draw(st.integers(0, pieces)) or (0 if picked else pieces)
            if n:
                picked = True
                t.do(f"key {' '.join(str(n))} QTY", f"key {no} ENTER")
                assert t.message == Msg.RETURN_ADDED
                left[no] -= n
        t.do("key SUBTOTAL")
        if t.state.sale is None:
            continue
        t.do("key CASH")
        refunds.append(next(e for e in t.effects if isinstance(e, CommitSale)).record)
        t.now += timedelta(minutes=1)
    for line in lines:
        back = [
            ln for r in refunds for ln in r.lines if ln.return_of == ReturnRef("07", 1, line.no)
        ]
        assert -sum(ln.qty for ln in back) == line.qty
        assert -sum(ln.amount for ln in back) == line.amount
        assert -sum(ln.discount for ln in back) == line.discount
    assert -sum(r.total for r in refunds) == paid
    assert -sum(tender.amount for r in refunds for tender in r.tenders) == paid
    for rate in {line.tax_rate for line in lines}:
        gross = sum(line.amount - line.discount for line in lines if line.tax_rate == rate)
        back_gross = sum(tx.gross for r in refunds for tx in r.taxes if tx.rate == rate)
        assert -back_gross == gross


@pytest.mark.parametrize(
    ("value", "limit"), [(None, 20000), ("50.00", 5000), ("0", 0), ("-1", None), ("x", None)]
)
def test_return_limit_is_configured_in_sale(value: str | None, limit: int | None) -> None:
    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import lane_setup
    from firmware_app.errors import ConfigError

    sale = {} if value is None else {"return_limit": value}
    raw = {"lane": {"store": "S1", "lane": "1"}, "sale": sale}
    if limit is None:
        with pytest.raises(ConfigError, match="return_limit"):
            config_mod.parse(raw)
        return
    assert lane_setup(config_mod.parse(raw)).rules.return_limit == limit


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_screens_show_the_return_list(language: str) -> None:
    from firmware_app.lane.view import ScreenSetup, customer_view, screen_view

    t = till().do(*PICKING, "key 1 ENTER")
    screen = ScreenSetup(language=language)
    assert screen_view(t.state, t.setup, screen, t.now).prompt
    assert customer_view(t.state, t.setup, screen, t.now)


def test_the_receipt_of_a_return_says_so_and_shows_what_came_back() -> None:
    t = till().do(*PICKING, "key 2 ENTER", "key SUBTOTAL", "key CASH")
    receipt = next(e for e in t.effects if isinstance(e, PrintReceipt)).receipt
    assert receipt.banner == "退货 RETURN"
    assert receipt.lines[0].detail == "-0.532 kg × 12.80/kg"
    assert receipt.lines[0].amount == "-6.81"
    assert receipt.code == "S001-07-2"


def test_goods_coming_back_without_receipt_are_never_asked_an_age_or_refused_by_hours() -> None:
    from tests.unit.till import BEER

    till = Till().do("supervisor", "key RETURN")
    assert till.state.return_next
    till.send(Scanned("6901035603423"))
    assert till.state.mode is not Mode.AGE_CHECK
    sale = till.state.sale
    assert sale is not None and sale.lines[-1].sku == BEER.sku and sale.lines[-1].qty < 0
