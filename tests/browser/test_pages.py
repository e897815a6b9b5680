"""The cashier's page alone, in Chromium, against the test harness (harness.py): what it
draws from real snapshots, what it sends, and how it keeps up with the lane's socket."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect

from firmware_app.config import KEY_NAMES
from firmware_app.lane.member_check import CheckState, MemberCheck
from firmware_app.lane.pricing import PromoShare
from firmware_app.lane.view import Choice
from tests.browser import views
from tests.browser.conftest import SMALL, Pages
from tests.browser.harness import CUSTOMER, SCREEN, Harness
from tests.unit.till import Till


def open_cashier(page: Page, harness: Harness, *frames: str, path: str = "/") -> Page:
    """The cashier's page, connected, with ``frames`` sent and the last one drawn."""
    for frame in frames:
        harness.send(SCREEN, frame)
    page.goto(harness.url + path)
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    if frames:
        expect(page.locator("body")).to_have_attribute("data-draws", "1")
    return page


def rgb(page: Page, selector: str, prop: str) -> tuple[int, ...]:
    value = page.locator(selector).evaluate(f"e => getComputedStyle(e).{prop}")
    return tuple(int(n) for n in re.findall(r"\d+", value)[:3])


def is_red(color: tuple[int, ...]) -> bool:
    r, g, b = color
    return r >= 150 and g <= 80 and b <= 80


def is_amber(color: tuple[int, ...]) -> bool:
    r, g, b = color
    return r >= 200 and 120 <= g <= 200 and b <= 80


# --- what it draws ---------------------------------------------------------------------


def test_lines_show_their_name_quantity_and_amount(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    lines = page.locator("#lines > [data-line]")
    expect(lines).to_have_count(5)
    weighed = page.locator('[data-line="2"]')
    expect(weighed.locator(".line-name")).to_have_text("富士苹果")
    expect(weighed.locator(".line-qty")).to_have_text("0.532 kg × 12.80/kg")
    expect(weighed.locator(".line-amount")).to_have_text("6.81")
    expect(page.locator('[data-line="4"] .line-qty')).to_have_text("2 × 3.50")
    expect(page.locator('[data-line="5"]')).to_have_class(re.compile(r"\bnewest\b"))


def test_a_voided_line_stays_struck_through(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    voided = page.locator('[data-line="3"]')
    expect(voided).to_have_class(re.compile(r"\bvoided\b"))
    for part in (".line-name", ".line-amount"):
        expect(voided.locator(part)).to_have_css("text-decoration-line", "line-through")
    expect(page.locator('[data-line="1"] .line-name')).to_have_css("text-decoration-line", "none")


def test_discounts_show_under_their_line(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    sub = page.locator('[data-line="4"] .sub')
    expect(sub).to_have_count(1)
    expect(sub.locator(".sub-text")).to_have_text("优惠")
    expect(sub.locator(".sub-amount")).to_have_text("-0.70")
    expect(page.locator('[data-line="1"] .sub')).to_have_count(0)


def test_due_totals_last_item_and_scale(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    expect(page.locator("#due")).to_have_text("26.61")
    expect(page.locator("#due-label")).to_have_text("应付")
    expect(page.locator("#due-box")).to_have_attribute("data-kind", "due")
    expect(page.locator("#total")).to_have_text("26.61")
    expect(page.locator("#discount")).to_have_text("0.70")
    expect(page.locator("#items")).to_have_text("5")
    expect(page.locator("#last .last-name")).to_have_text("Bread")
    expect(page.locator("#last .last-qty")).to_have_text("1 × 10.00")
    expect(page.locator("#last .last-amount")).to_have_text("10.00")
    expect(page.locator("#scale")).to_have_attribute("data-state", "stable")
    expect(page.locator("#scale-weight")).to_have_text("0.000 kg")
    expect(page.locator("#scale-text")).to_have_text("稳定")
    expect(page.locator("#lane-id")).to_have_text("收银台 S001-07")
    expect(page.locator("#cashier")).to_have_text("收银员 1001")
    expect(page.locator("#receipt")).to_have_text("小票 1")
    expect(page.locator("#clock")).to_have_text("2026-11-28 09:00")
    expect(page.locator("#prompt")).to_have_text("请扫描商品")


def test_change_replaces_the_due_after_a_cash_sale(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.paid_sale(), "en")))
    expect(page.locator("#due")).to_have_text("3.00")
    expect(page.locator("#due-label")).to_have_text("Change")
    expect(page.locator("#due-box")).to_have_attribute("data-kind", "change")


def test_no_scale_no_weight(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till())))
    expect(page.locator("#scale")).to_be_hidden()
    expect(page.locator("#cashier")).to_have_text("未登录")


