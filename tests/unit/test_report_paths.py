"""X and Z reports at the keypad, against a report port with memory: the Z asks the
counted cash blind, then closes the day once; a closed day prints its Z again."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from firmware_app.lane.day_report import (
    Count,
    DayReport,
    TaxTotal,
    TenderTotal,
    ZRecord,
    details,
)
from firmware_app.lane.effects import PrintReceipt, RecordEvent, RecordZReport
from firmware_app.lane.messages import Msg
from firmware_app.lane.state import Mode
from tests.unit.till import T0, Till

DAY = T0.date()
REPORT = DayReport(
    business_date=DAY,
    first_seq=3,
    last_seq=17,
    sales=Count(4, 5350),
    tenders=(TenderTotal("cash", 3, 6000), TenderTotal("card", 1, 350)),
    taxes=(TaxTotal("13", 3350, 385), TaxTotal("9", 2000, 165)),
    voids=1,
    no_sales=1,
    paid_in=20000,
    paid_out=5000,
    cash_change=1000,
)  # cash expected: 6000 - 1000 + 20000 - 5000 = 20000


class FakeReports:
    """The store's reports, with memory: a Z closes its day when the lane commits it."""

    def __init__(self) -> None:
        self.closed: dict[date, dict[str, Any]] = {}
        self.asked: list[datetime | None] = []

    def business_date(self, at: datetime) -> date:
        return at.date()

    def period_date(self, at: datetime) -> date:
        """After the day's Z, the next date (a Z closes a business period)."""
        day = at.date()
        return day + timedelta(days=1) if day in self.closed else day

    def day(self, business_date: date, until: datetime | None = None) -> DayReport:
        self.asked.append(until)
        return replace(REPORT, business_date=business_date)

    def z_of(self, business_date: date) -> ZRecord | None:
        body = self.closed.get(business_date)
        return None if body is None else ZRecord(body["z_no"], business_date, body["cash_counted"])

    def next_z_no(self) -> int:
        return len(self.closed) + 1

    def z_details(self, business_date: date) -> dict[str, Any] | None:
        return self.closed.get(business_date)

    def commit(self, effects: list[Any]) -> None:
        for effect in effects:
            if isinstance(effect, RecordZReport):
                self.closed[effect.business_date] = json.loads(effect.details)


def till_with_reports() -> tuple[Till, FakeReports]:
    till = Till()
    fake = FakeReports()
    till.ports = replace(till.ports, reports=fake)
    return till, fake


SIGNED_ON = ("signon",)
COUNTING = ("signon", "key ZREPORT", "approve")

CASES = [
    ("XREPORT", SIGNED_ON, "key XREPORT", Msg.X_REPORT_PRINTED, ["RecordEvent", "PrintReceipt"]),
    (
        "XREPORT with a sale open",
        ("signon", "scan 6954767410388"),
        "key XREPORT",
        Msg.SALE_OPEN,
        [],
    ),
    ("XREPORT signed off", (), "key XREPORT", Msg.SIGN_ON_FIRST, []),
    ("ZREPORT asks a supervisor", SIGNED_ON, "key ZREPORT", Msg.SUPERVISOR_ID, []),
    (
        "ZREPORT approved asks the cash",
        ("signon", "key ZREPORT"),
        "approve",
        Msg.COUNT_CASH,
        ["RecordEvent"],
    ),
    ("ZREPORT by a supervisor", ("supervisor",), "key ZREPORT", Msg.COUNT_CASH, ["RecordEvent"]),
    (
        "ZREPORT with a sale open",
        ("signon", "scan 6954767410388"),
        "key ZREPORT",
        Msg.SALE_OPEN,
        [],
    ),
    (
        "counted cash closes the day",
        COUNTING,
        "key 1 9 9 DOT 5 ENTER",
        Msg.Z_REPORT_DONE,
        ["RecordZReport", "RecordEvent", "PrintReceipt"],
    ),
    ("counted cash without an amount", COUNTING, "key ENTER", Msg.NEEDS_ENTRY, []),
    ("counted cash, three decimals", COUNTING, "key 1 DOT 0 0 1 ENTER", Msg.BAD_ENTRY, []),
    ("other key while counting", COUNTING, "key CASH", Msg.KEY_NOT_ALLOWED, []),
]


