"""A Z closes a business period (日结): what the lane does after the Z of a date, on that
same calendar date, belongs to the next business date and is counted in its Z, and in
no other. In a real SQLite lane database, through the keypad and the command line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_app.app.cli import main
from firmware_app.lane.day_report import details
from firmware_app.lane.effects import DURABLE, RecordEvent
from firmware_app.lane.messages import Msg
from firmware_app.store.db import open_database
from firmware_app.store.reports import StoreReports
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.unit.till import T0, Till

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = T0.date()  # 2026-11-28, the till starts at 09:00 +08:00
NEXT = DAY + timedelta(days=1)
COLA, BREAD = "scan 6954767410388", "scan 96385074"  # 3.50, 10.00


class Lane:
    """A till whose durable effects are committed to a real lane database, as the lane
    loop commits them."""

    def __init__(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        self.config = tmp_path / "lane.toml"
        self.config.write_text(
            f'[lane]\nstore = "S1"\nlane = "1"\ndata_dir = "{data}"\ntimezone = "Asia/Shanghai"\n'
        )
        self.store = SalesStore(
            open_database(data / "lane.db"), messages=LaneUplink(Topics("pos", "S1", "1"))
        )
        self.reports = StoreReports(self.store.db, SHANGHAI)
        self.till = Till()
        self.till.ports = replace(self.till.ports, reports=self.reports)

    def do(self, *steps: str) -> Lane:
        for step in steps:
            done = len(self.till.all_effects)
            self.till.do(step)
            new = self.till.all_effects[done:]
            self.store.apply([e for e in new if isinstance(e, DURABLE)], at=self.till.now)
        return self

    def published(self, event: str) -> list[dict[str, Any]]:
        rows = self.store.m.OutboxMessage.select().order_by(self.store.m.OutboxMessage.seq)
        messages = [json.loads(bytes(r.payload)) for r in rows]
        return [m["details"] for m in messages if m.get("event") == event]

    def report(self, kind: str, day: date, capsys: pytest.CaptureFixture[str]) -> Any:
        code = main(["report", kind, "--date", day.isoformat(), "--config", str(self.config)])
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)


def two_days(lane: Lane) -> None:
    """The 28th: a cola, then the Z at 10:00; after it, the same day: a bread, a no-sale
    and a paid-out; the 29th: a cola, then its Z."""
    lane.do("supervisor", COLA, "key CASH")
    lane.do("wait 3600", "key ZREPORT", "key 3 DOT 5 ENTER")  # Z 1 closes the 28th
    lane.do("wait 60", BREAD, "key 1 0 CASH", "key NOSALE", "key 5 PAIDOUT", "key 1 ENTER")
    lane.do("wait 86400", COLA, "key CASH")  # the 29th
    lane.do("key ZREPORT", "key 1 2 DOT 5 ENTER")  # Z 2 closes the 29th


def test_what_follows_the_z_counts_in_the_next_days_z_and_in_no_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lane = Lane(tmp_path)
    two_days(lane)
    first, second = lane.published("z_report")
    assert (first["z_no"], first["business_date"]) == (1, "2026-11-28")
    assert (second["z_no"], second["business_date"]) == (2, "2026-11-29")
    assert first["sales"] == {"count": 1, "total": 350}
    assert (first["no_sales"], first["paid_out"]) == (0, 0)
    # The bread, the no-sale and the paid-out after Z 1 are the 29th's.
    assert second["sales"] == {"count": 2, "total": 1350}
    assert (second["no_sales"], second["paid_out"]) == (1, 500)
    assert second["cash_expected"] == 1350 - 500
    # Every transaction is in exactly one Z.
    txns = list(lane.store.m.Transaction.select())
    assert sum(z["sales"]["count"] for z in (first, second)) == len(txns) == 3
    assert sum(z["sales"]["total"] for z in (first, second)) == sum(t.total for t in txns)
    # The seq ranges follow on: the 29th's starts after Z 1.
    assert first["last_seq"] < second["first_seq"]
    # Reproducible from the store, by the command line.
    assert lane.report("z", DAY, capsys) == first
    assert lane.report("z", NEXT, capsys) == second
    x_day = lane.report("x", DAY, capsys)
    assert x_day == {
        k: v for k, v in first.items() if k not in ("z_no", "cash_counted", "difference")
    }


def test_the_x_report_after_the_z_shows_the_next_business_date_so_far(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    lane.do("supervisor", COLA, "key CASH", "wait 3600", "key ZREPORT", "key 3 DOT 5 ENTER")
    lane.do("wait 60", BREAD, "key 1 0 CASH")
    so_far = details(lane.reports.day(NEXT))
    lane.do("key XREPORT")
    assert lane.till.message is Msg.X_REPORT_PRINTED
    assert (
        lane.till.state.message is not None
        and lane.till.state.message.arg("date") == NEXT.isoformat()
    )
    (x,) = lane.published("x_report")
    assert x["business_date"] == "2026-11-29" and x["sales"] == {"count": 1, "total": 1000}
    assert so_far == x
    # The 28th stays as its Z closed it.
    assert lane.reports.day(DAY).sales.count == 1


def test_a_second_z_the_same_calendar_day_is_still_refused(tmp_path: Path) -> None:
    lane = Lane(tmp_path)
    lane.do("supervisor", COLA, "key CASH", "wait 3600", "key ZREPORT", "key 3 DOT 5 ENTER")
    lane.do("wait 60", BREAD, "key 1 0 CASH", "key ZREPORT")
    assert lane.till.message is Msg.DAY_CLOSED
    assert not any(isinstance(e, RecordEvent) for e in lane.till.effects)
    assert len(lane.published("z_report")) == 1


def test_a_z_closed_after_midnight_leaves_the_period_rule_alone(tmp_path: Path) -> None:
    """Without a Z on the 28th, its sales stay the 28th's; the 29th's are the 29th's."""
    lane = Lane(tmp_path)
    lane.do("supervisor", COLA, "key CASH", "wait 86400", BREAD, "key 1 0 CASH")
    assert lane.reports.day(DAY).sales.count == 1
    assert lane.reports.day(NEXT).sales.count == 1
    assert lane.reports.period_date(lane.till.now) == NEXT