def test_entry_is_shown_as_the_lane_sends_it(harness: Harness, page: Page) -> None:
    pin = Till().do("key 1 0 0 1 SIGNON 1 2 3")
    open_cashier(page, harness, views.frame(views.screen(pin)))
    expect(page.locator("#entry")).to_have_text("***")  # masked by the lane
    qty = Till().do("signon", "key 1 2")
    harness.send(SCREEN, views.frame(views.screen(qty, qty=3), v=2))
    expect(page.locator("#entry")).to_have_text("12")
    expect(page.locator("#qty")).to_have_text("数量 3 ×")


def test_an_error_is_red_and_a_warning_amber(harness: Harness, page: Page) -> None:
    refused = views.busy_sale()
    open_cashier(page, harness, views.frame(views.screen(refused)))
    expect(page.locator("#message")).to_have_text("条码错误，请重扫")
    expect(page.locator("#message")).to_have_class("message error")
    assert is_red(rgb(page, "#message", "backgroundColor"))

    beer = Till().do("signon", f"scan {views.BEER}")
    warning = views.screen(beer)
    assert warning.message is not None and warning.message.level == "warning"
    harness.send(SCREEN, views.frame(warning, v=2))
    expect(page.locator("#message")).to_have_class("message warning")
    assert is_amber(rgb(page, "#message", "backgroundColor"))

    info = views.screen(Till().do("signon"))
    assert info.message is not None and info.message.level == "info"
    harness.send(SCREEN, views.frame(info, v=3))
    expect(page.locator("#message")).to_have_class("message info")
    background = rgb(page, "#message", "backgroundColor")
    assert not is_red(background) and not is_amber(background)


def test_health_indicators_by_level(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    expect(page.locator("#health > [data-device]")).to_have_count(10)
    printer = page.locator('#health > [data-device="printer"]')
    expect(printer).to_have_text("打印机 缺纸")  # in trouble: what is wrong, in its words
    expect(page.locator('#health > [data-device="scanner"]')).to_have_text("扫描枪")
    expect(printer).to_have_class("chip error")
    assert is_red(rgb(page, '#health > [data-device="printer"]', "backgroundColor"))
    expect(page.locator('#health > [data-device="broker"]')).to_have_class("chip warning")
    assert is_amber(rgb(page, '#health > [data-device="broker"]', "backgroundColor"))
    expect(page.locator('#health > [data-device="scanner"]')).to_have_class("chip info")


def test_training_banner(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till().do("signon"))))
    expect(page.locator("#training")).to_be_hidden()
    harness.send(SCREEN, views.frame(views.screen(Till().do("signon"), training=True), v=2))
    expect(page.locator("#training")).to_be_visible()
    expect(page.locator("#training")).to_have_text("练习 TRAINING — 不是销售凭证")


def test_the_basket_follows_the_newest_line(harness: Harness, pages: Pages) -> None:
    page = pages.open(*SMALL)
    long = Till().do("signon", *[f"scan {views.COLA}"] * 30)
    open_cashier(page, harness, views.frame(views.screen(long)))
    expect(page.locator('[data-line="30"]')).to_be_in_viewport(ratio=0.99)
    assert_fully_shown(page, '[data-line="30"]')

    # The cashier scrolls up to look: a new snapshot with the same newest line (the
    # scale moved) leaves the basket where it is; a new line brings it back down.
    basket = page.locator("#basket-scroll")
    basket.hover()
    page.mouse.wheel(0, -400)
    expect(page.locator('[data-line="30"]')).not_to_be_in_viewport()
    top = basket.evaluate("e => e.scrollTop")
    harness.send(SCREEN, views.frame(views.screen(long.do("scale 0.2")), v=2))
    expect(page.locator("body")).to_have_attribute("data-v", "2")
    assert basket.evaluate("e => e.scrollTop") == top
    harness.send(SCREEN, views.frame(views.screen(long.do(f"scan {views.COLA}")), v=3))
    expect(page.locator('[data-line="31"]')).to_be_in_viewport(ratio=0.99)
    assert_fully_shown(page, '[data-line="31"]')


