"""Pictures of the screens during a sale, for the README: ``python -m hw_sim.screenshot``.

Runs hw_sim's lane with the screens served, sells a basket (counted, weighed and
voided lines, a misread barcode the lane refuses), and photographs the cashier's
screen at 1280×800 and 800×480 and the customer display, in Debian's Chromium
(``/usr/bin/chromium``, driven by Playwright: never a browser download). Needs the
test extras (``./scripts/setup-venv test``) and the chromium package
(``./scripts/ensure-chromium``).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hw_sim.lane_sim import SimLane, SimOptions
from hw_sim.script import parse_script

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SALE = """\
key 1 0 0 1 SIGNON 1 2 3 4 ENTER
type 2
key QTY
scan 6954767410388
scale 0.532
key 1 PLU
scale 0
scan 036000291452
key VOID
scan 96385074
scan 6921094000018
scan 6901045504017
scan 6954767410381
"""
PAYING = """\
key SUBTOTAL
type 50
key CASH
"""
# A member's basket under promotions (the promotions sample catalog): each promotion
# and the member price under its line, the saving in the totals.
PROMOTIONS_CATALOG = Path(__file__).parent / "samples" / "catalog-promotions.json"
PROMOTED = """\
key 1 0 0 1 SIGNON 1 2 3 4 ENTER
clock 2026-12-05T19:30:00+08:00
scan M6901234567892
type 3
key QTY
scan 6954767410388
scan 6921094000018
type 3
key QTY
scan 6902263021362
scan 96385074
type 6
key QTY
scan 036000291452
key SUBTOTAL
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settle_on(page, lines: int) -> None:
    """Wait until the page draws a snapshot with ``lines`` basket lines (a locator: the
    page's Content-Security-Policy forbids evaluating strings in it)."""
    from playwright.sync_api import expect

    expect(page.locator("#lines > [data-line]")).to_have_count(lines, timeout=10_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go (docs)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("playwright") is None:
        print("hw_sim.screenshot: needs Playwright: ./scripts/setup-venv test", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"hw_sim.screenshot: {CHROMIUM} missing: ./scripts/ensure-chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with served_lane() as (sim, browser, address):
        cashier = browser.new_page(viewport={"width": 1280, "height": 800})
        cashier.goto(address)
        customer = browser.new_page(viewport={"width": 1280, "height": 800})
        customer.goto(f"{address}customer")
        run(sim, SALE)
        settle_on(cashier, 6)
        cashier.screenshot(path=str(args.out / "screen-cashier.png"))
        small = browser.new_page(viewport={"width": 800, "height": 480})
        small.goto(address)
        settle_on(small, 6)
        small.screenshot(path=str(args.out / "screen-cashier-7in.png"))
        customer.wait_for_timeout(300)
        customer.screenshot(path=str(args.out / "screen-customer.png"))
        run(sim, PAYING)
        customer.wait_for_timeout(300)
        customer.screenshot(path=str(args.out / "screen-customer-paid.png"))
    with served_lane(catalog=PROMOTIONS_CATALOG) as (sim, browser, address):
        cashier = browser.new_page(viewport={"width": 1280, "height": 800})
        cashier.goto(address)
        run(sim, PROMOTED)
        settle_on(cashier, 5)
        cashier.wait_for_timeout(300)
        cashier.screenshot(path=str(args.out / "screen-cashier-promotions.png"))
    names = ("screen-cashier", "screen-cashier-7in", "screen-customer", "screen-customer-paid")
    for name in (*names, "screen-cashier-promotions"):
        print(args.out / f"{name}.png")
    return 0


def run(sim: SimLane, script: str) -> None:
    for command in parse_script(script):
        sim.run(command)
    sim.wait_idle()


@contextmanager
def served_lane(catalog: Path | None = None) -> Iterator[tuple[SimLane, Any, str]]:
    """A simulated lane serving its screens (on ``catalog``, else the sample), and a
    headless Chromium: (the lane, the browser, the cashier's screen's address)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hw_sim-shot-") as tmp:
        options = SimOptions(
            out=Path(tmp) / "out", catalog=catalog, echo=io.StringIO(), ui_port=port
        )
        sim = SimLane(options)
        try:
            sim.start()
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                yield sim, browser, f"http://127.0.0.1:{port}/"
                browser.close()
        finally:
            sim.close()


if __name__ == "__main__":
    sys.exit(main())
