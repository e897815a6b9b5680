"""The lane's retained status on its own, with injected clocks: the rate limit, the will
and the last word, and a status source that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import validate
from firmware_app.sync.states import BROKER, ONLINE, OUTBOX, SyncStates
from firmware_app.sync.status import LaneStatus
from tests.sync.lanes import fill_outbox

T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")
TOPIC = "pos/S001/lanes/01/status"


class Ticker:
    """A monotonic clock that moves only when the test says (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A ``LaneStatus`` over a real outbox of 3 rows; what it publishes lands in ``sent``."""

    def __init__(self, db: peewee.SqliteDatabase, source: Any = None) -> None:
        fill_outbox(db, 3, created_at=T0)
        self.mono = Ticker()
        self.states = SyncStates()
        self.fields: dict[str, Any] = {
            "version": "1.4.0",
            "catalog_version": 58,
            "devices": {"scanner": "ok"},
        }
        self.sent: list[tuple[str, dict[str, Any], bool]] = []
        self.status = LaneStatus(
            source or (lambda: self.fields),
            topic=TOPIC,
            outbox=Outbox(db),
            states=self.states,
            clock=lambda: T0 + timedelta(seconds=self.mono.now),
            monotonic=self.mono,
            interval_s=1.0,
        )

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> int | None:
        self.sent.append((topic, json.loads(payload), retain))
        return len(self.sent)

    def send(self, state: str = "online") -> dict[str, Any]:
        self.status.send(state, connected_at=T0, publish=self.publish)
        topic, message, retained = self.sent[-1]
        assert (topic, retained) == (TOPIC, True)
        validate(message)
        return message


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    db = open_database(tmp_path / "lane.db")
    yield db
    db.close()


def test_changes_within_the_interval_go_out_as_one_status(db: peewee.SqliteDatabase) -> None:
    rig = Rig(db)
    status, mono = rig.status, rig.mono
    assert status.deadline() is None and not status.due(0.0)  # nothing changed yet
    status.changed()
    assert status.due(0.0)  # the first goes at once
    rig.send()
    assert status.deadline() is None
    mono.now = 0.2
    status.changed()
    rig.fields["devices"] = {"scanner": "disconnected"}
    mono.now = 0.5
    status.changed()
    assert status.deadline() == 1.0 and not status.due(0.5)
    assert status.due(1.0)
    message = rig.send()
    assert len(rig.sent) == 2  # two changes, one status: the latest fields
    assert message["devices"]["scanner"] == "disconnected"
    assert message["at"].startswith("2026-11-28T09:00:00.500")


def test_the_will_and_the_last_word_say_the_broker_is_offline(db: peewee.SqliteDatabase) -> None:
    rig = Rig(db)
    rig.states.set(BROKER, ONLINE)
    rig.states.set(OUTBOX, "ok")
    online = rig.send()
    assert online["devices"] == {"scanner": "ok", "broker": "online", "outbox": "ok"}
    assert online["outbox"]["pending"] == 3
    will = rig.status.will(T0 + timedelta(minutes=5))
    offline = json.loads(will.payload)
    validate(offline)
    assert will.topic == TOPIC
    assert offline["state"] == "offline" and offline["devices"]["broker"] == "offline"
    assert offline["at"] == offline["connected_at"]  # dated by its connection
    assert rig.send("offline")["devices"]["broker"] == "offline"


def test_a_failing_source_sends_the_last_fields_it_gave(
    db: peewee.SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[Any] = [{"version": "1.4.0", "catalog_version": 58, "devices": {}}]

    def source() -> Any:
        answer = answers.pop(0) if answers else None
        if answer is None:
            raise OSError("the device table is gone")
        return answer

    rig = Rig(db, source)
    first = rig.send()
    again = rig.send()
    assert (again["version"], again["catalog_version"]) == (first["version"], 58)
    assert "status source failed" in caplog.text
