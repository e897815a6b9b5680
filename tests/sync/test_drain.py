"""A drain pass over a real outbox, without a broker: live rows first, the backlog in seq
order behind them, both within their share of the two windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox, OutboxRow
from firmware_app.sync.contract import encode
from firmware_app.sync.drain import POLL_S, Drain
from firmware_app.sync.window import SendWindow
from tests.sync.lanes import fill_outbox
from tests.unit.till import T0


class CountingOutbox(Outbox):
    def __init__(self, db: peewee.SqliteDatabase) -> None:
        super().__init__(db)
        self.reads = 0

    def unacked(self, *args: Any, **kw: Any) -> list[OutboxRow]:
        self.reads += 1
        return super().unacked(*args, **kw)


class Link:
    """Records what was sent; nothing is PUBACKed unless the test says so."""

    def __init__(self, window: SendWindow) -> None:
        self.window = window
        self.sent: list[int] = []
        self.awaiting_puback = 0
        self.fail_after: int | None = None

    def send(self, row: OutboxRow) -> bool:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            return False
        self.sent.append(row.seq)
        self.awaiting_puback += 1
        self.window.published(row.seq, now=0.0)
        return True

    def in_flight(self) -> int:
        return self.awaiting_puback


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    database = open_database(tmp_path / "lane.db")
    fill_outbox(database, 500, created_at=T0 - timedelta(days=1))
    yield database
    database.close()


def rig(db: peewee.SqliteDatabase, *, max_unacked: int, max_inflight: int) -> Any:
    outbox = CountingOutbox(db)
    window = SendWindow(ack_timeout_s=30.0, max_unacked=max_unacked)
    drain = Drain(outbox, window, max_inflight=max_inflight)
    drain.restart(outbox.stats().acked_upto, outbox.stats().next_seq - 1)
    return outbox, window, drain, Link(window)


def commit_sale(db: peewee.SqliteDatabase) -> list[int]:
    outbox = Outbox(db)
    at = datetime.now().astimezone()
    with db.atomic():
        return [outbox.append("pos/S001/lanes/01/sales", lambda seq: encode({"seq": seq}), at)]


def test_a_live_row_overtakes_a_backlog_that_fills_its_whole_share(
    db: peewee.SqliteDatabase,
) -> None:
    _, window, drain, link = rig(db, max_unacked=100, max_inflight=1000)
    drain.run(link.in_flight, link.send)
    assert link.sent == list(range(1, 91))  # the backlog's share: 90 of 100
    (live,) = commit_sale(db)
    drain.live_due = True  # what the commit's wake does
    drain.run(link.in_flight, link.send)
    assert link.sent[-1] == live == 501
    for _ in range(12):
        commit_sale(db)
    drain.live_due = True
    drain.run(link.in_flight, link.send)
    assert window.unacked == 100  # the hard bound: live rows got their tenth, no more
    assert link.sent[90:] == list(range(501, 511))
    window.ack(40)  # the store server has the first 40
    drain.run(link.in_flight, link.send)
    assert link.sent[100:] == list(range(91, 131))  # the backlog goes on, in seq order
    assert window.unacked == 100


def test_the_backlog_leaves_a_tenth_of_the_in_flight_slots_to_live_rows(
    db: peewee.SqliteDatabase,
) -> None:
    _, _, drain, link = rig(db, max_unacked=1000, max_inflight=20)
    drain.run(link.in_flight, link.send)
    assert len(link.sent) == 18
    commit_sale(db)
    commit_sale(db)
    commit_sale(db)
    drain.live_due = True
    drain.run(link.in_flight, link.send)
    assert link.sent[18:] == [501, 502]  # the two free slots, no more
    link.awaiting_puback = 0  # PUBACKs came: live rows first, then the backlog
    drain.run(link.in_flight, link.send)
    assert link.sent[20:] == [503, *range(19, 36)]  # 18 in flight in all: its share


def test_the_backlog_is_read_a_hundred_rows_at_a_time_and_live_rows_only_when_due(
    db: peewee.SqliteDatabase,
) -> None:
    outbox, _, drain, link = rig(db, max_unacked=1000, max_inflight=1)
    for _ in range(250):
        drain.run(link.in_flight, link.send)  # as after each PUBACK
        link.awaiting_puback = 0
    assert link.sent == list(range(1, 251))
    assert outbox.reads == 1 + 3  # one look for live rows, three reads of the backlog


def test_a_failed_send_ends_the_pass(db: peewee.SqliteDatabase) -> None:
    _, window, drain, link = rig(db, max_unacked=1000, max_inflight=1000)
    link.fail_after = 5
    assert not drain.run(link.in_flight, link.send)
    assert link.sent == [1, 2, 3, 4, 5]
    drain.restart(0, 500)  # the next connection starts again from the acked mark
    link.fail_after = None
    assert drain.run(link.in_flight, link.send)
    assert link.sent[5:] == list(range(1, 501))
    assert not window.draining


def test_a_pass_is_due_when_wanted_at_each_poll_and_when_the_ack_timeout_rewinds(
    db: peewee.SqliteDatabase,
) -> None:
    _, window, drain, link = rig(db, max_unacked=1000, max_inflight=10)
    assert drain.deadline() == 0.0 and drain.due(0.0)  # the first pass at once
    window.ack_timeout_s = 8.0
    drain.run(link.in_flight, link.send)  # published at 0.0, as ``Link.send`` says
    assert link.sent == list(range(1, 10)) and not drain.wanted  # 9 of 10 in flight
    assert drain.deadline() == POLL_S  # the poll comes before the ack time-out
    assert not drain.due(POLL_S - 0.1)
    assert drain.due(POLL_S) and drain.live_due  # the poll: look for live rows too
    drain.run(link.in_flight, link.send)
    assert drain.deadline() == 8.0  # the ack time-out of seq 1 comes before the next poll
    assert drain.due(8.0)  # no ack for seq 1: rewound
    link.awaiting_puback = 0
    drain.run(link.in_flight, link.send)
    assert link.sent[9:] == list(range(1, 10))  # published again, in seq order
    drain.woken()  # a commit
    assert drain.wanted and drain.live_due and drain.deadline() == 0.0
