"""Wording a finished sale as a receipt, in the lane's receipt language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from firmware_app.lane.catalog import Unit
from firmware_app.lane.line_notes import line_notes
from firmware_app.lane.money import format_money, format_qty, rate_text
from firmware_app.lane.receipt import Receipt, ReceiptLine
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.sale import FinishedSale, Line, SaleKind, TenderType
from firmware_app.lane.weighing import format_kg

LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "total": "合计",
        "discount": "优惠",
        "saved": "共节省",
        "rounding": "抹零",
        "tax": "含税",
        "change": "找零",
        "cash": "现金",
        "card": "银行卡",
        "mobile": "移动支付",
        "receipt": "小票号",
        "lane": "收银台",
        "cashier": "收银员",
        "member": "会员",
        "void": "作废",
        "cancelled": "交易取消",
        "return": "退货",  # returns
        "copy": "副本",
        "reprint": "重打",
        "items": "件数",
        "points": "积分",  # members
        "balance": "积分余额",
    },
    "en": {
        "total": "TOTAL",
        "discount": "Discount",
        "saved": "You saved",
        "rounding": "Rounding",
        "tax": "incl. tax",
        "change": "Change",
        "cash": "Cash",
        "card": "Card",
        "mobile": "Mobile",
        "receipt": "Receipt",
        "lane": "Lane",
        "cashier": "Cashier",
        "member": "Member",
        "void": "VOID",
        "cancelled": "CANCELLED",
        "return": "RETURN",  # returns
        "copy": "COPY",
        "reprint": "REPRINT",
        "items": "Items",
        "points": "Points",  # members
        "balance": "Balance",
    },
}


def _label(language: str, key: str) -> str:
    if language == "zh-en":
        return f"{LABELS['zh'][key]} {LABELS['en'][key]}"
    return LABELS.get(language, LABELS["en"])[key]


def build_receipt(record: FinishedSale, setup: LaneSetup) -> Receipt:
    """The receipt of ``record``: lines with qty × price, voids marked, tax per rate,
    tenders and change, receipt number, lane, cashier and time."""
    lang = setup.receipt.language
    digits = setup.rules.minor_digits

    def money(amount: int) -> str:
        return format_money(amount, digits)

    totals = [(_label(lang, "total"), money(record.total))]
    if record.discount > 0:  # promotions: what the customer saved, all told
        totals.append((_label(lang, "saved"), money(-record.discount)))
    elif record.discount:
        totals.append((_label(lang, "discount"), money(-record.discount)))
    if record.rounding:
        totals.append((_label(lang, "rounding"), money(record.rounding)))
    # A voided tender (cash handed back, a card reversed) stays on paper, marked.
    tenders = [
        (
            f"{_label(lang, t.type.value)} {_label(lang, 'void')}"
            if t.voided
            else _label(lang, t.type.value),
            money(t.amount),
        )
        for t in record.tenders
    ]
    if any(t.type is TenderType.CASH and not t.voided for t in record.tenders):
        tenders.append((_label(lang, "change"), money(record.change)))
    # Training mode: its own numbers (T1, T2, ...), a banner, no barcode to return by.
    number = f"T{record.receipt_no}" if record.training else str(record.receipt_no)
    info = [
        f"{_label(lang, 'receipt')}: {number}   {_label(lang, 'lane')}: {setup.store}-{setup.lane}",
        f"{_label(lang, 'cashier')}: {record.cashier}",
        record.closed_at.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    if record.member:
        info[2:2] = _member_lines(record, lang)  # members and points
    return Receipt(
        header=setup.receipt.header,
        lines=tuple(_line(line, digits, lang) for line in record.lines),
        totals=tuple(totals),
        taxes=tuple(
            (f"{_label(lang, 'tax')} {rate_text(t.rate)}%  {money(t.gross)}", money(t.tax))
            for t in record.taxes
        ),
        tenders=tuple(tenders),
        info=tuple(info),
        footer=setup.receipt.footer,
        banner=_banner(record, lang),
        void_mark=_label(lang, "void"),
        code="" if record.training else f"{setup.store}-{setup.lane}-{record.receipt_no}",
        number=record.receipt_no,
    )


def _member_lines(record: FinishedSale, lang: str) -> list[str]:
    """The member (with the name the store server gave, when it verified it), the points
    this transaction earns or takes back, and the balance after it when known."""
    check = record.member_check
    name = f" {check.name}" if check is not None and check.verified and check.name else ""
    points = f"{_label(lang, 'points')}: {record.points:+d}"
    if check is not None and check.verified and check.balance is not None:
        points += f"   {_label(lang, 'balance')}: {check.balance + record.points}"
    return [f"{_label(lang, 'member')}: {record.member}{name}", points]


TRAINING_BANNER = "练习 TRAINING — 不是销售凭证"


def _banner(record: FinishedSale, lang: str) -> str:
    if record.training:
        return TRAINING_BANNER  # in both languages whatever the receipt's: it must not pass
    if record.kind is SaleKind.RETURN:  # returns: the customer's proof of the refund
        return _label(lang, "return")
    return _label(lang, "cancelled") if record.kind is SaleKind.CANCELLED else ""


def _line(line: Line, digits: int, lang: str) -> ReceiptLine:
    # Member price, promotions, price override and discounts: each under the line.
    notes = line_notes(line, lambda m: format_money(m, digits), lang)
    return ReceiptLine(
        line.name, line_detail(line, digits), format_money(line.amount, digits), line.voided, notes
    )


def line_detail(line: Line, digits: int) -> str:
    """Quantity × unit price as receipts and screens show it: ``"2 × 3.50"``,
    ``"0.532 kg × 12.80/kg"`` (a weight as the scale reported it)."""
    price = format_money(line.unit_price, digits)
    if line.unit is Unit.KG:
        # The scale's own figure (legal for trade), without its leading zeros.
        weight = (line.weight_text.lstrip("0") or "0") if line.weight_text else format_kg(line.qty)
        weight = "0" + weight if weight.startswith(".") else weight
        weight = "-" + weight if line.qty < 0 else weight  # returns: weight given back
        return f"{weight} kg × {price}/kg"
    return f"{format_qty(line.qty)} × {price}"


def with_banner(receipt: Receipt, key: str, setup: LaneSetup) -> Receipt:
    """The same receipt marked, e.g. as a copy (``key="copy"``); a banner it has already
    (退货 RETURN) stays, the mark after it."""
    label = _label(setup.receipt.language, key)
    return replace(receipt, banner=f"{receipt.banner} {label}" if receipt.banner else label)
