"""A suspend slip's number prints as a CODE128 barcode whatever the printer's ``code``
setting (the lane's scanner reads it back), and hw_sim's decoder shows it."""

from __future__ import annotations

import pytest

from firmware_app.drivers.escpos_encoder import ReceiptEncoder
from firmware_app.lane.effects import PrintReceipt
from hw_sim.escpos_decoder import EscposDecoder, PrintedReceipt
from tests.unit.till import Till


def printed_text(data: bytes, columns: int) -> str:
    (printed,) = [o for o in EscposDecoder(columns).feed(data) if isinstance(o, PrintedReceipt)]
    return printed.text


@pytest.mark.parametrize("setting", ["qr", "barcode", "none"])
def test_the_slip_prints_its_number_as_a_barcode(setting: str) -> None:
    till = Till().do("signon", "scan 6954767410388", "key SUSPEND")
    [slip] = [e.receipt for e in till.effects if isinstance(e, PrintReceipt)]
    text = printed_text(ReceiptEncoder(48, code=setting).encode(slip), 48)
    assert "[BARCODE CODE128 SUSP-S001-07-1]" in text
    assert "挂单 SUSPENDED 1" in text and "挂单号 Suspend no." in text
    assert "3.50" in text


def test_an_ordinary_receipt_keeps_the_printer_setting() -> None:
    till = Till().do("signon", "scan 6954767410388", "key CASH")
    [receipt] = [e.receipt for e in till.effects if isinstance(e, PrintReceipt)]
    assert receipt.code_symbol == ""
    text = printed_text(ReceiptEncoder(48, code="qr").encode(receipt), 48)
    assert "[QR S001-07-1]" in text
