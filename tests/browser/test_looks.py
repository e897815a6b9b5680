"""Pictures of the pages for a person to look at: a busy sale on the cashier's screen
and each phase of the customer display, at the 10" (1280×800) and 7" (800×480) sizes,
in both languages. They land in the test's tmp dir (``pytest --basetemp DIR`` keeps
them somewhere known); the test checks only that each picture was taken at its size."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import views
from tests.browser.conftest import BIG, SMALL, Pages
from tests.browser.harness import CUSTOMER, SCREEN, Harness
from tests.unit.till import Till

Shoot = Callable[[Page, str], Path]


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.parametrize("language", ["zh", "en"])
def test_pictures_of_a_busy_sale(
    harness: Harness, pages: Pages, screenshot: Shoot, language: str
) -> None:
    harness.send(SCREEN, views.frame(views.screen(views.busy_sale(), language)))
    for width, height in (BIG, SMALL):
        page = pages.open(width, height)
        page.goto(harness.url + "/")
        expect(page.locator("body")).to_have_attribute("data-draws", "1")
        path = screenshot(page, f"cashier-{language}-{width}x{height}")
        assert png_size(path) == (width, height)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_pictures_of_the_customer_display(
    harness: Harness, pages: Pages, screenshot: Shoot, language: str
) -> None:
    phases = {
        "idle": views.customer(Till(), language),
        "selling": replace(views.customer(views.busy_sale(), language), member="8800123"),
        "paying": views.customer(views.part_paid(), language),
        "done": views.customer(views.paid_sale(), language),
    }
    for v, (phase, view) in enumerate(phases.items(), start=1):
        harness.send(CUSTOMER, views.frame(view, v=v))
        for width, height in (BIG, SMALL):
            page = pages.open(width, height)
            page.goto(harness.url + "/customer")
            expect(page.locator("body")).to_have_attribute("data-phase", phase)
            path = screenshot(page, f"customer-{phase}-{language}-{width}x{height}")
            assert png_size(path) == (width, height)
