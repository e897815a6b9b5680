"""X and Z reports at the keypad.

``XREPORT`` prints the day so far (any signed-on cashier; an ``x_report`` event).
``ZREPORT`` closes the day: a supervisor approves, the cashier keys the counted cash
blind (the expected amount is shown only after), then the Z record, its ``z_report``
event and its printout are committed together (durable, before anything prints). A
closed day refuses a second Z and prints its Z again, marked as a copy.

A Z closes the lane's local date now, in its configured zone; what the lane does
after it that same date counts in the next business date, whose Z closes it (the X
after a Z shows that date so far). The numbers come from the store
(``ReportPort``), as ``firmware-lane report x|z`` reads them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.day_report import ReportPort, ZRecord, details
from firmware_app.lane.effects import AuditEvent, PrintReceipt, RecordEvent, RecordZReport
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import format_money, parse_money
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import Action, Approval, LaneState, Mode


def _port(ctx: Ctx) -> ReportPort | None:
    return ctx.ports.reports


def x_report(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    port = _port(ctx)
    if port is None:
        return refuse(state, Msg.NOT_AVAILABLE, key=key)
    if state.sale is not None:
        return refuse(state, Msg.SALE_OPEN)
    day = port.period_date(ctx.now)  # after the day's Z: the next business date so far
    body = details(port.day(day, ctx.now))
    after = replace(state, entry="", message=Message.of(Msg.X_REPORT_PRINTED, date=day))
    event = _event(after, "x_report", body, ctx)
    return after, (event, PrintReceipt(report_receipt(body, ctx.setup, state)))


def z_asked(state: LaneState, key: str, ctx: Ctx) -> Approval | Outcome:
    """What ``ZREPORT`` asks a supervisor to approve, or the answer without one: no
    reports here, a sale open, or the day already closed (its Z printed again)."""
    port = _port(ctx)
    if port is None:
        return refuse(state, Msg.NOT_AVAILABLE, key=key)
    if state.sale is not None:
        return refuse(state, Msg.SALE_OPEN)
    day = port.business_date(ctx.now)
    closed = port.z_of(day)
    if closed is None:
        return Approval(Action.Z_REPORT)
    message = Message.of(Msg.DAY_CLOSED, date=day, z_no=closed.z_no)
    after = replace(state, entry="", message=message)
    published = port.z_details(day)
    if published is None:
        return after, ()
    copy = report_receipt(published, ctx.setup, state, copy=True)
    return after, (PrintReceipt(copy),)


def z_approved(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    """Ask the counted cash, and nothing of what is expected."""
    after = replace(state, mode=Mode.COUNTED_CASH, entry="", approval=approval)
    return replace(after, message=Message.of(Msg.COUNT_CASH)), ()


def counted_key(state: LaneState, key: str, ctx: Ctx) -> Outcome:
    """The counted cash (currency units) and ENTER closes the day."""
    if key != "ENTER":
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return refuse(state, Msg.NEEDS_ENTRY, key=key)
    try:
        counted = parse_money(state.entry, ctx.setup.rules.minor_digits)
    except ValueError:
        return refuse(state, Msg.BAD_ENTRY, key=key)
    port = _port(ctx)
    assert port is not None and state.cashier is not None
    day = port.business_date(ctx.now)
    z = ZRecord(port.next_z_no(), day, counted)
    body = details(port.day(day, ctx.now), z)
    after = replace(state, mode=Mode.READY, entry="", approval=None)
    money = ctx.money
    message = Message.of(
        Msg.Z_REPORT_DONE,
        z_no=z.z_no,
        date=day,
        expected=money(body["cash_expected"]),
        counted=money(counted),
        difference=money(body["difference"]),
    )
    after = replace(after, message=message)
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    record = RecordZReport(z.z_no, day, ctx.now, state.cashier.id, text)
    # Exactly what the store keeps and ``firmware-lane report z`` prints; the approval
    # is its own event (approval).
    event = _event(after, "z_report", body, ctx)
    return after, (record, event, PrintReceipt(report_receipt(body, ctx.setup, state)))


def clear(state: LaneState) -> Outcome:
    """CLEAR while counting: the amount keyed so far, then the Z itself (nothing closed)."""
    if state.entry:
        return replace(state, entry=""), ()
    return replace(state, mode=Mode.READY, approval=None, message=None), ()


def _event(state: LaneState, type: str, body: dict[str, Any], ctx: Ctx) -> RecordEvent:
    cashier = state.cashier.id if state.cashier else None
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if type == "z_report":
        return RecordEvent(AuditEvent("z_report", ctx.now, cashier, None, data=data))
    return RecordEvent(AuditEvent("x_report", ctx.now, cashier, None, data=data))


# --- the printout -----------------------------------------------------------------------

WORDS = {
    "x": "X 报表 X REPORT",
    "z": "Z 日结 Z REPORT",
    "copy": "副本 COPY",
    "sales": "销售 Sales",
    "returns": "退货 Returns",
    "cancelled": "取消 Cancelled",
    "voids": "删除行 Voids",
    "no_sales": "开钱箱 No-sales",
    "discounts": "优惠 Discounts",
    "paid_in": "存入 Paid in",
    "paid_out": "支出 Paid out",
    "cash_expected": "应有现金 Cash expected",
    "cash_counted": "实点现金 Cash counted",
    "difference": "长短款 Difference",
    "cash": "现金 Cash",
    "card": "银行卡 Card",
    "mobile": "移动支付 Mobile",
    "tax": "税率 Tax",
    "date": "营业日 Business date",
    "lane": "收银台 Lane",
    "cashier": "收银员 Cashier",
    "seq": "序号 Seq",
}


def report_receipt(
    body: dict[str, Any], setup: LaneSetup, state: LaneState, *, copy: bool = False
) -> Receipt:
    """The report as a receipt for the printer and its durable queue (both languages:
    it is read by the shop's staff, whatever the customers' receipts speak)."""
    digits = setup.rules.minor_digits

    def money(amount: int) -> str:
        return format_money(amount, digits)

    is_z = "z_no" in body
    banner = f"{WORDS['z']} {body['z_no']}" if is_z else WORDS["x"]
    totals = [
        (f"{WORDS['sales']} ×{body['sales']['count']}", money(body["sales"]["total"])),
        (f"{WORDS['returns']} ×{body['returns']['count']}", money(body["returns"]["total"])),
        (WORDS["cancelled"], str(body["cancelled"])),
        (WORDS["voids"], str(body["voids"])),
        (WORDS["no_sales"], str(body["no_sales"])),
        (WORDS["discounts"], money(body["discounts"])),
        (WORDS["paid_in"], money(body["paid_in"])),
        (WORDS["paid_out"], money(body["paid_out"])),
        (WORDS["cash_expected"], money(body["cash_expected"])),
    ]
    if is_z:
        totals.append((WORDS["cash_counted"], money(body["cash_counted"])))
        totals.append((WORDS["difference"], money(body["difference"])))
    tenders = tuple(
        (f"{WORDS.get(t['type'], t['type'])} ×{t['count']}", money(t["amount"]))
        for t in body["tenders"]
    )
    taxes = tuple(
        (f"{WORDS['tax']} {t['rate']}%  {money(t['gross'])}", money(t["tax"]))
        for t in body["taxes"]
    )
    cashier = state.cashier.id if state.cashier else ""
    info = (
        f"{WORDS['date']}: {body['business_date']}",
        f"{WORDS['lane']}: {setup.store}-{setup.lane}   {WORDS['cashier']}: {cashier}",
        f"{WORDS['seq']}: {body['first_seq']}-{body['last_seq']}",
    )
    return Receipt(
        header=setup.receipt.header,
        lines=(),
        totals=tuple(totals),
        taxes=taxes,
        tenders=tenders,
        info=info,
        banner=f"{banner} {WORDS['copy']}" if copy else banner,
        number=int(body["z_no"]) if is_z else 0,
    )
