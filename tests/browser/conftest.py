"""Browser fixtures: Debian's Chromium driven by Playwright, pages at the lane's screen sizes.

``browser`` is one headless Chromium for the whole session (``/usr/bin/chromium``, never a
browser Playwright downloads; scripts/ensure-chromium installs it). ``page`` is a fresh
page at the 10" screen's 1280×800; ``pages.open(800, 480)`` opens more, at any size (the
official 7" screen is 800×480), ``touch=True`` for a touch screen. A JavaScript error or
a Content-Security-Policy violation on any page fails its test; ``pages.log(page)`` has
the addresses it requested and its console messages.
``screenshot(page, "name")`` saves ``name.png`` in the test's tmp dir and returns the path.
``harness`` serves the real static pages with a socket the test drives (harness.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

from hw_sim import screenshot as screenshot_tool
from tests.browser.harness import Harness

CHROMIUM = Path(screenshot_tool.CHROMIUM)
CHROMIUM_ARGS = screenshot_tool.CHROMIUM_ARGS
BIG = (1280, 800)  # the 10" touch screen
SMALL = (800, 480)  # the official 7" screen


@dataclass
class PageLog:
    """What a page did that a test may check afterwards."""

    errors: list[str] = field(default_factory=list)  # uncaught exceptions, CSP violations
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # "type: text" of every console message

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(./scripts/ensure-chromium, or apt-get install chromium)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


class Pages:
    """Opens pages, each in its own browser context, and closes them all at the end."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.logs: dict[Page, PageLog] = {}

    def open(self, width: int = BIG[0], height: int = BIG[1], *, touch: bool = False) -> Page:
        """A new blank page with a ``width``×``height`` CSS-pixel viewport."""
        context = self.browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            has_touch=touch,
            locale="zh-CN",
        )
        self.contexts.append(context)
        page = context.new_page()
        log = self.logs[page] = PageLog()
        page.on("pageerror", lambda e: log.errors.append(str(e)))
        page.on("console", log.on_console)
        page.on("request", lambda r: log.requests.append(r.url))
        page.set_default_timeout(5000)
        return page

    def log(self, page: Page) -> PageLog:
        return self.logs[page]

    def close(self) -> list[str]:
        """Closes every context; returns the JavaScript errors any page raised."""
        for context in self.contexts:
            context.close()
        return [e for log in self.logs.values() for e in log.errors]


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    """``pages.open(800, 480)``: more pages, at any size; a JavaScript error or a CSP
    violation on any of them fails the test."""
    opened = Pages(browser)
    yield opened
    errors = opened.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def page(pages: Pages) -> Page:
    """A page at 1280×800."""
    return pages.open(*BIG)


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """``screenshot(page, name)``: the page as ``<tmp_path>/name.png``."""

    def shoot(page: Page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return shoot


@pytest.fixture
def harness() -> Iterator[Harness]:
    with Harness() as h:
        yield h
