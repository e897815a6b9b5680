"""Housekeeping's timing on its own, on a real outbox with injected clocks: a prune at the
first tick and then every interval (batch after batch at once while full ones go), the
backlog's age looked at every few seconds, and the outbox's word that follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import peewee
import pytest

from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.housekeeping import Housekeeper, OutboxHousekeeping
from firmware_app.sync.states import SyncStates
from tests.sync.lanes import fill_outbox

T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")


class Rig:
    """40 rows made at T0, the first 25 acknowledged; retention 24 h, backlog after 1 h."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        fill_outbox(db, 40, created_at=T0)
        self.outbox = Outbox(db)
        self.outbox.ack_upto(25, T0)
        self.at = T0 + timedelta(minutes=59)
        self.heard: list[tuple[str, str, str]] = []
        self.keeper = Housekeeper(
            OutboxHousekeeping(
                self.outbox,
                retention=timedelta(hours=24),
                backlog_after=timedelta(hours=1),
                clock=lambda: self.at,
                batch=10,
            ),
            SyncStates(lambda *said: self.heard.append(said)),
            prune_every_s=60.0,
            check_every_s=5.0,
        )

    def acked_left(self) -> int:
        """Acknowledged rows still in the outbox."""
        sql = "SELECT COUNT(*) FROM outboxmessage WHERE acked_at IS NOT NULL"
        return int(self.outbox.db.execute_sql(sql).fetchone()[0])


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    db = open_database(tmp_path / "lane.db")
    yield Rig(db)
    db.close()


def test_full_batches_go_one_after_another_then_every_interval(rig: Rig) -> None:
    keeper = rig.keeper
    assert keeper.deadline() == 0.0  # everything at the first tick
    rig.at = T0 + timedelta(hours=25)  # the acknowledged rows are past their retention
    keeper.tick(0.0, ack_ahead=None)
    assert rig.acked_left() == 15 and keeper.deadline() == 0.0  # a full batch: more at once
    keeper.tick(0.0, ack_ahead=None)
    assert rig.acked_left() == 5 and keeper.deadline() == 0.0
    keeper.tick(0.0, ack_ahead=None)
    assert rig.acked_left() == 0
    assert keeper.deadline() == 5.0  # the next look at the backlog; the next prune at 60
    keeper.tick(5.0, ack_ahead=None)
    assert keeper.deadline() == 10.0


def test_the_outbox_word_follows_the_backlog_and_says_ack_ahead_first(rig: Rig) -> None:
    keeper = rig.keeper
    assert keeper.tick(0.0, ack_ahead=None)
    assert rig.heard == [("outbox", "ok", "15 messages waiting")]
    rig.at += timedelta(minutes=2)  # the oldest unacknowledged row is 61 minutes old
    assert not keeper.tick(4.9, ack_ahead=None)  # not looked at yet
    assert keeper.tick(5.0, ack_ahead=None)
    assert rig.heard[-1][:2] == ("outbox", "backlog")
    keeper.look_now()  # an ack came that the lane refuses
    assert keeper.tick(5.1, ack_ahead="beyond seq 40")
    assert rig.heard[-1][1:] == (
        "ack_ahead",
        "beyond seq 40; 15 messages waiting since 2026-11-28T09:00:00.000+08:00",
    )
    assert not keeper.tick(9.0, ack_ahead=None)  # the word stays until the next look
    keeper.rows_acknowledged()  # not a backlog now: no look needed
    assert not keeper.tick(9.5, ack_ahead=None)
    assert keeper.tick(10.1, ack_ahead=None)
    assert rig.heard[-1][1] == "backlog"
    rig.outbox.ack_upto(40, rig.at)
    keeper.rows_acknowledged()  # a backlog may be over: look now
    assert keeper.tick(10.2, ack_ahead=None)
    assert rig.heard[-1] == ("outbox", "ok", "")
