"""The screens' view model: a pure function of the lane state, checked for every mode
without a browser (the pages only draw what it says)."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.state import Mode
from firmware_app.lane.view import (
    ERRORS,
    WARNINGS,
    Level,
    Phase,
    ScreenSetup,
    ascii_name,
    customer_screen,
    customer_view,
    level,
    screen_view,
)
from tests.unit.till import Till

EN = ScreenSetup(language="en", idle_text=("WELCOME", "欢迎光临"), done_s=20)
ZH = ScreenSetup(language="zh")


def view(till: Till, screen: ScreenSetup = EN):
    return screen_view(till.state, till.setup, screen, till.now)


def cview(till: Till, screen: ScreenSetup = EN):
    return customer_view(till.state, till.setup, screen, till.now)


def test_signed_off_shows_the_sign_on_prompt_and_nobody() -> None:
    v = view(Till())
    assert v.mode == "signed_off" and v.cashier is None
    assert v.prompt == "ID, then SIGNON"
    assert v.lines == () and v.totals.due == "0.00" and v.last is None
    assert (v.store, v.lane, v.receipt_no) == ("S001", "07", 1)
    assert v.clock == "2026-11-28 09:00"


def test_the_pin_is_masked_in_the_view_not_by_the_page() -> None:
    till = Till().do("key 1 0 0 1 SIGNON 1 2 3")
    v = view(till)
    assert v.mode == "pin" and v.entry == "***"
    assert "123" not in orjson.dumps(v).decode()
    till.do("key ENTER")  # a wrong PIN: cleared, and a refusal in red
    assert view(till).message is not None


def test_the_supervisor_pin_is_masked_too() -> None:
    till = Till().do("signon", "scan 6954767410388", "scan 6954767410388", "key 1 VOID")
    assert view(till).mode == "supervisor_id"
    till.do("key 9 0 0 1 ENTER 9 9")
    v = view(till)
    assert v.mode == "supervisor_pin" and v.entry == "**"
    assert v.prompt == "Supervisor PIN, then ENTER"


def test_a_basket_with_counted_weighed_and_voided_lines() -> None:
    till = Till().do(
        "signon",
        "scan 6954767410388",
        "key 3 QTY",
        "scan 6954767410388",
        "scale 0.532",
        "key 1 PLU",
        "key VOID",  # the apples again off
        "scale 0",
        "scale 0.532",
        "key 1 PLU",
    )
    v = view(till)
    assert v.mode == "ready" and v.cashier == "1001"
    assert [(ln.no, ln.qty, ln.amount, ln.voided) for ln in v.lines] == [
        (1, "1 × 3.50", "3.50", False),
        (2, "3 × 3.50", "10.50", False),
        (3, "0.532 kg × 12.80/kg", "6.81", True),
        (4, "0.532 kg × 12.80/kg", "6.81", False),
    ]
    assert v.lines[0].name == "可口可乐 330ml"
    assert v.totals.items == 5 and v.totals.total == "20.81" and v.totals.due == "20.81"
    assert v.last is not None and v.last.name == "富士苹果" and v.last.amount == "6.81"
    assert v.scale is not None and v.scale.weight == "0.532 kg" and v.scale.state == "stable"


def test_a_discount_is_a_sub_line_under_its_line() -> None:
    till = Till().do("signon", "scan 6954767410388")
    sale = till.state.sale
    assert sale is not None
    line = replace(sale.lines[0], discount=50)
    till.state = replace(till.state, sale=replace(sale, lines=(line,)))
    v = view(till)
    assert [(s.text, s.amount) for s in v.lines[0].subs] == [("Discount", "-0.50")]
    assert v.totals.discount == "0.50" and v.totals.due == "3.00"


@pytest.mark.parametrize(
    ("reading", "weight", "state"),
    [
        ("moving", "-.--- kg", "moving"),
        ("over", "-.--- kg", "over"),
        ("silent", "-.--- kg", "silent"),
    ],
)
def test_the_scale_state_is_shown_without_a_weight_when_not_stable(reading, weight, state) -> None:
    till = Till().do("signon", f"scale {reading}")
    v = view(till)
    assert v.scale is not None and (v.scale.weight, v.scale.state) == (weight, state)


def test_a_refusal_is_an_error_and_a_warning_is_amber() -> None:
    till = Till().do("signon", "scan 1234567890128")
    v = view(till)
    assert v.message is not None and v.message.level is Level.ERROR
    till.do("scan 06901035603423")  # beer: the age question
    assert till.message is Msg.AGE_QUESTION
    m = view(till).message
    assert m is not None and m.level is Level.WARNING


def test_every_message_has_one_level() -> None:
    assert not ERRORS & WARNINGS
    for msg in Msg:
        assert level(msg) in Level


def test_paying_shows_paid_due_and_then_the_change() -> None:
    till = Till().do("signon", "scan 6954767410388", "scan 6954767410388", "key SUBTOTAL")
    assert view(till).prompt == "Scan items"
    till.do("type 5", "key CASH")
    v = view(till)
    assert v.totals.paid == "5.00" and v.totals.due == "2.00"
    assert v.prompt == "Pay: amount + CASH, or CARD / MOBILE"
    till.do("type 10", "key CASH")
    v = view(till)
    assert v.lines == () and v.totals.change == "8.00"
    assert v.receipt_no == 2
    assert v.message is not None and "8.00" in v.message.text


def test_waiting_for_the_terminal() -> None:
    till = Till().do("signon", "scan 6954767410388", "key CARD")
    v = view(till)
    assert v.mode == "terminal" and v.prompt == "Follow the payment terminal"


def test_choosing_a_tender_lists_numbered_choices() -> None:
    till = Till().do(
        "signon",
        "scan 6954767410388",
        "scan 6954767410388",
        "type 2",
        "key CASH",
        "type 1",
        "key CASH",
    )
    till.do("key VOID")
    assert till.state.mode is Mode.SUPERVISOR_ID or till.state.mode is Mode.CHOOSE_TENDER
    if till.state.mode is Mode.SUPERVISOR_ID:
        till.do("approve")
    v = view(till)
    assert v.mode == "choose_tender"
    assert [c.no for c in v.choices] == [1, 2]
    assert "2.00" in v.choices[0].text and "1.00" in v.choices[1].text


def test_health_indicators_carry_the_status_words_and_a_level() -> None:
    till = Till().do("signon")
    till.send(DeviceState(Device.PRINTER, StateWord.PAPER_OUT))
    till.send(DeviceState(Device.BROKER, StateWord.OFFLINE))
    till.send(DeviceState(Device.SCANNER, StateWord.OK))
    health = {h.device: (h.state, h.level) for h in view(till).health}
    assert health == {
        "broker": ("offline", Level.WARNING),
        "printer": ("paper_out", Level.ERROR),
        "scanner": ("ok", Level.INFO),
    }
    labels = {h.device: h.label for h in view(till, ZH).health}
    assert labels["printer"] == "打印机"


def test_training_mode_shows_its_banner() -> None:
    till = Till().do("signon")
    till.state = replace(till.state, training=True)
    v = view(till, ZH)
    assert v.training and "TRAINING" in v.labels["training"]
    assert cview(till).training


def test_chinese_and_english_words() -> None:
    till = Till()
    assert view(till, ZH).prompt == "工号 + 登录键"
    assert view(till, ZH).labels["due"] == "应付"
    assert view(till).labels["due"] == "Due"


def test_the_snapshot_is_json_with_the_schema() -> None:
    till = Till().do("signon", "scan 6954767410388")
    data = orjson.loads(orjson.dumps(view(till)))
    assert data["schema"] == "lane.screen/1"
    assert data["lines"][0]["amount"] == "3.50"
    assert data["message"]["level"] == "info"
    c = orjson.loads(orjson.dumps(customer_screen(cview(till), "en")))
    assert c["schema"] == "lane.customer/1" and c["phase"] == "selling"


# --- the customer display ----------------------------------------------------------------


def test_the_customer_sees_the_idle_text_between_sales() -> None:
    c = cview(Till().do("signon"))
    assert c.phase is Phase.IDLE and c.idle_text == ("WELCOME", "欢迎光临")
    assert customer_view(Till().state, Till().setup, ZH, Till().now).idle_text == ("欢迎光临",)


def test_the_customer_sees_the_last_item_and_the_total() -> None:
    till = Till().do("signon", "scan 6954767410388", "scan 00000096385074")
    c = cview(till)
    assert c.phase is Phase.SELLING and c.total == 1350 and c.items == 2
    assert c.last is not None and (c.last.name, c.last.name_ascii, c.last.amount) == (
        "Bread",
        "Bread",
        1000,
    )
    till.do("key VOID")  # the bread off again: the cola is the last item
    c = cview(till)
    assert c.last is not None and c.last.name_ascii == "6954767410388" and c.total == 350


def test_the_customer_sees_paying_after_subtotal_and_a_tender() -> None:
    till = Till().do("signon", "scan 6954767410388", "key SUBTOTAL")
    assert cview(till).phase is Phase.PAYING
    till.do("type 1", "key CASH")
    c = cview(till)
    assert c.phase is Phase.PAYING and c.paid == 100 and c.total == 350


def test_the_customer_sees_paid_and_change_then_the_idle_text() -> None:
    till = Till().do("signon", "scan 6954767410388", "type 10", "key CASH")
    c = cview(till)
    assert c.phase is Phase.DONE and (c.total, c.paid, c.change) == (350, 1000, 650)
    till.do("wait 19")
    assert cview(till).phase is Phase.DONE
    till.do("wait 1")
    assert cview(till).phase is Phase.IDLE


def test_a_cancelled_sale_is_not_shown_as_paid() -> None:
    till = Till().do("supervisor", "scan 6954767410388", "key CANCEL")
    assert till.state.sale is None
    assert cview(till).phase is Phase.IDLE


def test_the_customer_page_view_is_formatted() -> None:
    till = Till().do("signon", "scan 6954767410388", "type 10", "key CASH")
    page = customer_screen(cview(till), "zh")
    assert (page.phase, page.total, page.paid, page.change) == ("done", "3.50", "10.00", "6.50")
    assert page.labels["change"] == "找零"


@given(st.text(max_size=30), st.text(alphabet="0123456789", min_size=1, max_size=14))
def test_an_ascii_name_is_never_mojibake(name: str, code: str) -> None:
    shown = ascii_name(name, code)
    assert shown.isascii() and shown.isprintable()
    assert shown == code or set(shown.split()) <= set(name.split())


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("法式面包 Baguette", "Baguette"),
        ("Oreo cookies 进口饼干", "Oreo cookies"),
        ("购物袋 Shopping bag", "Shopping bag"),
        ("Coca-Cola 330ml 可口可乐", "Coca-Cola 330ml"),
        ("Bread", "Bread"),
        ("可口可乐 330ml", "6954767410388"),
        ("富士苹果", "6954767410388"),
        ("Café crème", "6954767410388"),
    ],
)
def test_the_latin_part_of_a_name_or_the_code(name: str, shown: str) -> None:
    assert ascii_name(name, "6954767410388") == shown


def test_a_device_message_words_the_new_devices() -> None:
    assert (
        Message.of(Msg.DEVICE_PROBLEM, device="screen", state="error")
        .render("zh")
        .startswith("收银屏")
    )
