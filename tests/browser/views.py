"""Snapshots for page tests, made by the real view model from real lane states.

A state comes from the core's own test till (tests/unit/till.py: keys, scans and weights
through the real state machine); ``screen`` and ``customer`` turn it into the
``lane.screen/1`` / ``lane.customer/1`` views exactly as the lane does (view.screen_view,
view.customer_view + customer_screen), and ``frame`` wraps a view as the lane's socket
sends it: ``{"run", "v", "view"}``, serialised with orjson.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson

from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.view import (
    CustomerScreen,
    ScreenSetup,
    ScreenView,
    customer_screen,
    customer_view,
    screen_view,
)
from tests.unit.till import Till

COLA = "6954767410388"  # 可口可乐 330ml, 3.50
BEER = "6901035603423"  # 青岛啤酒, 6.00, age restricted
UNKNOWN = "6920000000017"
IDLE_TEXT = ("欢迎光临 幸福超市", "会员日 每周三 9.5 折")


def screen(till: Till, language: str = "zh", **changes: Any) -> ScreenView:
    """The cashier's screen for the till's state; ``changes`` replace fields of the view."""
    view = screen_view(till.state, till.setup, ScreenSetup(language=language), till.now)
    return replace(view, **changes)


def customer(till: Till, language: str = "zh", **changes: Any) -> CustomerScreen:
    """The customer display for the till's state; ``changes`` replace fields of the view."""
    setup = ScreenSetup(language=language, idle_text=IDLE_TEXT, done_s=20)
    view = customer_screen(customer_view(till.state, till.setup, setup, till.now), language)
    return replace(view, **changes)


def frame(view: ScreenView | CustomerScreen, *, run: str = "run-1", v: int = 1) -> str:
    return orjson.dumps({"run": run, "v": v, "view": view}).decode()


def unhealthy(till: Till) -> Till:
    """Every device reporting, a few of them in trouble."""
    W = StateWord
    devices = (
        (Device.BROKER, W.OFFLINE),
        (Device.CLOCK, W.OK),
        (Device.CUSTOMER_DISPLAY, W.OK),
        (Device.DRAWER, W.CLOSED),
        (Device.KEYPAD, W.OK),
        (Device.OUTBOX, W.BACKLOG),
        (Device.PRINTER, W.PAPER_OUT),
        (Device.SCALE, W.OK),
        (Device.SCANNER, W.OK),
        (Device.SCREEN, W.OK),
    )
    till.state = replace(till.state, devices=devices)
    return till


def with_discount(till: Till, line_no: int, amount: int) -> Till:
    """Line ``line_no`` of the open sale gets ``amount`` (minor units) off, as a promotion
    would give it."""
    sale = till.state.sale
    assert sale is not None
    lines = tuple(replace(li, discount=amount) if li.no == line_no else li for li in sale.lines)
    till.state = replace(till.state, sale=replace(sale, lines=lines))
    return till


def busy_sale() -> Till:
    """A realistic basket: Chinese names, a weighed line, a voided line, a discount under a
    line, a refused scan on screen (red), a printer out of paper and the uplink offline."""
    till = Till().do(
        "signon",
        f"scan {COLA}",
        "scale 0.532",
        "key 1 PLU",
        "scale 0",
        "key 3 QTY",
        f"scan {COLA}",
        "key VOID",
        "key 2 QTY",
        f"scan {COLA}",
        "key 3 0 0 1 PLU",
        f"scan {UNKNOWN}",
    )
    return unhealthy(with_discount(till, 4, 70))


def paid_sale() -> Till:
    """A sale just paid in cash: 2 colas, 10.00 handed over, 3.00 change."""
    return Till().do("signon", "key 2 QTY", f"scan {COLA}", "key 1 0 CASH")


def part_paid() -> Till:
    """A part-paid sale: 1.00 cash on a 3.50 cola."""
    return Till().do("signon", f"scan {COLA}", "key 1 CASH")


def later(till: Till, seconds: float) -> Till:
    till.now += timedelta(seconds=seconds)
    return till
