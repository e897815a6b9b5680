"""The receipt model: what a printed receipt says, already worded and formatted.

The core fills it in (amounts formatted, labels in the lane's language); the
printer driver only lays it out for its paper width. Keeping wording here means
the ESC/POS encoder never needs to know about money, tax or languages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReceiptLine:
    """One sold (or voided) item.

    ``name`` is the product name (may be Chinese); ``detail`` is the quantity and
    unit price (``"2 × 3.50"``, ``"0.532 kg × 12.80/kg"``); ``amount`` the line
    amount formatted in the currency (``"7.00"``).
    """

    name: str
    detail: str
    amount: str
    voided: bool = False
    # Price override and discounts: (text, amount) rows printed under the line, e.g.
    # ("原价 Was 8.90 破损 damaged", "") and ("折扣 Discount 10%", "-0.89").
    notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A whole receipt, top to bottom.

    - ``banner``: printed bold and centred above everything (``"COPY 副本"``), or empty.
    - ``header``: store name and address lines, centred; the first is printed large.
    - ``lines``: the items; voided ones are printed with ``void_mark`` before the name.
    - ``totals``: (label, value) pairs; the first (the total due) is printed bold.
    - ``taxes``, ``tenders``: (label, value) pairs (tenders include the change).
    - ``info``: receipt number, lane, cashier, time: one string per printed line.
    - ``footer``: centred closing lines.
    - ``code``: the receipt's identifier for a barcode/QR, empty for none; ``code_symbol``
      forces its symbol (``"barcode"``), else the printer's setting decides.
    """

    header: tuple[str, ...]
    lines: tuple[ReceiptLine, ...]
    totals: tuple[tuple[str, str], ...]
    taxes: tuple[tuple[str, str], ...]
    tenders: tuple[tuple[str, str], ...]
    info: tuple[str, ...]
    footer: tuple[str, ...] = ()
    banner: str = ""
    void_mark: str = "VOID"
    code: str = ""
    number: int = 0  # the receipt number
    # How ``code`` is printed: "" as the printer's ``code`` setting says, or "barcode"
    # (CODE128) whatever it says: a suspend slip is read back by the lane's scanner.
    code_symbol: str = ""
