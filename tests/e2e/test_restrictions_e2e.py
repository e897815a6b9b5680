"""End to end: a hw_sim lane sells beer at 21:59 after the age question and refuses it
at 22:00 (the item's sale hours, on the simulated clock)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw_sim.lane_sim import SAMPLE_CATALOG
from tests.e2e.sim import OFFLINE, run_sim

pytestmark = pytest.mark.e2e

SCRIPT = """\
clock 2026-12-02T21:59:00+08:00
key 1 0 0 1 SIGNON 1 2 3 4 ENTER
scan 6901035603423
key YES
key CASH
wait idle
clock 2026-12-02T22:00:00+08:00
scan 6901035603423
wait idle
"""


def test_beer_sells_at_21_59_and_is_refused_at_22_00(tmp_path: Path) -> None:
    doc = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    beer = next(item for item in doc["items"] if item["sku"] == "100238")
    beer.update(department="alcohol", min_age=18, sale_hours=["08:00", "22:00"])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    done = run_sim(tmp_path, SCRIPT, "--catalog", str(catalog), "--broker", OFFLINE)
    assert done.returncode == 0, done.stderr
    screen = (tmp_path / "out" / "screen.log").read_text(encoding="utf-8")
    assert "customer 18 or older?" in screen
    assert "青岛啤酒 500ml: sold 08:00–22:00 only" in screen
    receipts = sorted((tmp_path / "out").glob("receipt-*.txt"))
    assert len(receipts) == 1
    text = receipts[0].read_text(encoding="utf-8")
    assert "青岛啤酒" in text and "2026-12-02 21:59" in text
