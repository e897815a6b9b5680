"""The whole lane in a real browser: ``python -m hw_sim --ui PORT`` with commands typed on
its console, and Debian's Chromium showing and touching the pages it serves."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.browser.test_pages import is_red, rgb
from tests.e2e.sim import OFFLINE, ROOT

TOKEN = "0123456789abcdef0123"
SIGN_ON = "key 1 0 0 1 SIGNON 1 2 3 4 ENTER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HwSim:
    """``python -m hw_sim --ui PORT`` reading commands from its console (a pipe)."""

    def __init__(self, tmp_path: Path, port: int, *, token: str = "") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.token = token
        extra = ("--ui-token", token) if token else ()
        self.log = (tmp_path / f"hw_sim-{time.monotonic_ns()}.log").open("w")
        command = [
            sys.executable, "-m", "hw_sim", "--ui", str(port), "--broker", OFFLINE,
            "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "data"), *extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=self.log, stderr=self.log, text=True
        )
        self.wait_served()

    def wait_served(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hw_sim ended: {self.process.returncode}")
            try:
                query = f"?token={self.token}" if self.token else ""
                with urllib.request.urlopen(f"{self.url}healthz{query}", timeout=1) as r:
                    if json.loads(r.read())["ok"]:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise AssertionError("hw_sim's screen never answered")

    def send(self, *lines: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{line}\n" for line in lines))
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # end of input: the run ends
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[HwSim]:
    sim = HwSim(tmp_path, free_port())
    yield sim
    sim.close()


def lines_shown(page: Page, n: int) -> None:
    expect(page.locator("#lines > [data-line]")).to_have_count(n, timeout=10_000)


def test_a_scan_shows_its_line_with_the_amount(lane: HwSim, page: Page) -> None:
    page.goto(lane.url)
    lane.send(SIGN_ON, "key 3 QTY", "scan 6954767410388")
    lines_shown(page, 1)
    line = page.locator('[data-line="1"]')
    expect(line.locator(".line-name")).to_have_text("可口可乐 330ml")
    expect(line.locator(".line-qty")).to_have_text("3 × 3.50")
    expect(line.locator(".line-amount")).to_have_text("10.50")
    expect(page.locator("#due")).to_have_text("10.50")
    expect(page.locator("#last .last-name")).to_have_text("可口可乐 330ml")


def test_touching_digits_and_cash_finishes_the_sale_and_shows_the_change(
    lane: HwSim, page: Page, tmp_path: Path
) -> None:
    page.goto(lane.url)
    for key in ["1", "0", "0", "1", "SIGNON", "1", "2", "3", "4", "ENTER"]:
        page.locator(f'[data-key="{key}"]').click()
    expect(page.locator("#cashier")).to_contain_text("1001")
    lane.send("scan 6954767410388", "scan 6921094000018")
    lines_shown(page, 2)
    expect(page.locator("#due")).to_have_text("5.50")
    for key in ("1", "0", "CASH"):
        page.locator(f'[data-key="{key}"]').click()
    expect(page.locator("#due-box")).to_have_attribute("data-kind", "change")
    expect(page.locator("#due")).to_have_text("4.50")
    lines_shown(page, 0)
    lane.close()
    receipts = list((tmp_path / "out").glob("receipt-*.txt"))
    assert len(receipts) == 1 and "4.50" in receipts[0].read_text(encoding="utf-8")


def test_a_refusal_shows_in_red(lane: HwSim, page: Page) -> None:
    page.goto(lane.url)
    lane.send(SIGN_ON, "scan 6954767410381")  # a misread check digit
    message = page.locator("#message")
    expect(message).to_have_class(re.compile(r"\berror\b"), timeout=10_000)
    assert is_red(rgb(page, "#message", "backgroundColor"))


def test_after_the_lane_restarts_the_page_shows_the_same_basket(tmp_path: Path, page: Page) -> None:
    port = free_port()
    first = HwSim(tmp_path, port)
    try:
        page.goto(first.url)
        first.send(SIGN_ON, "scan 6954767410388", "scale 0.532", "key 1 PLU")
        lines_shown(page, 2)
        run = page.evaluate("document.body.dataset.run")
        time.sleep(0.5)  # the line is durable before it is shown; let the sale settle
        first.kill()  # a power cut: the socket drops mid-sale
        expect(page.locator("body")).to_have_attribute("data-connected", "false")
        expect(page.locator("#offline")).to_be_visible()
    finally:
        first.close()
    second = HwSim(tmp_path, port)
    try:
        expect(page.locator("body")).to_have_attribute("data-connected", "true", timeout=15_000)
        assert page.evaluate("document.body.dataset.run") != run
        lines_shown(page, 2)
        expect(page.locator('[data-line="2"] .line-amount')).to_have_text("6.81")
        expect(page.locator("#offline")).to_be_hidden()
    finally:
        second.close()


def test_the_customer_page_shows_the_last_item_and_the_total(lane: HwSim, pages) -> None:
    cashier = pages.open()
    customer = pages.open()
    cashier.goto(lane.url)
    customer.goto(lane.url + "customer")
    expect(customer.locator("body")).to_have_attribute("data-phase", "idle")
    lane.send(SIGN_ON, "scan 6954767410388", "scan 96385074")
    expect(customer.locator("#c-last .c-last-name")).to_have_text(
        "法式面包 Baguette", timeout=10_000
    )
    expect(customer.locator("#c-total")).to_contain_text("13.50")
    lane.send("type 20", "key CASH")
    expect(customer.locator("body")).to_have_attribute("data-phase", "done", timeout=10_000)
    expect(customer.locator("#c-change")).to_contain_text("6.50")


def test_beyond_loopback_a_socket_without_the_token_is_refused(tmp_path: Path, pages) -> None:
    port = free_port()
    sim = HwSim(tmp_path, port, token=TOKEN)
    try:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5)
        assert refused.value.response.status_code == 403
        page = pages.open()
        page.goto(f"http://127.0.0.1:{port}/")  # the page without the token: never connected
        page.wait_for_timeout(1500)
        assert page.evaluate("document.body.dataset.connected") != "true"
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        expect(page.locator("body")).to_have_attribute("data-connected", "true")
        page.locator('[data-key="1"]').click()
        expect(page.locator("#entry")).to_have_text("1")
    finally:
        sim.close()


def test_the_pole_display_shows_the_sale(lane: HwSim, tmp_path: Path) -> None:
    lane.send(SIGN_ON, "scan 96385074", "type 20", "key CASH")
    lane.close()
    shown = (tmp_path / "out" / "customer-display.log").read_text(encoding="utf-8")
    assert "10.00" in shown and "CHANGE" in shown