def assert_fully_shown(page: Page, selector: str) -> None:
    """``selector``'s box is inside the basket's visible part (to the pixel)."""
    basket = page.locator("#basket-scroll").bounding_box()
    box = page.locator(selector).bounding_box()
    assert basket is not None and box is not None
    assert box["y"] >= basket["y"] - 1
    assert box["y"] + box["height"] <= basket["y"] + basket["height"] + 1


def test_captions_follow_the_snapshots_language(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till())))
    expect(page.locator('[data-key="CASH"]')).to_have_text("现金")
    expect(page.locator('[data-key="ENTER"]')).to_have_text("确认")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    harness.send(SCREEN, views.frame(views.screen(Till(), "en"), v=2))
    expect(page.locator('[data-key="CASH"]')).to_have_text("Cash")
    expect(page.locator('[data-key="ENTER"]')).to_have_text("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#prompt")).to_have_text("ID, then SIGNON")


# --- what it sends ---------------------------------------------------------------------


def test_every_key_has_a_button_that_sends_its_name(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till())))
    buttons = page.locator("[data-key]")
    assert sorted(buttons.evaluate_all("bs => bs.map(b => b.dataset.key)")) == sorted(KEY_NAMES)
    names = sorted(KEY_NAMES)
    for name in names:
        page.locator(f'[data-key="{name}"]').click()
    assert harness.wait_keys(len(names)) == names


def test_a_touch_sends_one_key(harness: Harness, pages: Pages) -> None:
    page = open_cashier(pages.open(touch=True), harness, views.frame(views.screen(Till())))
    for name in ("7", "CASH", "ENTER"):
        page.locator(f'[data-key="{name}"]').tap()
    # Frames arrive in order on one socket: a second frame for a touch would come first.
    assert harness.wait_keys(3) == ["7", "CASH", "ENTER"]


def test_sliding_off_a_key_takes_the_touch_back(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till())))
    box = page.locator('[data-key="CANCEL"]').bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(page.locator('[data-key="CANCEL"]')).to_have_class(re.compile(r"\bpressed\b"))
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 3)
    page.mouse.up()
    expect(page.locator('[data-key="CANCEL"]')).not_to_have_class(re.compile(r"\bpressed\b"))
    page.locator('[data-key="1"]').click()
    assert harness.wait_keys(1) == ["1"]


def test_a_choice_keys_its_number_then_enter(harness: Harness, page: Page) -> None:
    asking = views.part_paid().do("key VOID")
    view = views.screen(asking)
    assert [c.no for c in view.choices] == [1]
    view = replace(view, choices=(*view.choices, Choice(12, "12 移动支付 2.50")))
    open_cashier(page, harness, views.frame(view))
    expect(page.locator("#choices")).to_be_visible()
    expect(page.locator('[data-choice="1"]')).to_have_text("1 现金 1.00")
    page.locator('[data-choice="12"]').click()
    assert harness.wait_keys(3) == ["1", "2", "ENTER"]
    harness.send(SCREEN, views.frame(views.screen(views.part_paid()), v=2))
    expect(page.locator("#choices")).to_be_hidden()


def test_a_key_touched_offline_is_never_sent(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(Till())))
    harness.refuse(SCREEN)
    harness.drop(SCREEN)
    expect(page.locator("body")).to_have_attribute("data-connected", "false")
    page.locator('[data-key="5"]').dispatch_event("pointerdown", {"pointerId": 1, "button": 0})
    page.locator('[data-key="5"]').dispatch_event("pointerup", {"pointerId": 1, "button": 0})
    harness.refuse(SCREEN, False)
    expect(page.locator("body")).to_have_attribute("data-connected", "true")
    page.locator('[data-key="6"]').click()
    assert harness.wait_keys(1) == ["6"]


# --- keeping up with the lane ----------------------------------------------------------


