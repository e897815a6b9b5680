"""The customer display's layouts and frames: what a 2×20 VFD and an 8-digit LED show for
each phase, ASCII only, amounts never cut, and the exact bytes of each command set."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.drivers.pole_frames import (
    Lamp,
    ascii_text,
    cd5220_frame,
    escpos_frame,
    frame_encoder,
    led8_frame,
    led_digits,
    led_frame,
    vfd_lines,
)
from firmware_app.lane.money import format_money
from firmware_app.lane.view import CustomerItem, CustomerView, Phase
from tests.pole_views import APPLES, COLA, TEA, customer_views

IDLE, SELLING, PAYING, DONE = customer_views("欢迎光临")


# --- the VFD, phase by phase ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "upper", "lower"),
    [
        (IDLE, "      WELCOME       ", "                    "),
        (
            replace(IDLE, idle_text=("欢迎光临 WELCOME", "新鲜水果 Fresh fruit")),
            "      WELCOME       ",
            "    Fresh fruit     ",
        ),
        (replace(IDLE, training=True), "      WELCOME       ", "        TEST        "),
        (SELLING, "Cola 330ml          ", "2 x 3.50        7.00"),
        (replace(SELLING, last=TEA), "6901234567892       ", "1 x 3.50        3.50"),
        (replace(SELLING, last=APPLES), "Apples              ", "0.532 kg        6.81"),
        (replace(SELLING, last=None, total=0), "TOTAL           0.00", "                    "),
        (replace(SELLING, training=True), "TEST Cola 330ml     ", "2 x 3.50        7.00"),
        (PAYING, "TOTAL           7.70", "PAID            5.00"),
        (replace(PAYING, training=True), "TEST TOTAL      7.70", "PAID            5.00"),
        (DONE, "PAID           10.00", "CHANGE          2.30"),
        (replace(DONE, change=0, paid=770), "PAID            7.70", "CHANGE          0.00"),
        (
            replace(DONE, minor_digits=0, paid=10, change=2),
            "PAID              10",
            "CHANGE             2",
        ),
    ],
    ids=[
        "idle",
        "idle-two-lines",
        "idle-training",
        "selling",
        "selling-chinese-name",
        "selling-weighed",
        "selling-all-voided",
        "selling-training",
        "paying",
        "paying-training",
        "done",
        "done-no-change",
        "done-no-decimals",
    ],
)
def test_the_vfd_lines_for_each_phase(view: CustomerView, upper: str, lower: str) -> None:
    assert vfd_lines(view, 20) == (upper, lower)


def test_a_long_name_is_cut_at_the_end_of_the_line() -> None:
    item = replace(COLA, name_ascii="Coca-Cola Zero Sugar 330ml can")
    assert vfd_lines(replace(SELLING, last=item), 20)[0] == "Coca-Cola Zero Sugar"


def test_an_amount_too_wide_for_the_line_shows_dashes_never_a_cut_number() -> None:
    view = replace(PAYING, total=123_456_789_012, paid=0)
    assert vfd_lines(view, 20) == ("TOTAL  1234567890.12", "PAID            0.00")
    assert vfd_lines(view, 8) == ("TOTAL --", "    0.00")  # the label gives way
    assert vfd_lines(replace(view, total=10**20), 8)[0] == "TOTAL --"


def test_a_return_shows_its_negative_amounts() -> None:
    view = replace(PAYING, total=-770, paid=-770)
    assert vfd_lines(view, 20) == ("TOTAL          -7.70", "PAID           -7.70")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("可口可乐 Cola", "Cola"),
        ("Café crème", "Cafe creme"),
        ("ＡＢＣ１２３", "ABC123"),
        ("2 × 3.50", "2 x 3.50"),
        ("tab\there\r\nand\x1b[2Jescape", "tab here and[2Jescape"),
        ("欢迎光临", ""),
    ],
)
def test_ascii_text_folds_or_drops_never_replaces(text: str, shown: str) -> None:
    assert ascii_text(text) == shown


# --- the LED, phase by phase ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "lamp", "digits"),
    [
        (IDLE, Lamp.OFF, ""),
        (SELLING, Lamp.PRICE, "7.00"),
        (replace(SELLING, last=None, total=0), Lamp.TOTAL, "0.00"),
        (PAYING, Lamp.TOTAL, "7.70"),
        (DONE, Lamp.CHANGE, "2.30"),
        (replace(DONE, change=0, paid=770), Lamp.COLLECT, "7.70"),
        (replace(PAYING, total=-1250), Lamp.TOTAL, "-12.50"),
    ],
    ids=["idle", "selling", "selling-all-voided", "paying", "done", "done-exact", "return"],
)
def test_the_led_lamp_and_number_for_each_phase(
    view: CustomerView, lamp: Lamp, digits: str
) -> None:
    assert led_frame(view) == (lamp, digits)


@pytest.mark.parametrize(
    ("amount", "minor_digits", "digits"),
    [
        (99_999_999, 2, "999999.99"),
        (100_000_000, 2, "--------"),
        (-9_999_999, 2, "-99999.99"),
        (-10_000_000, 2, "--------"),
        (99_999_999, 0, "99999999"),
        (5, 3, "0.005"),
    ],
)
def test_eight_places_at_most_then_dashes(amount: int, minor_digits: int, digits: str) -> None:
    assert led_digits(amount, minor_digits) == digits


# --- the exact bytes -----------------------------------------------------------------------


def test_the_cd5220_frame() -> None:
    frame = cd5220_frame(vfd_lines(DONE, 20))
    assert frame == (b"\x0c\x1b@\x1b_\x00\x1bQAPAID           10.00\r\x1bQBCHANGE          2.30\r")


def test_the_escpos_frame() -> None:
    frame = escpos_frame(vfd_lines(DONE, 20))
    assert frame == (
        b"\x0c\x1b@\x1f\x01\x1fC\x00"
        b"\x1f$\x01\x01PAID           10.00"
        b"\x1f$\x01\x02CHANGE          2.30"
    )


def test_the_led8_frames() -> None:
    assert led8_frame(*led_frame(DONE)) == b"\x0c\x1b@\x1bs4\x1bQA2.30\r"
    assert led8_frame(*led_frame(IDLE)) == b"\x0c\x1b@\x1bs0"


def test_encoders_refuse_what_a_display_would_take_as_a_command() -> None:
    with pytest.raises(ValueError, match="not printable ASCII"):
        cd5220_frame(("a\rb", ""))
    with pytest.raises(ValueError, match="not printable ASCII"):
        escpos_frame(("", "可乐"))
    with pytest.raises(ValueError, match="not an LED number"):
        led8_frame(Lamp.PRICE, "7,00")
    with pytest.raises(ValueError, match="protocol 'cd7220'"):
        frame_encoder("cd7220", 20)


# --- any view ------------------------------------------------------------------------------

amounts = st.integers(min_value=-(10**15), max_value=10**15)
texts = st.text(max_size=60)
items = st.builds(CustomerItem, texts, texts, texts, amounts)
views = st.builds(
    CustomerView,
    phase=st.sampled_from(Phase),
    last=st.none() | items,
    items=st.integers(0, 10**6),
    total=amounts,
    paid=amounts,
    due=amounts,
    change=amounts,
    savings=amounts,
    member=st.none() | texts,
    training=st.booleans(),
    idle_text=st.lists(texts, max_size=4).map(tuple),
    minor_digits=st.integers(0, 3),
)


@given(views, st.integers(8, 40))
def test_vfd_lines_are_exactly_as_wide_as_the_display_and_printable_ascii(
    view: CustomerView, columns: int
) -> None:
    lines = vfd_lines(view, columns)
    assert [len(line) for line in lines] == [columns, columns]
    assert all(" " <= c <= "~" for line in lines for c in line)
    for encode in (cd5220_frame, escpos_frame):
        assert all(byte < 0x80 for byte in encode(lines))


@given(views, st.integers(8, 40))
def test_an_amount_on_a_vfd_line_is_whole_or_dashes(view: CustomerView, columns: int) -> None:
    if view.phase is not Phase.DONE:
        return
    lower = vfd_lines(view, columns)[1]
    change = format_money(view.change, view.minor_digits)
    assert lower.endswith(change) or lower.rstrip().endswith("-")
    if lower.endswith(change) and len(change) < columns:
        assert lower[-len(change) - 1] == " "  # not the tail of a longer number


@given(views)
def test_the_led_shows_at_most_eight_places_and_never_a_wrong_number(view: CustomerView) -> None:
    lamp, digits = led_frame(view)
    assert all(byte < 0x80 for byte in led8_frame(lamp, digits))
    assert len(digits.replace(".", "")) <= 8 and digits.count(".") <= 1
    if view.phase is Phase.IDLE:
        assert (lamp, digits) == (Lamp.OFF, "")
        return
    if digits == "--------":
        return
    shown = {
        Lamp.PRICE: view.last.amount if view.last else None,
        Lamp.TOTAL: view.total,
        Lamp.COLLECT: view.paid,
        Lamp.CHANGE: view.change,
    }[lamp]
    assert digits == format_money(shown or 0, view.minor_digits)
    assert int(digits.replace(".", "")) == (shown or 0)
