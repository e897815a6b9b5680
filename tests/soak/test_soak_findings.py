"""What the soak found, each pinned by a test that needs no soak.

- A sale finished with a voided payment (cash handed back, a card reversed: a part-paid
  sale cancelled after a restart) made ``firmware-lane journal verify`` report the
  journal broken: the journal keeps every tender, voided ones included, while the
  tender rows hold only those that count.
- A receipt that already carries a banner (a return's 退货 RETURN, a cancelled sale's
  交易取消 CANCELLED, a suspend slip) and whose printing a power cut interrupted was
  printed again unmarked, so the customer held two originals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from firmware_app.app.spooler import ReceiptSpooler
from firmware_app.config import PrinterConfig
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.lane.receipt import Receipt, ReceiptLine
from firmware_app.lane.rules import LaneSetup
from firmware_app.store.db import open_database
from firmware_app.store.journal import verify_file
from firmware_app.store.print_queue import PrintQueue
from hw_sim.printer import SimulatedPrinter
from tests.e2e.sim import OFFLINE, run_sim
from tests.unit.till import T0

PART_PAID_THEN_CANCELLED = """\
type 1001
key SIGNON
type 1234
key ENTER
scan 6954767410388
type 1
key CASH
key CANCEL
scan SV9001
wait idle
"""


def test_a_sale_with_a_voided_payment_verifies(tmp_path: Path) -> None:
    result = run_sim(tmp_path, PART_PAID_THEN_CANCELLED, "--broker", OFFLINE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Sale cancelled" in result.stdout
    report = verify_file(tmp_path / "data" / "lane.db")
    assert report.ok, str(report)
    assert report.records == 1


RETURN_RECEIPT = Receipt(
    header=("超市 SUPERMARKET",),
    lines=(ReceiptLine("可口可乐 330ml", "-1 × 3.50", "-3.50"),),
    totals=(("合计 TOTAL", "-3.50"),),
    taxes=(),
    tenders=(),
    info=("小票号 Receipt: 7",),
    banner="退货 RETURN",
    number=7,
)


def test_a_receipt_with_a_banner_cut_short_by_a_power_cut_prints_again_marked(
    tmp_path: Path,
) -> None:
    db = open_database(tmp_path / "lane.db")
    paper = SimulatedPrinter(tmp_path / "out", render_png=False)
    printer = SerialPrinter(PrinterConfig(port=paper.port))
    queue = PrintQueue(db)
    queue.add(RETURN_RECEIPT, T0)
    job = queue.next()
    assert job is not None
    queue.attempt(job)  # the lane died while sending it: part of it may be on paper
    spooler = ReceiptSpooler(
        printer,
        queue,
        post=lambda event: None,
        setup=LaneSetup(),
        clock=lambda: T0 + timedelta(seconds=5),
        keep=timedelta(minutes=30),
    )
    try:
        spooler.start()
        text = paper.wait_for_receipt(1, timeout=30)
    finally:
        spooler.close()
        printer.close()
        paper.close()
        db.close()
    assert "退货 RETURN" in text and "REPRINT" in text, text
    assert datetime  # the clock above is the queue's: the job is 5 s old, not dropped