def test_a_stale_frame_is_ignored_and_a_new_run_accepted(harness: Harness, page: Page) -> None:
    body = page.locator("body")
    newest = views.screen(Till().do("signon", f"scan {views.COLA}"))
    open_cashier(page, harness, views.frame(newest, run="a", v=5))
    stale = views.screen(Till())
    harness.send(SCREEN, views.frame(stale, run="a", v=4))
    harness.send(SCREEN, views.frame(stale, run="a", v=5))
    harness.send(SCREEN, views.frame(views.screen(Till().do("signon")), run="a", v=6))
    expect(body).to_have_attribute("data-v", "6")
    expect(body).to_have_attribute("data-draws", "2")  # 4 and 5 again were never drawn

    restarted = views.screen(Till(), "en")
    harness.send(SCREEN, views.frame(restarted, run="b", v=1))
    expect(body).to_have_attribute("data-run", "b")
    expect(body).to_have_attribute("data-v", "1")
    expect(page.locator("#cashier")).to_have_text("Signed off")


def test_frames_that_are_not_snapshots_are_ignored(harness: Harness, page: Page) -> None:
    body = page.locator("body")
    open_cashier(page, harness, views.frame(views.screen(Till()), v=1))
    harness.send(SCREEN, "not json")
    harness.send(SCREEN, '{"run": "run-1", "v": 2}')
    harness.send(SCREEN, views.frame(views.customer(Till()), v=3))  # the other page's view
    harness.send(SCREEN, views.frame(views.screen(Till().do("signon")), v=4))
    expect(body).to_have_attribute("data-v", "4")
    expect(body).to_have_attribute("data-draws", "2")
    expect(body).to_have_attribute("data-connected", "true")


def test_it_reconnects_and_shows_the_newest_snapshot(harness: Harness, page: Page) -> None:
    body = page.locator("body")
    open_cashier(page, harness, views.frame(views.screen(Till()), v=1))
    harness.refuse(SCREEN)
    harness.drop(SCREEN)
    expect(body).to_have_attribute("data-connected", "false")
    offline = page.locator("#offline")
    expect(offline).to_be_visible()
    expect(offline).to_have_text("连接断开")  # labels.offline of the last snapshot
    assert float(page.locator("main").evaluate("e => getComputedStyle(e).opacity")) < 1
    expect(page.locator("#cashier")).to_have_text("未登录")  # the last snapshot stays

    harness.send(SCREEN, views.frame(views.screen(Till().do("signon")), v=2))
    harness.refuse(SCREEN, False)
    expect(body).to_have_attribute("data-connected", "true")
    expect(body).to_have_attribute("data-v", "2")
    expect(offline).to_be_hidden()
    expect(page.locator("#cashier")).to_have_text("收银员 1001")
    assert page.locator("main").evaluate("e => getComputedStyle(e).opacity") == "1"


def test_offline_before_any_snapshot(harness: Harness, page: Page) -> None:
    harness.refuse(SCREEN)
    page.goto(harness.url + "/")
    harness.wait_handshakes(SCREEN, 2)  # refused, then tried again
    expect(page.locator("#offline")).to_have_text("离线 / Offline")
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-connected", "false")


def test_reconnects_back_off_from_half_a_second_to_five(harness: Harness, page: Page) -> None:
    open_cashier(page, harness)
    waits = page.evaluate("[0, 1, 2, 3, 4, 5, 20].map(LaneSocket.backoff)")
    assert waits == [500, 1000, 2000, 4000, 5000, 5000, 5000]


def test_one_socket_on_its_own_host_never_anything_else(harness: Harness, pages: Pages) -> None:
    page = pages.open()
    open_cashier(page, harness, views.frame(views.screen(views.busy_sale())))
    assert harness.connected(SCREEN) == 1
    assert harness.handshakes(SCREEN)[0].origin == harness.url
    assert harness.handshakes(CUSTOMER) == []
    requested = pages.log(page).requests
    assert requested, "the page loaded nothing?"
    assert all(url.startswith(harness.url + "/") for url in requested), requested


def test_the_token_comes_from_the_pages_address(pages: Pages) -> None:
    with Harness(token="s3cret") as harness:
        page = pages.open()
        open_cashier(page, harness, views.frame(views.screen(Till())), path="/?token=s3cret")
        assert harness.handshakes(SCREEN)[-1].query == "token=s3cret"

        other = pages.open()
        other.goto(harness.url + "/")
        harness.wait_handshakes(SCREEN, 2)
        refused = harness.handshakes(SCREEN)[1]
        assert (refused.query, refused.accepted) == ("", False)
        expect(other.locator("body")).to_have_attribute("data-connected", "false")