@pytest.mark.parametrize(
    ("before", "step", "message", "effects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_path(before: tuple[str, ...], step: str, message: Msg, effects: list[str]) -> None:
    till, _ = till_with_reports()
    till.do(*before, step)
    assert till.message == message, till.state.message
    assert till.effect_types() == effects


def test_without_reports_the_keys_are_not_available() -> None:
    till = Till().do("supervisor", "key XREPORT")
    assert till.message is Msg.NOT_AVAILABLE
    till.do("key ZREPORT")
    assert till.message is Msg.NOT_AVAILABLE and till.effects == []


def test_the_counted_cash_is_asked_blind() -> None:
    till, _ = till_with_reports()
    till.do(*COUNTING)
    assert till.state.mode is Mode.COUNTED_CASH
    assert till.state.message is not None and till.state.message.args == ()
    assert "200.00" not in till.state.message.render("en")


def test_the_z_report_event_carries_the_contracts_details() -> None:
    till, fake = till_with_reports()
    till.do(*COUNTING, "key 1 9 9 DOT 5 ENTER")
    record, event, printed = till.effects
    assert isinstance(record, RecordZReport) and isinstance(event, RecordEvent)
    body = json.loads(event.event.data)
    expected = details(REPORT, ZRecord(1, DAY, 19950))
    assert body == expected
    assert (body["cash_expected"], body["cash_counted"], body["difference"]) == (20000, 19950, -50)
    assert json.loads(record.details) == expected
    assert fake.asked == [T0]  # the numbers up to the close
    assert isinstance(printed, PrintReceipt)
    assert printed.receipt.banner == "Z 日结 Z REPORT 1" and printed.receipt.number == 1
    assert ("长短款 Difference", "-0.50") in printed.receipt.totals
    assert till.state.message is not None and till.state.message.arg("difference") == "-0.50"
    assert till.state.mode is Mode.READY


def test_a_closed_day_refuses_a_second_z_and_prints_the_first_again() -> None:
    till, fake = till_with_reports()
    till.do(*COUNTING, "key 2 0 0 ENTER")
    fake.commit(till.effects)
    till.do("key ZREPORT")
    assert till.message is Msg.DAY_CLOSED
    assert till.effect_types() == ["PrintReceipt"]
    copy = till.effects[0]
    assert isinstance(copy, PrintReceipt) and copy.receipt.banner.endswith("副本 COPY")
    assert ("实点现金 Cash counted", "200.00") in copy.receipt.totals


def test_clear_while_counting_closes_nothing() -> None:
    till, _ = till_with_reports()
    till.do(*COUNTING, "key 5 CLEAR")
    assert till.state.mode is Mode.COUNTED_CASH and till.state.entry == ""
    till.do("key CLEAR")
    assert till.state.mode is Mode.READY and till.effects == []


def test_the_x_report_prints_the_day_so_far() -> None:
    till, _ = till_with_reports()
    till.do("signon", "key XREPORT")
    event, printed = till.effects
    assert isinstance(event, RecordEvent) and event.event.type == "x_report"
    assert json.loads(event.event.data) == details(REPORT)
    assert isinstance(printed, PrintReceipt) and printed.receipt.banner == "X 报表 X REPORT"
    assert ("现金 Cash ×3", "60.00") in printed.receipt.tenders


def test_a_z_that_cannot_be_saved_prints_nothing_and_can_be_keyed_again() -> None:
    till, _ = till_with_reports()
    till.do(*COUNTING, "disk full", "key 1 8 0 ENTER")
    assert till.message is Msg.SAVE_FAILED and till.effects == []
    assert till.state.mode is Mode.COUNTED_CASH and till.state.entry == "180"
    till.do("disk ok", "key ENTER")
    assert till.message is Msg.Z_REPORT_DONE
    assert till.effect_types() == ["RecordZReport", "RecordEvent", "PrintReceipt"]


def test_a_z_report_waits_until_no_sale_is_parked() -> None:
    till, _ = till_with_reports()
    till.do("supervisor", "scan 6954767410388", "key SUSPEND")
    assert till.message is Msg.SALE_PARKED
    till.do("key ZREPORT")
    assert till.message is Msg.PARKED_SALES
    assert till.state.mode is Mode.READY and dict(till.state.message.args)["nos"] == "1"
    till.do("key 1 RESUME", "type 5", "key CASH", "key ZREPORT")
    assert till.state.mode is Mode.COUNTED_CASH
