"""The customer display alone, in Chromium, against the test harness: each phase of a
sale as the real view model words it, and its socket."""

from __future__ import annotations

from dataclasses import replace

from playwright.sync_api import Page, expect

from tests.browser import views
from tests.browser.harness import CUSTOMER, SCREEN, Harness
from tests.unit.till import Till


def open_customer(page: Page, harness: Harness, frame: str) -> Page:
    harness.send(CUSTOMER, frame)
    page.goto(harness.url + "/customer")
    expect(page.locator("body")).to_have_attribute("data-draws", "1")
    return page


def test_idle_shows_the_stores_lines(harness: Harness, page: Page) -> None:
    open_customer(page, harness, views.frame(views.customer(Till())))
    expect(page.locator("body")).to_have_attribute("data-phase", "idle")
    expect(page.locator("#c-idle .idle-line")).to_have_text(list(views.IDLE_TEXT))
    expect(page.locator("#c-idle")).to_be_visible()
    for figure in ("#c-total", "#c-last", "#c-paid", "#c-change"):
        expect(page.locator(figure)).to_be_hidden()


def test_selling_shows_the_last_item_and_the_total(harness: Harness, page: Page) -> None:
    till = Till().do("signon", f"scan {views.COLA}", "scale 0.532", "key 1 PLU")
    open_customer(page, harness, views.frame(views.customer(till)))
    expect(page.locator("body")).to_have_attribute("data-phase", "selling")
    last = page.locator("#c-last")
    expect(last).to_be_visible()
    expect(last.locator(".c-last-name")).to_have_text("富士苹果")
    expect(last.locator(".c-last-qty")).to_have_text("0.532 kg × 12.80/kg")
    expect(last.locator(".c-last-amount")).to_have_text("6.81")
    expect(page.locator("#c-total")).to_have_text("10.31")
    expect(page.locator("#c-total")).to_be_visible()
    expect(page.locator("#c-total-label")).to_have_text("合计")
    expect(page.locator("#c-items")).to_have_text("2")
    expect(page.locator("#c-paid")).to_be_hidden()
    expect(page.locator("#c-change")).to_be_hidden()
    expect(page.locator("#c-idle")).to_be_hidden()
    expect(page.locator("#c-member")).to_be_hidden()
    expect(page.locator("#c-savings")).to_be_hidden()  # "0.00": nothing saved


def test_paying_shows_the_total_and_what_was_paid(harness: Harness, page: Page) -> None:
    open_customer(page, harness, views.frame(views.customer(views.part_paid(), "en")))
    expect(page.locator("body")).to_have_attribute("data-phase", "paying")
    expect(page.locator("#c-total")).to_have_text("3.50")
    expect(page.locator("#c-paid")).to_have_text("1.00")
    expect(page.locator("#c-paid-label")).to_have_text("Paid")
    expect(page.locator("#c-total")).to_be_visible()
    expect(page.locator("#c-paid")).to_be_visible()
    expect(page.locator("#c-last")).to_be_hidden()
    expect(page.locator("#c-change")).to_be_hidden()


def test_done_shows_the_change_and_thanks(harness: Harness, page: Page) -> None:
    open_customer(page, harness, views.frame(views.customer(views.paid_sale())))
    expect(page.locator("body")).to_have_attribute("data-phase", "done")
    expect(page.locator("#c-paid")).to_have_text("10.00")
    expect(page.locator("#c-change")).to_have_text("3.00")
    expect(page.locator("#c-change-label")).to_have_text("找零")
    expect(page.locator("#c-thanks")).to_have_text("谢谢惠顾")
    for shown in ("#c-paid", "#c-change", "#c-thanks"):
        expect(page.locator(shown)).to_be_visible()
    expect(page.locator("#c-last")).to_be_hidden()
    change = page.locator("#c-change").bounding_box()
    paid = page.locator("#c-paid").bounding_box()
    assert change is not None and paid is not None
    assert change["height"] > paid["height"]  # the change is what the customer looks for

    # Past [ui] customer_done_s the display is idle again.
    later = views.customer(views.later(views.paid_sale(), 30))
    harness.send(CUSTOMER, views.frame(later, v=2))
    expect(page.locator("body")).to_have_attribute("data-phase", "idle")


def test_member_and_savings_when_set(harness: Harness, page: Page) -> None:
    till = views.with_discount(Till().do("signon", f"scan {views.COLA}"), 1, 35)
    view = replace(views.customer(till), member="8800123")
    assert view.savings == "0.35"
    open_customer(page, harness, views.frame(view))
    expect(page.locator("#c-member")).to_have_text("会员 8800123")
    expect(page.locator("#c-savings")).to_have_text("节省 0.35")


def test_training_banner(harness: Harness, page: Page) -> None:
    till = Till().do("signon", f"scan {views.COLA}")
    open_customer(page, harness, views.frame(views.customer(till, training=True)))
    expect(page.locator("#training")).to_be_visible()
    expect(page.locator("#training")).to_have_text("练习 TRAINING — 不是销售凭证")
    harness.send(CUSTOMER, views.frame(views.customer(till), v=2))
    expect(page.locator("#training")).to_be_hidden()


def test_its_own_socket_offline_and_back(harness: Harness, page: Page) -> None:
    body = page.locator("body")
    open_customer(page, harness, views.frame(views.customer(Till(), "en")))
    assert harness.handshakes(SCREEN) == []
    harness.refuse(CUSTOMER)
    harness.drop(CUSTOMER)
    expect(body).to_have_attribute("data-connected", "false")
    expect(page.locator("#offline")).to_have_text("Connection lost")
    expect(page.locator("#offline")).to_be_visible()
    till = Till().do("signon", f"scan {views.COLA}")
    harness.send(CUSTOMER, views.frame(views.customer(till, "en"), v=2))
    harness.refuse(CUSTOMER, False)
    expect(body).to_have_attribute("data-v", "2")
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#c-total")).to_have_text("3.50")
    assert harness.channels[CUSTOMER].received == []  # the customer's page never sends


def test_a_cashier_snapshot_is_not_drawn_here(harness: Harness, page: Page) -> None:
    open_customer(page, harness, views.frame(views.customer(Till()), v=1))
    harness.send(CUSTOMER, views.frame(views.screen(views.busy_sale()), v=2))
    harness.send(CUSTOMER, views.frame(views.customer(views.part_paid()), v=3))
    expect(page.locator("body")).to_have_attribute("data-v", "3")
    expect(page.locator("body")).to_have_attribute("data-draws", "2")