# --- the screen's layout ---------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(800, 480), (1280, 800)])
def test_every_key_is_on_screen_and_big_enough(
    harness: Harness, pages: Pages, width: int, height: int
) -> None:
    busiest = views.screen(views.busy_sale(), training=True, qty=3)
    page = open_cashier(pages.open(width, height), harness, views.frame(busiest))
    boxes = page.locator("[data-key]").evaluate_all(
        "bs => bs.map(b => [b.dataset.key, b.getBoundingClientRect().toJSON()])"
    )
    assert len(boxes) == len(KEY_NAMES)
    for name, box in boxes:
        assert box["left"] >= 0 and box["top"] >= 0, name
        assert box["right"] <= width and box["bottom"] <= height, (name, box)
        assert box["height"] >= 44 and box["width"] >= 44, (name, box)
    scroll = page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
    assert scroll[0] <= scroll[1]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(("width", "height"), [(800, 480), (1280, 800)])
def test_every_caption_fits_its_key(
    harness: Harness, pages: Pages, width: int, height: int, language: str
) -> None:
    view = views.screen(Till(), language)
    page = open_cashier(pages.open(width, height), harness, views.frame(view))
    expect(page.locator("body")).to_have_attribute("data-lang", language)
    cut = page.locator("[data-key]").evaluate_all(
        """bs => bs.filter(b => b.scrollWidth > b.clientWidth || b.scrollHeight > b.clientHeight)
                   .map(b => b.dataset.key)"""
    )
    assert cut == []


@pytest.mark.parametrize(("width", "height"), [(800, 480), (1280, 800)])
def test_the_keys_never_move(harness: Harness, pages: Pages, width: int, height: int) -> None:
    """Whatever the snapshot shows (a scale or none, a last item or none, a message or
    none), every key stays where the cashier's finger expects it."""
    page = open_cashier(pages.open(width, height), harness, views.frame(views.screen(Till())))

    def where() -> list[object]:
        return page.locator("[data-key]").evaluate_all(
            "bs => bs.map(b => [b.dataset.key, b.getBoundingClientRect().toJSON()])"
        )

    empty = where()
    harness.send(SCREEN, views.frame(views.screen(views.busy_sale(), qty=3), v=2))
    expect(page.locator("body")).to_have_attribute("data-v", "2")
    assert where() == empty


# --- promotions and members --------------------------------------------------------------


def promoted_member_sale() -> Till:
    """Two colas, the second at half price (a promotion), for a verified member."""
    till = Till().do("signon", "key 2 QTY", f"scan {views.COLA}")
    sale = till.state.sale
    assert sale is not None
    half = PromoShare("P9", "可乐第二件半价", 175)
    lines = tuple(replace(ln, promotions=(half,), discount=175) for ln in sale.lines)
    check = MemberCheck("r1", till.now, CheckState.VERIFIED, "王芳", 120)
    sale = replace(sale, lines=lines, member="8800000000016", member_check=check)
    till.state = replace(till.state, sale=sale)
    return till


def test_a_promotion_shows_under_its_line_with_its_name(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(promoted_member_sale())))
    sub = page.locator('[data-line="1"] .sub')
    expect(sub.locator(".sub-text")).to_have_text("可乐第二件半价")
    expect(sub.locator(".sub-amount")).to_have_text("-1.75")
    expect(page.locator("#discount")).to_have_text("1.75")


def test_the_member_shows_with_name_and_points_once_verified(harness: Harness, page: Page) -> None:
    open_cashier(page, harness, views.frame(views.screen(promoted_member_sale())))
    expect(page.locator("#member")).to_be_visible()
    expect(page.locator("#member")).to_have_text("会员 王芳 · 积分 120")
    expect(page.locator("#member")).to_have_attribute("data-state", "verified")
    till = promoted_member_sale()
    sale = till.state.sale
    assert sale is not None
    till.state = replace(till.state, sale=replace(sale, member_check=None))
    harness.send(SCREEN, views.frame(views.screen(till), v=2))
    expect(page.locator("#member")).to_have_text("会员 8800000000016 · 未验证")
    harness.send(SCREEN, views.frame(views.screen(Till().do("signon")), v=3))
    expect(page.locator("#member")).to_be_hidden()
