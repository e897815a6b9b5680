"""Suspend and resume (挂单/取单) in the core: every path and every refusal as a table,
then the slip, the list, prices on resume, the limit, sign-off and a failed save."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.catalog import Item
from firmware_app.lane.effects import (
    ParkSale,
    PrintReceipt,
    RecordEvent,
    SaveSale,
    UnparkSale,
)
from firmware_app.lane.messages import Msg
from firmware_app.lane.parked import read_slip_code, slip_code
from firmware_app.lane.state import Mode
from firmware_app.lane.view import Phase, ScreenSetup, customer_view, screen_view
from tests.unit.till import APPLE, COLA, Till, setup_with

COLA_SCAN = "scan 6954767410388"
BREAD_SCAN = "scan 96385074"
SIGNED_ON = ("signon",)
ONE_COLA = ("signon", COLA_SCAN)
PARKED_1 = (*ONE_COLA, "key SUSPEND")  # parked as 1, basket empty
PARKED_2 = (*PARKED_1, BREAD_SCAN, "key SUSPEND")  # 1 and 2 parked
SLIP_1 = "scan SUSP-S001-07-1"

PARK = ["ParkSale", "RecordEvent", "PrintReceipt"]
RESUME = ["UnparkSale", "SaveSale", "RecordEvent"]

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    # --- SUSPEND
    ("park a sale", ONE_COLA, "key SUSPEND", Msg.SALE_PARKED, PARK),
    ("park with nothing open", SIGNED_ON, "key SUSPEND", Msg.NOTHING_TO_PARK, []),
    ("park with every line voided", (*ONE_COLA, "key VOID"), "key SUSPEND", Msg.NOTHING_TO_PARK,
     []),
    ("park a member alone", ("signon", "key 8 8 MEMBER"), "key SUSPEND", Msg.NOTHING_TO_PARK, []),
    ("park a part-paid sale", (*ONE_COLA, "key 1 CASH"), "key SUSPEND", Msg.PARK_PAID, []),
    ("park while signed off", (), "key SUSPEND", Msg.SIGN_ON_FIRST, []),
    ("park at the supervisor prompt", (*ONE_COLA, "key CANCEL"), "key SUSPEND",
     Msg.KEY_NOT_ALLOWED, []),
    # --- RESUME with a number
    ("resume by number", PARKED_1, "key 1 RESUME", Msg.SALE_RESUMED, RESUME),
    ("resume an unknown number", PARKED_1, "key 7 RESUME", Msg.NO_SUCH_PARKED, []),
    ("resume a decimal", PARKED_1, "key 1 DOT 5 RESUME", Msg.BAD_ENTRY, []),
    ("resume into a basket", (*PARKED_1, BREAD_SCAN), "key 1 RESUME", Msg.BASKET_NOT_EMPTY, []),
    ("resume into a part-paid sale", (*PARKED_1, BREAD_SCAN, "key 1 CASH"), "key 1 RESUME",
     Msg.BASKET_NOT_EMPTY, []),
    ("resume over an empty sale", (*PARKED_1, "key 8 8 MEMBER"), "key 1 RESUME", Msg.SALE_RESUMED,
     ["DiscardSale", *RESUME]),
    ("resume while signed off", (), "key 1 RESUME", Msg.SIGN_ON_FIRST, []),
    # --- RESUME by the slip
    ("scan the slip", PARKED_1, SLIP_1, Msg.SALE_RESUMED, RESUME),
    ("scan the slip with an AIM prefix", PARKED_1, "scan ]C0SUSP-S001-07-1", Msg.SALE_RESUMED,
     RESUME),
    ("scan a slip already resumed", (*PARKED_1, SLIP_1, "key 1 CASH"), SLIP_1, Msg.BASKET_NOT_EMPTY,
     []),
    ("scan an unknown slip", PARKED_1, "scan SUSP-S001-07-9", Msg.NO_SUCH_PARKED, []),
    ("scan another lane's slip", PARKED_1, "scan SUSP-S001-03-1", Msg.PARKED_ELSEWHERE, []),
    ("scan another store's slip", PARKED_1, "scan SUSP-S002-07-1", Msg.PARKED_ELSEWHERE, []),
    ("scan the slip into a basket", (*PARKED_1, BREAD_SCAN), SLIP_1, Msg.BASKET_NOT_EMPTY, []),
    ("scan the slip signed off", (), SLIP_1, Msg.SIGN_ON_FIRST, []),
    ("scan the slip at the terminal", (*PARKED_1, BREAD_SCAN, "key CARD"), SLIP_1,
     Msg.TERMINAL_BUSY, []),
    # --- RESUME alone: the list
    ("list the parked sales", PARKED_2, "key RESUME", Msg.CHOOSE_PARKED, []),
    ("list with nothing parked", SIGNED_ON, "key RESUME", Msg.NOTHING_PARKED, []),
    ("list with a basket", (*PARKED_1, BREAD_SCAN), "key RESUME", Msg.BASKET_NOT_EMPTY, []),
    ("pick from the list", (*PARKED_2, "key RESUME"), "key 2 ENTER", Msg.SALE_RESUMED, RESUME),
    ("pick with YES", (*PARKED_2, "key RESUME"), "key 1 YES", Msg.SALE_RESUMED, RESUME),
    ("pick a number not listed", (*PARKED_2, "key RESUME"), "key 5 ENTER", Msg.NO_SUCH_PARKED, []),
    ("ENTER without a number", (*PARKED_2, "key RESUME"), "key ENTER", Msg.NEEDS_ENTRY, []),
    ("DOT in the list", (*PARKED_2, "key RESUME"), "key DOT", Msg.KEY_NOT_ALLOWED, []),
    ("other key in the list", (*PARKED_2, "key RESUME"), "key CASH", Msg.KEY_NOT_ALLOWED, []),
    ("scan an item in the list", (*PARKED_2, "key RESUME"), COLA_SCAN, Msg.KEY_NOT_ALLOWED, []),
    ("scan the slip in the list", (*PARKED_2, "key RESUME"), SLIP_1, Msg.SALE_RESUMED, RESUME),
    # --- sign-off
    ("sign off while parked", PARKED_2, "key SIGNOFF", Msg.PARKED_SALES, []),
    ("sign off once all resumed and paid", (*PARKED_1, "key 1 RESUME", "key CASH"), "key SIGNOFF",
     Msg.SIGNED_OFF, ["SaveSession", "RecordEvent"]),
]  # fmt: skip

REFUSALS = frozenset(
    [
        Msg.NOTHING_TO_PARK, Msg.PARK_PAID, Msg.PARK_FULL, Msg.PARKED_SALES,
        Msg.BASKET_NOT_EMPTY, Msg.NO_SUCH_PARKED, Msg.PARKED_ELSEWHERE, Msg.NOTHING_PARKED,
        Msg.BAD_ENTRY, Msg.NEEDS_ENTRY, Msg.KEY_NOT_ALLOWED, Msg.SIGN_ON_FIRST,
        Msg.TERMINAL_BUSY,
    ]
)  # fmt: skip


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_suspend_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    till = Till().do(*before)
    verb, _, keys = step.partition(" ")
    if verb == "key" and " " in keys:
        keyed, _, last = keys.rpartition(" ")
        till.do(f"key {keyed}")
    previous = till.state
    till.do(step if not (verb == "key" and " " in keys) else f"key {last}")
    assert till.message == message, till.state.message
    assert till.effect_types() == effects
    if message in REFUSALS:
        # A refusal changes nothing but the message: the entry stays to be corrected.
        assert replace(till.state, message=None) == replace(previous, message=None)


def test_a_park_frees_the_lane_and_the_slip_carries_the_number_and_its_barcode() -> None:
    till = Till().do(*ONE_COLA, "key 2 QTY", BREAD_SCAN, "key SUSPEND")
    state = till.state
    assert (state.sale, state.mode, state.next_park_no) == (None, Mode.READY, 2)
    [parked] = state.parked
    assert parked.no == 1 and parked.cashier == "1001" and parked.parked_at == till.now
    assert [line.name for line in parked.sale.lines] == ["可口可乐 330ml", "Bread"]
    park, event, printed = till.effects
    assert isinstance(park, ParkSale) and park.parked == parked
    assert isinstance(event, RecordEvent)
    assert event.event.type == "suspend" and event.event.sale_id == parked.sale.id
    assert dict(event.event.details) == {"no": "1", "lines": "2", "total": "2350"}
    assert isinstance(printed, PrintReceipt)
    slip = printed.receipt
    assert slip.code == "SUSP-S001-07-1" == slip_code("S001", "07", 1)
    assert slip.banner == "挂单 SUSPENDED 1"
    assert ("挂单号 Suspend no.", "1") in slip.totals
    assert ("合计 TOTAL", "23.50") in slip.totals
    # The next customer starts a new sale, with a new id.
    till.do(COLA_SCAN)
    assert till.state.sale is not None and till.state.sale.id != parked.sale.id


def test_resume_brings_the_same_sale_back_and_it_is_paid_as_any_other() -> None:
    till = Till().do(*PARKED_1)
    parked = till.state.parked[0]
    till.do("key 1 RESUME")
    sale = till.state.sale
    assert sale is not None and sale.id == parked.sale.id and sale.lines == parked.sale.lines
    assert till.state.parked == ()
    unpark, save, event = till.effects
    assert unpark == UnparkSale(1, sale.id)
    assert isinstance(save, SaveSale) and save.sale == sale
    assert isinstance(event, RecordEvent) and event.event.type == "resume"
    assert event.event.sale_id == sale.id
    assert dict(event.event.details)["no"] == "1"
    assert dict(event.event.details)["parked_by"] == "1001"
    till.do("key CASH")
    assert till.message == Msg.CHANGE
    assert till.state.sale is None and till.state.next_receipt_no == 2


def test_the_resuming_cashier_finishes_the_sale() -> None:
    till = Till().do(*PARKED_1, "key SIGNOFF")
    assert till.message == Msg.PARKED_SALES  # the parker cannot leave…
    assert till.state.message is not None and till.state.message.arg("nos") == "1"
    till.state = replace(till.state, mode=Mode.SIGNED_OFF, cashier=None)  # …a restart could
    till.do("supervisor", "key 1 RESUME")
    assert till.state.sale is not None and till.state.sale.cashier == "9001"
    assert dict(till.all_effects[-1].event.details)["parked_by"] == "1001"  # type: ignore[union-attr]


def test_the_list_shows_each_parked_sale_by_its_number() -> None:
    till = Till().do(*PARKED_2, "key 1 RESUME", "key CASH", COLA_SCAN, "key SUSPEND", "key RESUME")
    assert till.state.mode is Mode.CHOOSE_PARKED
    view = screen_view(till.state, till.setup, ScreenSetup(language="en"), till.now)
    assert [c.no for c in view.choices] == [2, 3]
    assert view.choices[0].text == "2: 1 item 10.00 09:00"
    assert view.prompt == "Parked sale number, then ENTER"
    till.do("key 3 ENTER")
    assert till.message == Msg.SALE_RESUMED and till.state.mode is Mode.READY
    assert [p.no for p in till.state.parked] == [2]


@pytest.mark.parametrize(
    ("keys", "mode", "entry"),
    [
        ("key 2 CLEAR", Mode.CHOOSE_PARKED, ""),  # the number keyed, the list stays
        ("key 2 CLEAR CLEAR", Mode.READY, ""),
        ("key NO", Mode.READY, ""),
        ("key RESUME", Mode.READY, ""),
    ],
)
def test_leaving_the_list(keys: str, mode: Mode, entry: str) -> None:
    till = Till().do(*PARKED_2, "key RESUME", keys)
    assert (till.state.mode, till.state.entry) == (mode, entry)
    assert len(till.state.parked) == 2 and till.state.sale is None


def test_at_most_max_suspended_are_parked() -> None:
    till = Till(setup=setup_with(max_suspended=2)).do(*PARKED_2, COLA_SCAN)
    before = till.state
    till.do("key SUSPEND")
    assert till.message == Msg.PARK_FULL
    assert till.state.message is not None and till.state.message.arg("max") == "2"
    assert replace(till.state, message=None) == replace(before, message=None)
    assert till.effects == []


def test_numbers_are_never_reused() -> None:
    till = Till().do(*PARKED_1, "key 1 RESUME", "key SUSPEND")
    assert [p.no for p in till.state.parked] == [2]


@pytest.mark.parametrize(
    ("catalog_change", "line", "message", "changes"),
    [
        # price up: applied, shown
        ({"by_code": replace(COLA, price=380)}, (380, 380, False), Msg.RESUMED_REPRICED,
         "可口可乐 330ml 3.50→3.80"),
        # no longer sold: voided, shown
        ({"by_code": replace(COLA, active=False)}, (350, 350, True), Msg.RESUMED_REPRICED,
         "可口可乐 330ml ✕"),
        ({"by_code": None}, (350, 350, True), Msg.RESUMED_REPRICED, "可口可乐 330ml ✕"),
        # the code now names another item: treated as gone
        ({"by_code": replace(COLA, sku="999")}, (350, 350, True), Msg.RESUMED_REPRICED,
         "可口可乐 330ml ✕"),
        # unchanged
        ({}, (350, 350, False), Msg.SALE_RESUMED, None),
    ],
)  # fmt: skip
def test_prices_are_checked_again_on_resume(
    catalog_change: dict[str, Item | None],
    line: tuple[int, int, bool],
    message: Msg,
    changes: str | None,
) -> None:
    till = Till().do(*PARKED_1)
    if "by_code" in catalog_change:
        item = catalog_change["by_code"]
        if item is None:
            del till.ports.catalog.codes["06954767410388"]  # type: ignore[attr-defined]
        else:
            till.ports.catalog.codes["06954767410388"] = item  # type: ignore[attr-defined]
    till.do("key 1 RESUME")
    assert till.message == message
    sale = till.state.sale
    assert sale is not None
    [got] = sale.lines
    assert (got.unit_price, got.amount, got.voided) == line
    if changes is not None:
        assert till.state.message is not None and till.state.message.arg("changes") == changes
    [save] = [e for e in till.effects if isinstance(e, SaveSale)]
    assert save.sale == sale  # the new prices are what the store keeps


def test_a_keyed_plu_and_a_weighed_item_are_priced_again_and_a_price_label_is_kept() -> None:
    till = Till().do("signon", "key 2 3 4 PLU", "scale 0.5", "key 1 PLU", "scan 2000001005002")
    till.do("key SUSPEND")
    catalog = till.ports.catalog
    catalog.items = [replace(COLA, price=400), replace(APPLE, price=2000)]  # type: ignore[attr-defined]
    till.do("key 1 RESUME")
    sale = till.state.sale
    assert sale is not None
    cola, apple, labelled = sale.lines
    assert (cola.unit_price, cola.amount) == (400, 400)
    assert (apple.unit_price, apple.amount) == (2000, 1000)
    assert (labelled.amount, labelled.voided) == (500, False)  # the label's price stands
    assert till.state.message is not None
    assert till.state.message.arg("changes") == "可口可乐 330ml 3.50→4.00, 富士苹果 12.80→20.00"


def test_a_park_that_cannot_be_saved_leaves_the_sale_open() -> None:
    till = Till().do(*ONE_COLA)
    before = till.state
    till.do("disk full", "key SUSPEND")
    assert till.message == Msg.SAVE_FAILED
    assert till.state.sale == before.sale and till.state.parked == ()
    assert till.effects == []  # no slip printed
    till.do("disk ok", "key SUSPEND")
    assert till.message == Msg.SALE_PARKED


def test_a_resume_that_cannot_be_saved_leaves_the_sale_parked() -> None:
    till = Till().do(*PARKED_1, "disk full", "key 1 RESUME")
    assert till.message == Msg.SAVE_FAILED
    assert till.state.sale is None and [p.no for p in till.state.parked] == [1]


def test_the_customer_display_goes_idle_on_park_and_shows_the_basket_on_resume() -> None:
    till = Till().do("signon", "key 2 QTY", COLA_SCAN, "key CASH", COLA_SCAN, "key SUSPEND")
    screen = ScreenSetup()
    assert customer_view(till.state, till.setup, screen, till.now).phase is Phase.IDLE
    till.do("key 1 RESUME")
    view = customer_view(till.state, till.setup, screen, till.now)
    assert view.phase is Phase.SELLING and (view.items, view.total) == (1, 350)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("SUSP-S001-07-1", ("S001", "07", 1)),
        ("]C0SUSP-S001-07-12", ("S001", "07", 12)),
        ("SUSP-STORE-A-07-3", ("STORE-A", "07", 3)),
        ("SUSP-S001-07-", None),
        ("SUSP-07-1", None),
        ("SUSP-S001-07-x", None),
        ("6954767410388", None),
        ("M12345", None),
        ("SUSP-S001-07-1234567890", None),
    ],
)
def test_slip_codes(data: str, expected: tuple[str, str, int] | None) -> None:
    code = read_slip_code(data)
    assert (None if code is None else (code.store, code.lane, code.no)) == expected


def test_numbers_go_on_after_a_sign_off() -> None:
    till = Till().do(*PARKED_1, "key 1 RESUME", "key CASH", "key SIGNOFF")
    assert till.message == Msg.SIGNED_OFF
    till.do("signon", COLA_SCAN, "key SUSPEND")
    assert [p.no for p in till.state.parked] == [2]


def test_no_resume_while_the_drawer_is_open_when_no_sale_may_start_then() -> None:
    till = Till(setup=setup_with(block_sale_while_open=True)).do(*PARKED_1, "drawer open")
    before = till.state
    till.do("key 1 RESUME")
    assert till.message == Msg.DRAWER_OPEN and till.effects == []
    assert replace(till.state, message=None) == replace(before, message=None, entry="1")
    till.do("key CLEAR", "drawer closed", "key 1 RESUME")
    assert till.message == Msg.SALE_RESUMED