def test_report_x_without_a_date_shows_the_business_date_open_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from firmware_app.app import cli

    lane = Lane(tmp_path)
    lane.do("supervisor", COLA, "key CASH", "wait 3600", "key ZREPORT", "key 3 DOT 5 ENTER")
    lane.do("wait 60", BREAD, "key 1 0 CASH")
    monkeypatch.setattr(cli, "_now", lambda config: lane.till.now)
    assert main(["report", "x", "--config", str(lane.config)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["business_date"] == "2026-11-29" and printed["sales"]["count"] == 1
    assert main(["report", "z", "--config", str(lane.config)]) == 0
    assert json.loads(capsys.readouterr().out)["business_date"] == "2026-11-28"


STEPS = st.lists(
    st.sampled_from(["sell", "sell", "z", "wait 3", "wait 10", "wait 20"]), min_size=1, max_size=12
)


@settings(max_examples=25, deadline=None)
@given(steps=STEPS)
def test_every_transaction_counts_in_exactly_one_business_date(
    tmp_path_factory: pytest.TempPathFactory, steps: list[str]
) -> None:
    """Sales, Zs and hours passing in any order: the business dates' numbers add up to
    every transaction once, and each Z as published is its date's numbers from the store."""
    lane = Lane(tmp_path_factory.mktemp("lane"))
    lane.do("supervisor")
    for step in steps:
        lane.do("wait 1")  # a person's keys are never in the same millisecond as the Z's
        if step == "sell":
            lane.do(COLA, "key CASH")
        elif step == "z":
            lane.do("key ZREPORT")
            if lane.till.message is Msg.COUNT_CASH:
                lane.do("key 0 ENTER")
        else:
            lane.do(f"wait {int(step.split()[1]) * 3600}")
    txns = list(lane.store.m.Transaction.select())
    last = lane.reports.business_date(lane.till.now) + timedelta(days=1)
    dates = [DAY + timedelta(days=n) for n in range((last - DAY).days + 1)]
    assert sum(lane.reports.day(d).sales.count for d in dates) == len(txns)
    for z in lane.published("z_report"):
        closed = date.fromisoformat(z["business_date"])
        assert z["sales"]["count"] == lane.reports.day(closed).sales.count
