"""Every keypad path of spec/lane-input.md and every refusal, as a table: steps in,
message and effects out. A refusal must change nothing but the message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from firmware_app.lane.messages import Msg
from firmware_app.lane.state import Mode
from tests.unit.till import Till

SIGNED_ON = ("signon",)
ONE_COLA = ("signon", "scan 6954767410388")

# (name, steps before, the step under test, expected message, expected effect types)
CASES = [
    # --- signing on and off
    (
        "sign on",
        (),
        "key 1 0 0 1 SIGNON 1 2 3 4 ENTER",
        Msg.SIGNED_ON,
        ["SaveSession", "RecordEvent"],
    ),
    (
        "wrong PIN",
        (),
        "key 1 0 0 1 SIGNON 1 1 1 1 ENTER",
        Msg.WRONG_PIN,
        ["RecordPinFailure", "RecordEvent"],
    ),
    (
        "unknown cashier",
        (),
        "key 5 5 5 5 SIGNON 1 2 3 4 ENTER",
        Msg.WRONG_PIN,
        ["RecordPinFailure", "RecordEvent"],
    ),
    ("SIGNON without id", (), "key SIGNON", Msg.NEEDS_ENTRY, []),
    ("scan while signed off", (), "scan 6954767410388", Msg.SIGN_ON_FIRST, []),
    ("PLU while signed off", (), "key 1 PLU", Msg.SIGN_ON_FIRST, []),
    ("CASH while signed off", (), "key CASH", Msg.SIGN_ON_FIRST, []),
    ("DOT in PIN", ("key 1 0 0 1 SIGNON",), "key DOT", Msg.KEY_NOT_ALLOWED, []),
    ("other key in PIN", ("key 1 0 0 1 SIGNON",), "key PLU", Msg.KEY_NOT_ALLOWED, []),
    ("SIGNON twice", SIGNED_ON, "key 1 0 0 1 SIGNON", Msg.KEY_NOT_ALLOWED, []),
    ("sign off", SIGNED_ON, "key SIGNOFF", Msg.SIGNED_OFF, ["SaveSession", "RecordEvent"]),
    ("sign off with sale open", ONE_COLA, "key SIGNOFF", Msg.SALE_OPEN, []),
    # --- adding items
    ("scan EAN-13", SIGNED_ON, "scan 6954767410388", Msg.ITEM_ADDED, ["SaveSale"]),
    ("scan with AIM prefix", SIGNED_ON, "scan ]E06954767410388", Msg.ITEM_ADDED, ["SaveSale"]),
    ("scan EAN-8", SIGNED_ON, "scan ]E496385074", Msg.ITEM_ADDED, ["SaveSale"]),
    ("unknown code", SIGNED_ON, "scan 4006381333931", Msg.UNKNOWN_CODE, []),
    ("bad check digit", SIGNED_ON, "scan 6954767410381", Msg.BAD_CODE, []),
    ("garbage scan", SIGNED_ON, "scan 69547\x07", Msg.BAD_CODE, []),
    ("over-long scan", SIGNED_ON, "scan " + "1" * 200, Msg.BAD_CODE, []),
    ("inactive item", SIGNED_ON, "scan 042100005264", Msg.NOT_FOR_SALE, []),
    ("UPC-E of inactive item", SIGNED_ON, "scan ]E004252614", Msg.NOT_FOR_SALE, []),
    ("age-restricted item", SIGNED_ON, "scan 6901035603423", Msg.AGE_QUESTION, []),
    ("PLU counted", SIGNED_ON, "key 2 3 4 PLU", Msg.ITEM_ADDED, ["SaveSale"]),
    ("PLU unknown", SIGNED_ON, "key 9 9 PLU", Msg.UNKNOWN_PLU, []),
    ("PLU without entry", SIGNED_ON, "key PLU", Msg.NEEDS_ENTRY, []),
    ("PLU with decimals", SIGNED_ON, "key 1 DOT 5 PLU", Msg.BAD_ENTRY, []),
    ("QTY", SIGNED_ON, "key 3 QTY", Msg.QTY_SET, []),
    ("QTY without entry", SIGNED_ON, "key QTY", Msg.NEEDS_ENTRY, []),
    ("QTY zero", SIGNED_ON, "key 0 QTY", Msg.BAD_ENTRY, []),
    ("QTY decimal", SIGNED_ON, "key 1 DOT 5 QTY", Msg.BAD_ENTRY, []),
    ("QTY too big", SIGNED_ON, "key 1 0 0 0 QTY", Msg.QTY_TOO_BIG, []),
    (
        "QTY then weighed",
        ("signon", "scale 0.5", "key 2 QTY"),
        "key 1 PLU",
        Msg.QTY_NOT_WEIGHED,
        [],
    ),
    ("DOT twice", SIGNED_ON, "key 1 DOT 5 DOT", Msg.KEY_NOT_ALLOWED, []),
    ("entry too long", SIGNED_ON, "key " + "1 " * 21, Msg.BAD_ENTRY, []),
    ("ENTER when selling", SIGNED_ON, "key ENTER", Msg.KEY_NOT_ALLOWED, []),
    # --- weighed items and the scale
    ("weighed by PLU", ("signon", "scale 0.532"), "key 1 PLU", Msg.ITEM_ADDED, ["SaveSale"]),
    ("scale moving", ("signon", "scale moving"), "key 1 PLU", Msg.SCALE_MOVING, []),
    ("scale over", ("signon", "scale over"), "key 1 PLU", Msg.SCALE_OVER, []),
    ("scale under", ("signon", "scale under"), "key 1 PLU", Msg.SCALE_UNDER, []),
    ("scale empty", ("signon", "scale 0"), "key 1 PLU", Msg.SCALE_EMPTY, []),
    ("scale silent", ("signon", "scale silent"), "key 1 PLU", Msg.SCALE_SILENT, []),
    ("scale error", ("signon", "scale error"), "key 1 PLU", Msg.SCALE_ERROR, []),
    ("scale never answered", SIGNED_ON, "key 1 PLU", Msg.SCALE_SILENT, []),
    ("scale reading stale", ("signon", "scale 0.5", "wait 3"), "key 1 PLU", Msg.SCALE_SILENT, []),
    ("price label", SIGNED_ON, "scan 2000001005002", Msg.ITEM_ADDED, ["SaveSale"]),
    ("weight label", SIGNED_ON, "scan 2100001005320", Msg.ITEM_ADDED, ["SaveSale"]),
    ("label of unknown PLU", SIGNED_ON, "scan 2099999005002", Msg.UNKNOWN_PLU, []),
    ("weight label on counted item", SIGNED_ON, "scan 2103001005000", Msg.LABEL_MISMATCH, []),
    # --- voids
    ("void last line", ONE_COLA, "key VOID", Msg.LINE_VOIDED, ["SaveSale", "RecordEvent"]),
    ("void with nothing", SIGNED_ON, "key VOID", Msg.NOTHING_TO_VOID, []),
    ("void line n asks supervisor", ONE_COLA, "key 1 VOID", Msg.SUPERVISOR_ID, []),
    ("void missing line n", ONE_COLA, "key 5 VOID", Msg.NO_SUCH_LINE, []),
    (
        "void line n approved",
        (*ONE_COLA, "key 1 VOID 9 0 0 1 ENTER"),
        "key 9 9 9 9 ENTER",
        Msg.LINE_VOIDED,
        ["RecordEvent", "SaveSale", "RecordEvent"],
    ),
    (
        "void line n with another cashier's PIN",
        (*ONE_COLA, "key 1 VOID 1 0 0 2 ENTER"),
        "key 2 2 2 2 ENTER",
        Msg.NOT_SUPERVISOR,
        ["RecordEvent"],
    ),
    (
        "void line n approved by the cashier's own id",
        (*ONE_COLA, "key 1 VOID"),
        "key 1 0 0 1 ENTER",
        Msg.SELF_APPROVAL,
        ["RecordEvent"],
    ),
    (
        "void line n with a wrong PIN",
        (*ONE_COLA, "key 1 VOID 9 0 0 1 ENTER"),
        "key 1 1 1 1 ENTER",
        Msg.NOT_SUPERVISOR,
        ["RecordPinFailure", "RecordEvent"],
    ),
    (
        "supervisor prompt: other key",
        (*ONE_COLA, "key 1 VOID"),
        "key CASH",
        Msg.KEY_NOT_ALLOWED,
        [],
    ),
    (
        "void line n by a signed-on supervisor",
        ("supervisor", "scan 6954767410388"),
        "key 1 VOID",
        Msg.LINE_VOIDED,
        ["RecordEvent", "SaveSale", "RecordEvent"],
    ),
    ("void after a tender", (*ONE_COLA, "key 1 CASH"), "key VOID", Msg.CHOOSE_TENDER, []),
    # --- cancel
    ("cancel asks supervisor", ONE_COLA, "key CANCEL", Msg.SUPERVISOR_ID, []),
    (
        "cancel approved",
        (*ONE_COLA, "key CANCEL 9 0 0 1 ENTER"),
        "key 9 9 9 9 ENTER",
        Msg.SALE_CANCELLED,
        ["RecordEvent", "CommitSale", "PrintReceipt"],
    ),
    ("cancel with no sale", SIGNED_ON, "key CANCEL", Msg.NO_SALE, []),
    (
        "cancel an empty sale",
        ("signon", "key 8 8 MEMBER"),
        "key CANCEL",
        Msg.SALE_CANCELLED,
        ["DiscardSale"],
    ),
    ("cancel after a tender", (*ONE_COLA, "key 1 CASH"), "key CANCEL", Msg.SUPERVISOR_ID, []),
    # --- subtotal, member, no-sale, later keys
    ("subtotal", ONE_COLA, "key SUBTOTAL", Msg.SUBTOTAL, []),
    ("subtotal with no sale", SIGNED_ON, "key SUBTOTAL", Msg.NO_SALE, []),
    ("member keyed", SIGNED_ON, "key 1 2 3 4 5 MEMBER", Msg.MEMBER_SET, ["SaveSale", "AskMember"]),
    ("member without entry", SIGNED_ON, "key MEMBER", Msg.NEEDS_ENTRY, []),
    ("member card scanned", ONE_COLA, "scan M8800123", Msg.MEMBER_SET, ["SaveSale", "AskMember"]),
    ("no-sale asks supervisor", SIGNED_ON, "key NOSALE", Msg.SUPERVISOR_ID, []),
    (
        "no-sale approved",
        ("signon", "key NOSALE 9 0 0 1 ENTER"),
        "key 9 9 9 9 ENTER",
        Msg.DRAWER_OPENED,
        ["RecordEvent", "RecordEvent", "KickDrawer"],
    ),
    ("no-sale with a sale open", ONE_COLA, "key NOSALE", Msg.SALE_OPEN, []),
    (
        "RETURN alone: a return without receipt asks a supervisor",
        SIGNED_ON,
        "key RETURN",
        Msg.SUPERVISOR_ID,
        [],
    ),
    ("REPRINT with no receipt yet", SIGNED_ON, "key REPRINT", Msg.NO_RECEIPT, []),
    (
        "REPRINT",
        (*ONE_COLA, "key CASH"),
        "key REPRINT",
        Msg.RECEIPT_REPRINTED,
        ["RecordEvent", "PrintReceipt"],
    ),
    ("ZERO", SIGNED_ON, "key ZERO", Msg.SCALE_COMMAND, ["SendScaleCommand"]),
    ("TARE", SIGNED_ON, "key TARE", Msg.SCALE_COMMAND, ["SendScaleCommand"]),
    ("ZERO while signed off", (), "key ZERO", Msg.SIGN_ON_FIRST, []),
    (
        "same weight twice",
        ("signon", "scale 0.532", "key 1 PLU"),
        "key 1 PLU",
        Msg.SCALE_SAME_WEIGHT,
        [],
    ),
    (
        "new sale while the drawer is open",
        ("signon", "drawer open"),
        "scan 6954767410388",
        Msg.ITEM_ADDED,
        ["SaveSale"],
    ),
    # suspend and resume: every path in test_suspend_paths.py
    (
        "SUSPEND",
        ONE_COLA,
        "key SUSPEND",
        Msg.SALE_PARKED,
        ["ParkSale", "RecordEvent", "PrintReceipt"],
    ),
    ("RESUME", SIGNED_ON, "key RESUME", Msg.NOTHING_PARKED, []),
    # --- tenders
    ("cash exact", ONE_COLA, "key CASH", Msg.CHANGE, ["CommitSale", "KickDrawer", "PrintReceipt"]),
    (
        "cash with change",
        ONE_COLA,
        "key 1 0 CASH",
        Msg.CHANGE,
        ["CommitSale", "KickDrawer", "PrintReceipt"],
    ),
    ("cash part", ONE_COLA, "key 2 CASH", Msg.DUE, ["SaveSale"]),
    ("cash with no sale", SIGNED_ON, "key 5 CASH", Msg.NO_SALE, []),
    ("cash above maximum", ONE_COLA, "key 1 0 0 0 1 CASH", Msg.CASH_TOO_LARGE, []),
    ("cash zero", ONE_COLA, "key 0 CASH", Msg.BAD_ENTRY, []),
    ("cash three decimals", ONE_COLA, "key 1 DOT 2 3 4 CASH", Msg.BAD_ENTRY, []),
    ("card", ONE_COLA, "key CARD", Msg.PAYMENT_STARTED, ["LogPayment", "RequestPayment"]),
    ("mobile", ONE_COLA, "key MOBILE", Msg.PAYMENT_STARTED, ["LogPayment", "RequestPayment"]),
    ("card above due", ONE_COLA, "key 9 CARD", Msg.AMOUNT_TOO_LARGE, []),
    ("card with no sale", SIGNED_ON, "key CARD", Msg.NO_SALE, []),
    (
        "card approved",
        (*ONE_COLA, "key CARD"),
        "terminal approve",
        Msg.CHANGE,
        ["LogPayment", "CommitSale", "PrintReceipt"],
    ),
    ("card declined", (*ONE_COLA, "key CARD"), "terminal decline", Msg.DECLINED, ["LogPayment"]),
    ("keys while terminal works", (*ONE_COLA, "key CARD"), "key CASH", Msg.TERMINAL_BUSY, []),
    ("digits while terminal works", (*ONE_COLA, "key CARD"), "key 1", Msg.TERMINAL_BUSY, []),
    ("CLEAR while terminal works", (*ONE_COLA, "key CARD"), "key CLEAR", Msg.TERMINAL_BUSY, []),
    (
        "scan while terminal works",
        (*ONE_COLA, "key CARD"),
        "scan 6954767410388",
        Msg.TERMINAL_BUSY,
        [],
    ),
    (
        "scan during payment",
        (*ONE_COLA, "key 1 CASH"),
        "scan 6954767410388",
        Msg.FINISH_PAYMENT,
        [],
    ),
    ("QTY during payment", (*ONE_COLA, "key 1 CASH"), "key 2 QTY", Msg.FINISH_PAYMENT, []),
    ("member during payment", (*ONE_COLA, "key 1 CASH"), "key 5 MEMBER", Msg.FINISH_PAYMENT, []),
]


# Messages that refuse what was keyed or scanned: they change nothing else at all,
# not even the entry or the pending quantity.
REFUSALS = frozenset(
    [
        Msg.SIGN_ON_FIRST, Msg.KEY_NOT_ALLOWED, Msg.NEEDS_ENTRY, Msg.BAD_ENTRY,
        Msg.UNKNOWN_CODE, Msg.BAD_CODE, Msg.UNKNOWN_PLU, Msg.NOT_FOR_SALE, Msg.QTY_TOO_BIG,
        Msg.QTY_NOT_WEIGHED, Msg.LABEL_MISMATCH, Msg.SCALE_MOVING, Msg.SCALE_OVER,
        Msg.SCALE_UNDER, Msg.SCALE_EMPTY, Msg.SCALE_SILENT, Msg.SCALE_ERROR,
        Msg.SCALE_SAME_WEIGHT, Msg.NOTHING_TO_VOID, Msg.NO_SUCH_LINE, Msg.NO_SALE,
        Msg.SALE_OPEN, Msg.CASH_TOO_LARGE, Msg.AMOUNT_TOO_LARGE, Msg.FINISH_PAYMENT,
        Msg.TERMINAL_BUSY, Msg.NOT_AVAILABLE, Msg.NO_RECEIPT,
    ]
)  # fmt: skip


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_keypad_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    till = Till().do(*before)
    previous = till.state
    verb, _, keys = step.partition(" ")
    if verb == "key" and " " in keys:  # what the last key found: the entry keyed before it
        keyed, _, last = keys.rpartition(" ")
        till.do(f"key {keyed}")
        before_last = till.state
        till.do(f"key {last}")
    else:
        before_last = previous
        till.do(step)
    assert till.message == message, till.state.message
    assert till.effect_types() == effects
    if not effects:
        # A refusal (or a prompt) changes no sale, tender or sign-on.
        assert till.state.sale == previous.sale
        assert till.state.cashier == previous.cashier
        assert till.state.next_receipt_no == previous.next_receipt_no
    if message in REFUSALS:
        assert replace(till.state, message=None) == replace(before_last, message=None)


@pytest.mark.parametrize(
    ("keys", "entry", "qty"),
    [
        ("key 1 DOT DOT", "1.", None),
        ("key 3 QTY 1 PLU", "1", 3),  # a weighed item after QTY: refused, both stay
        ("key 9 9 PLU", "99", None),
        ("key 2 QTY 1 DOT 2 3 4 CASH", "1.234", 2),
        ("key " + "1 " * 21, "1" * 20, None),
    ],
)
def test_a_refused_key_keeps_the_entry_and_the_quantity(
    keys: str, entry: str, qty: int | None
) -> None:
    till = Till().do("signon", "scan 6954767410388", keys)
    assert (till.state.entry, till.state.qty) == (entry, qty)


def test_a_second_dot_is_refused_and_the_amount_stays_as_keyed() -> None:
    till = Till().do("signon", "scan 6954767410388", "key 1 DOT DOT 5 CASH")
    assert till.message == Msg.DUE
    assert till.state.sale is not None
    assert [t.amount for t in till.state.sale.tenders] == [150]


def test_clear_clears_entry_and_message_then_qty() -> None:
    till = Till().do("signon", "key 3 QTY 1 2")
    till.do("key CLEAR")
    assert till.state.entry == "" and till.state.qty == 3 and till.state.message is None
    till.do("key CLEAR")
    assert till.state.qty is None
    till.do("key 9 9 PLU", "key CLEAR")
    assert till.state.message is None and till.state.entry == ""
    till.do("scan 4006381333931")  # unknown item: the message goes with the next CLEAR
    assert till.message is Msg.UNKNOWN_CODE
    till.do("key CLEAR")
    assert till.state.message is None


def test_clear_aborts_pin_and_supervisor_prompts() -> None:
    till = Till().do("key 1 0 0 1 SIGNON 1 2", "key CLEAR")
    assert till.state.mode is Mode.SIGNED_OFF and till.state.entry == ""
    till = Till().do(*ONE_COLA, "key 1 VOID 9 0", "key CLEAR")
    assert till.state.mode is Mode.READY and till.state.approval is None
    assert till.state.sale is not None and not till.state.sale.lines[0].voided


def test_decline_leaves_the_sale_open_and_unpaid() -> None:
    till = Till().do(*ONE_COLA, "key CARD", "terminal decline")
    assert till.state.mode is Mode.READY
    assert till.state.sale is not None and till.state.sale.tenders == ()
    assert till.state.sale.due == 350


def test_late_terminal_answer_is_ignored() -> None:
    from firmware_app.lane.events import PaymentResult

    till = Till().do(*ONE_COLA, "key CARD")
    till.send(PaymentResult("someone-else", approved=True))
    assert till.state.mode is Mode.TERMINAL and till.effects == []
