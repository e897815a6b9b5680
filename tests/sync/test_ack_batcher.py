"""Acks on the sync thread's side, on a real outbox with injected clocks: applied to the
window at once, written in bursts (when the queue is idle, at least every ``ACK_WRITE_S``),
given up after ``ACK_WRITE_TRIES`` refused writes, and the ``ack_ahead`` reason kept until
a true ack comes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import peewee
import pytest

from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.acks import ACK_WRITE_S, ACK_WRITE_TRIES, AckBatcher, Acks
from firmware_app.sync.contract import ack_message, encode
from firmware_app.sync.counters import SyncCounters
from firmware_app.sync.window import SendWindow
from tests.sync.lanes import fill_outbox

T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")


def ack(upto: int) -> bytes:
    return encode(ack_message(upto, at=T0))


class Rig:
    """An outbox of 20 rows, 1..10 published in this run."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        fill_outbox(db, 20, created_at=T0)
        self.db = db
        self.outbox = Outbox(db)
        self.window = SendWindow(ack_timeout_s=30.0, max_unacked=100)
        self.window.restart(0, 20)
        for seq in range(1, 11):
            self.window.published(seq, 0.0)
        self.counters = SyncCounters()
        self.batcher = AckBatcher(
            Acks(self.outbox, self.window), counters=self.counters, clock=lambda: T0
        )

    def stored(self) -> int:
        return self.outbox.stats().acked_upto


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    db = open_database(tmp_path / "lane.db")
    yield Rig(db)
    db.close()


def test_acks_move_the_window_at_once_and_the_outbox_in_bursts(rig: Rig) -> None:
    batcher = rig.batcher
    assert batcher.deadline() is None
    assert batcher.receive(ack(3)).moved and rig.window.acked == 3
    assert batcher.deadline() == ACK_WRITE_S  # the last write was at 0
    assert batcher.write(0.1, busy=True) == 0 and rig.stored() == 0  # more events wait
    assert batcher.receive(ack(5)).moved
    assert batcher.write(ACK_WRITE_S, busy=True) == 5  # busy, but the interval is up
    assert rig.stored() == 5 and rig.counters.acks == 2 and batcher.deadline() is None
    assert batcher.receive(ack(7)).moved
    assert batcher.write(ACK_WRITE_S + 0.1, busy=True) == 0
    assert batcher.write(ACK_WRITE_S + 0.1) == 2  # the queue is idle: written now
    assert not batcher.receive(ack(4)).moved  # old news: counted, nothing to mark
    assert batcher.write(0.0, busy=True, force=True) == 0
    assert rig.stored() == 7 and rig.counters.acks == 4


def test_acks_the_database_refuses_are_tried_three_times_then_dropped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    rig.db.execute_sql(
        "CREATE TRIGGER no_acks BEFORE UPDATE ON outboxmessage "
        "BEGIN SELECT RAISE(ABORT, 'the disk says no'); END"
    )
    rig.batcher.receive(ack(4))
    for now in range(ACK_WRITE_TRIES):
        assert rig.batcher.write(float(now)) == 0
    assert rig.batcher.deadline() is None  # given up: not tried again
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.WARNING] * (ACK_WRITE_TRIES - 1) + [logging.ERROR]
    assert "1 acks dropped after 3 tries" in caplog.records[-1].getMessage()
    assert rig.window.acked == 4 and rig.stored() == 0 and rig.counters.acks == 0
    # A later ack covers them: acks are cumulative.
    rig.db.execute_sql("DROP TRIGGER no_acks")
    rig.batcher.receive(ack(6))
    assert rig.batcher.write(10.0) == 6 and rig.stored() == 6


def test_an_ack_ahead_is_said_once_and_ends_with_a_true_ack(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    batcher = rig.batcher
    first, again = batcher.receive(ack(50)), batcher.receive(ack(60))
    assert (first.trust_changed, first.moved) == (True, False)
    assert (again.trust_changed, again.moved) == (False, False)
    assert batcher.ahead is not None and "up to seq 60" in batcher.ahead
    assert "(20)" in batcher.ahead  # the last seq the lane has assigned
    assert rig.counters.acks_ahead == 2 and batcher.deadline() is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    capped = batcher.receive(ack(15))  # beyond what this run published: up to 10
    assert (capped.moved, capped.trust_changed) == (True, True)
    assert batcher.ahead is None and rig.window.acked == 10 and rig.counters.acks_capped == 1
    assert not batcher.receive(b'{"schema": "store.ack/1"}').moved
    assert rig.counters.rejected_acks == 1
