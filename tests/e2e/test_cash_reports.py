"""End to end: a day at a simulated lane with a return, paid-in/out, training sales, an X and a Z
report, against a real mosquitto. Every message validates; the Z report's numbers
match totals worked out here from the sales that arrived; ``firmware-lane report z``
prints the published details again from the lane's store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import in_seq_order, run_sim, run_to_store

pytestmark = pytest.mark.e2e

SCRIPT = """\
# a supervisor's shift: float in, cash / card / mobile sales, a return, a void, a
# no-sale, a pickup, training sales, then the X and the Z report
type 9001
key SIGNON
type 9999
key ENTER
type 200
key PAIDIN
key 1 ENTER
drawer close
type 2
key QTY
scan ]E06954767410388
scan 036000291452
key VOID
type 50
key CASH
drawer close
scan ]E496385074
terminal approve
key CARD
scan ]E06954767410388
scan ]E496385074
terminal approve
key MOBILE
# one of the two colas of receipt 1 comes back, refunded in cash
type 1
key RETURN
type 1
key QTY
type 1
key ENTER
key SUBTOTAL
key CASH
drawer close
key NOSALE
drawer close
type 50
key PAIDOUT
key 1 ENTER
drawer close
key TRAINING
scan ]E496385074
key CASH
drawer close
scan ]E06954767410388
terminal approve
key CARD
key TRAINING
key XREPORT
key ZREPORT
type 180
key ENTER
key ZREPORT
wait idle
"""


def test_a_day_with_cash_movements_training_and_reports(
    tmp_path: Path, mosquitto: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    result, received = run_to_store(tmp_path, SCRIPT, mosquitto.url)
    messages = in_seq_order(received)
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    events = [m for m in messages if m["schema"] == "lane.event/1"]
    names = [e["event"] for e in events]
    for name in ("cash_in", "cash_out", "training_on", "training_off", "x_report", "z_report"):
        assert name in names, name

    sales = [m for m in messages if m["schema"] == "lane.sale/1"]
    training = [s for s in sales if s.get("training")]
    real = [s for s in sales if not s.get("training")]
    assert len(training) == 2 and len(real) == 4
    assert [s["receipt_no"] for s in training] == [1, 2]
    assert [s["receipt_no"] for s in real] == [1, 2, 3, 4]
    sold = [s for s in real if s["kind"] == "sale"]
    (returned,) = [s for s in real if s["kind"] == "return"]
    assert returned["lines"][0]["return_of"] == {"lane": "01", "receipt_no": 1, "line": 1}
    assert returned["tenders"][0]["type"] == "cash" and returned["tenders"][0]["amount"] < 0
    stocked = {m["sale_id"] for m in messages if m["schema"] == "lane.stock/1"}
    assert stocked == {s["sale_id"] for s in real}

    # The Z's numbers, worked out here from what arrived.
    tenders: dict[str, list[int]] = {}
    for sale in real:
        for tender in sale["tenders"]:
            tenders.setdefault(tender["type"], []).append(tender["amount"])
    taxes: dict[str, list[int]] = {}
    for sale in real:
        for tax in sale["taxes"]:
            totals = taxes.setdefault(tax["rate"], [0, 0])
            totals[0] += tax["gross"]
            totals[1] += tax["tax"]
    paid_in = sum(int(e["details"]["amount"]) for e in events if e["event"] == "cash_in")
    paid_out = sum(int(e["details"]["amount"]) for e in events if e["event"] == "cash_out")
    expected = sum(tenders["cash"]) - sum(s["change"] for s in real) + paid_in - paid_out

    (z_event,) = [e for e in events if e["event"] == "z_report"]
    z = z_event["details"]
    assert z["z_no"] == 1
    assert z["sales"] == {"count": 3, "total": sum(s["totals"]["total"] for s in sold)}
    assert z["returns"] == {"count": 1, "total": returned["totals"]["total"]}
    assert {t["type"]: (t["count"], t["amount"]) for t in z["tenders"]} == {
        k: (len(v), sum(v)) for k, v in tenders.items()
    }
    assert {t["rate"]: [t["gross"], t["tax"]] for t in z["taxes"]} == taxes
    assert z["voids"] == sum(ln["voided"] for s in real for ln in s["lines"]) == 1
    assert z["no_sales"] == names.count("no_sale") == 1
    assert (z["paid_in"], z["paid_out"]) == (paid_in, paid_out) == (20000, 5000)
    assert z["cash_expected"] == expected
    assert (z["cash_counted"], z["difference"]) == (18000, 18000 - expected)
    assert (z["first_seq"], z["last_seq"]) == (1, z_event["seq"] - 1)
    (x_event,) = [e for e in events if e["event"] == "x_report"]
    x = x_event["details"]
    # The X just before the Z: the same day, less the X event and the Z's approval.
    assert {k: v for k, v in x.items() if k != "last_seq"} == {
        k: z[k] for k in x if k != "last_seq"
    }
    assert x["last_seq"] < z["last_seq"]

    # The same numbers again, from the lane's store.
    config = tmp_path / "lane.toml"
    config.write_text(f'[lane]\nstore = "S001"\nlane = "01"\ndata_dir = "{tmp_path / "data"}"\n')
    day = z["business_date"]
    assert main(["report", "z", "--date", day, "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == z

    # The second ZREPORT printed the Z again and closed nothing.
    receipts = sorted((tmp_path / "out").glob("receipt-*.txt"))
    texts = [r.read_text(encoding="utf-8") for r in receipts]
    assert sum("练习 TRAINING — 不是销售凭证" in t for t in texts) == 2
    assert sum("Z 日结 Z REPORT 1" in t for t in texts) == 2
    assert any("副本 COPY" in t and "Z REPORT" in t for t in texts)
    assert any("X 报表 X REPORT" in t for t in texts)
    assert "Day " in result.stdout and "already closed" in result.stdout


def test_training_mode_survives_a_restart(tmp_path: Path) -> None:
    on = "type 9001\nkey SIGNON\ntype 9999\nkey ENTER\nkey TRAINING\nwait idle\n"
    assert run_sim(tmp_path, on).returncode == 0
    sell = "scan ]E496385074\nkey CASH\ndrawer close\nwait idle\n"
    result = run_sim(tmp_path, sell, name="again.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    db = sqlite3.connect(tmp_path / "data" / "lane.db")
    payloads = [
        json.loads(p) for (p,) in db.execute("SELECT payload FROM outboxmessage ORDER BY seq")
    ]
    (sale,) = [p for p in payloads if p["schema"] == "lane.sale/1"]
    assert sale["training"] is True and sale["receipt_no"] == 1
    assert not [p for p in payloads if p["schema"] == "lane.stock/1"]
    assert db.execute('SELECT COUNT(*) FROM "transaction"').fetchone() == (0,)
