"""A part-paid sale can be left: after cash and a declined card, and a restart that brings
the sale back, a supervisor cancels it and the cash goes back to the customer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware_app.sync.validation import validate
from tests.e2e.sim import OFFLINE, run_sim

pytestmark = pytest.mark.e2e

PART_PAID = """\
type 1001
key SIGNON
type 1234
key ENTER
scan 6954767410388
type 2
key CASH
terminal decline
key CARD
wait idle
key SIGNOFF
wait idle
"""

CANCEL = """\
key CANCEL
type 9001
key ENTER
type 9999
key ENTER
drawer close
wait idle
key SIGNOFF
wait idle
"""


def test_a_part_paid_sale_is_cancelled_after_a_restart(tmp_path: Path) -> None:
    first = run_sim(tmp_path, PART_PAID, "--broker", OFFLINE, name="part-paid.txt")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "card declined: simulated decline" in first.stdout
    assert "Finish or cancel the sale first" in first.stdout

    second = run_sim(tmp_path, CANCEL, "--broker", OFFLINE, name="cancel.txt")
    assert second.returncode == 0, second.stdout + second.stderr
    said = [
        "Open sale restored (1 line)",
        "Supervisor ID, then ENTER",
        "Sale cancelled: hand back cash 2.00",
        "Signed off",
    ]
    positions = [second.stdout.find(text) for text in said]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), second.stdout

    db = tmp_path / "data" / "lane.db"
    with sqlite3.connect(db) as reader:
        assert reader.execute('select kind, total from "transaction"').fetchall() == [
            ("cancelled", 0)
        ]
        assert reader.execute("select count(*) from opensale").fetchone() == (0,)
        payload = reader.execute(
            "select payload from outboxmessage where topic like '%/sales'"
        ).fetchone()[0]
    sale = json.loads(payload)
    validate(sale)
    assert sale["tenders"] == [{"type": "cash", "amount": 200, "voided": True}]
    receipt = (tmp_path / "out" / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "CANCELLED" in receipt and "现金 Cash 作废 VOID" in receipt
