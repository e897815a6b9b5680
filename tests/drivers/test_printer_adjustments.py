"""A price override and discounts print under their line, byte for byte, and a receipt
carrying them comes back whole from the print queue (REPRINT after a restart)."""

from __future__ import annotations

from pathlib import Path

from firmware_app.drivers.escpos_encoder import ReceiptEncoder
from firmware_app.lane.receipt import Receipt, ReceiptLine
from firmware_app.store.db import open_database
from firmware_app.store.print_queue import PrintQueue, receipt_from_json, receipt_to_json
from tests.unit.till import T0, Till

RECEIPT = Receipt(
    header=(),
    lines=(
        ReceiptLine(
            "Milk 1L",
            "2 x 1.20",
            "2.40",
            notes=(("Was 1.50 damaged", ""), ("Discount 10%", "-0.24")),
        ),
    ),
    totals=(("TOTAL", "2.16"),),
    taxes=(),
    tenders=(),
    info=(),
)


def test_the_notes_print_indented_under_the_line() -> None:
    data = ReceiptEncoder(32).encode(RECEIPT)
    assert (
        b"Milk 1L\n"
        b"2 x 1.20                    2.40\n"
        b"  Was 1.50 damaged              \n"
        b"  Discount 10%             -0.24\n"
        b"--------------------------------\n"
    ) in data


def test_a_receipt_with_notes_comes_back_from_the_queue(tmp_path: Path) -> None:
    till = Till().do(
        "supervisor", "scan 6954767410388", "key 3 PRICE", "key 1 ENTER", "key 5 DISC", "key CASH"
    )
    receipt = till.state.last_receipt
    assert receipt is not None and receipt.lines[0].notes
    assert receipt_from_json(receipt_to_json(receipt)) == receipt
    db = open_database(tmp_path / "lane.db")
    try:
        PrintQueue(db).add(receipt, T0)
        assert PrintQueue(db).last_receipt() == receipt
    finally:
        db.close()
