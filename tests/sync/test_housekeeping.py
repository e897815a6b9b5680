"""Outbox housekeeping on the sync thread: acknowledged rows pruned after
``mqtt.acked_retention_h`` in short batches, unacknowledged rows never; a backlog older
than ``mqtt.backlog_warning_min`` reported once, and its end. Time is the service's
injected clock: nothing waits for an hour to pass."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import Topics, validate
from firmware_app.sync.housekeeping import OutboxHousekeeping
from firmware_app.sync.service import SyncService
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from tests.sync.lanes import fill_outbox
from tests.unit.till import CST
from tests.waiting import wait_until

STORE, LANE = "S001", "01"
TOPICS = Topics("pos", STORE, LANE)
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=CST)


class Clock:
    """The wall clock the service reads, moved by the test (read from the sync thread)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class States:
    """What ``on_state`` heard, in order."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str, str]] = []

    def __call__(self, name: str, state: str, detail: str) -> None:
        self.heard.append((name, state, detail))

    def of(self, name: str) -> list[str]:
        return [state for n, state, _ in list(self.heard) if n == name]


class CountingOutbox(Outbox):
    """The outbox, counting the sync thread's looks at it: proof that checks ran."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        super().__init__(db)
        self.looks = 0
        self.prunes = 0

    def stats(self) -> Any:
        self.looks += 1
        return super().stats()

    def prune(self, acked_before: datetime, *, batch: int | None = None) -> int:
        self.prunes += 1
        return super().prune(acked_before, batch=batch)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    database = open_database(tmp_path / "lane.db")
    yield database
    database.close()


@pytest.fixture
def services() -> Iterator[list[SyncService]]:
    made: list[SyncService] = []
    yield made
    for service in made:
        service.close()


def start(
    services: list[SyncService],
    outbox: Outbox,
    url: str,
    clock: Clock,
    states: States | None = None,
    **settings: Any,
) -> SyncService:
    values = {"ack_timeout_s": 30.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.3}
    config = MqttConfig(url=url, **{**values, **settings})
    service = SyncService(
        config,
        store_id=STORE,
        lane_id=LANE,
        outbox=outbox,
        status=lambda: {"version": "0.1.0", "catalog_version": 1, "devices": {}},
        on_downlink=lambda topic, payload: None,
        clock=clock,
        on_state=states,
        housekeeping_s=0.02,
    )
    services.append(service)
    service.start()
    return service


def count(db: peewee.SqliteDatabase, where: str) -> int:
    path = db.database
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM outboxmessage WHERE {where}").fetchone()[0])


# --- pruning ------------------------------------------------------------------------------


def test_prune_goes_a_batch_at_a_time_and_keeps_what_is_not_acknowledged(
    db: peewee.SqliteDatabase,
) -> None:
    outbox = Outbox(db)
    fill_outbox(db, 2_600, created_at=T0)
    outbox.ack_upto(2_000, T0)
    outbox.ack_upto(2_200, T0 + timedelta(hours=2))
    cutoff = T0 + timedelta(hours=1)
    assert [outbox.prune(cutoff, batch=1000) for _ in range(4)] == [1000, 1000, 0, 0]
    assert count(db, "acked_at IS NOT NULL") == 200  # acknowledged after the cutoff
    assert count(db, "acked_at IS NULL") == 400  # never acknowledged: never deleted
    assert outbox.stats().pending == 400
    assert outbox.prune(T0 + timedelta(days=30)) == 200  # no batch: all at once
    assert outbox.stats().acked_upto == 2_200


def test_housekeeping_prunes_after_the_retention_and_says_how_many_once(
    db: peewee.SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    outbox = Outbox(db)
    fill_outbox(db, 2_500, created_at=T0)
    outbox.ack_upto(2_400, T0)
    clock = Clock(T0 + timedelta(hours=23))
    keeper = OutboxHousekeeping(
        outbox, retention=timedelta(hours=24), backlog_after=timedelta(hours=1), clock=clock
    )
    assert not keeper.prune()  # not old enough yet
    clock.advance(hours=2)
    assert [keeper.prune(), keeper.prune(), keeper.prune()] == [True, True, False]
    assert count(db, "1") == 100 and outbox.stats().pending == 100
    lines = [r.getMessage() for r in caplog.records if "deleted" in r.getMessage()]
    assert lines == ["outbox: deleted 2400 acknowledged messages older than 24 h"]


def test_the_sync_thread_prunes_at_start_and_while_it_runs(
    db: peewee.SqliteDatabase, mosquitto: MosquittoBroker, services: list[SyncService]
) -> None:
    outbox = CountingOutbox(db)
    fill_outbox(db, 3_000, created_at=T0)
    outbox.ack_upto(2_500, T0)
    clock = Clock(T0 + timedelta(hours=25))
    start(services, outbox, mosquitto.url, clock)
    wait_until(lambda: count(db, "acked_at IS NOT NULL") == 0, "the acknowledged rows pruned")
    assert count(db, "acked_at IS NULL") == 500  # waiting for the store server: kept

    # More are acknowledged; 23 hours on they are kept, 25 hours on they go too.
    outbox.ack_upto(2_800, clock())
    clock.advance(hours=23)
    prunes = outbox.prunes
    wait_until(lambda: outbox.prunes >= prunes + 3, "housekeeping at 23 hours")
    assert count(db, "acked_at IS NOT NULL") == 300
    clock.advance(hours=2)
    wait_until(lambda: count(db, "acked_at IS NOT NULL") == 0, "the later acks pruned")
    assert count(db, "acked_at IS NULL") == 200


# --- the backlog --------------------------------------------------------------------------


def test_a_backlog_is_reported_once_and_its_end_too(
    db: peewee.SqliteDatabase,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
    services: list[SyncService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    fill_outbox(db, 40, created_at=T0)
    clock, states = Clock(T0 + timedelta(minutes=59)), States()
    statuses: list[dict[str, Any]] = []
    watcher = StatusWatcher(mosquitto.url, statuses)
    try:
        service = start(
            services, Outbox(db), mosquitto.url, clock, states,
            backlog_warning_min=60, ack_timeout_s=0.5,
        )  # fmt: skip
        wait_until(lambda: states.of("outbox") == ["ok"], "the outbox ok")
        wait_until(lambda: service.counters.published >= 40, "rows published to nobody")
        clock.advance(minutes=2)  # the oldest row is now 61 minutes old
        wait_until(lambda: states.of("outbox") == ["ok", "backlog"], "the backlog")
        (detail,) = [d for n, s, d in states.heard if s == "backlog"]
        assert detail == "40 messages waiting since 2026-11-28T09:00:00.000+08:00"
        wait_until(
            lambda: any(m["devices"].get("outbox") == "backlog" for m in statuses),
            "the retained status telling of it",
        )
        for message in statuses:
            validate(message)

        server = StoreServer(mosquitto.url, tmp_path / "store.db").start()
        try:
            wait_until(lambda: states.of("outbox") == ["ok", "backlog", "ok"], "the end of it")
        finally:
            server.close()
        assert Outbox(db).stats().pending == 0
    finally:
        watcher.close()
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("firmware_app.sync")
    ]
    assert len(warnings) == 1  # checked many times, said once
    assert "outbox: 40 messages waiting since" in warnings[0].getMessage()
    assert "mqtt.backlog_warning_min (60 min)" in warnings[0].getMessage()


def test_a_row_with_a_bad_time_is_logged_once_and_changes_nothing(
    db: peewee.SqliteDatabase,
    mosquitto: MosquittoBroker,
    services: list[SyncService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    outbox = CountingOutbox(db)
    fill_outbox(db, 2, created_at=T0)
    db.execute_sql("UPDATE outboxmessage SET created_at = 'yesterday' WHERE seq = 1")
    clock, states = Clock(T0 + timedelta(days=2)), States()
    service = start(services, outbox, mosquitto.url, clock, states)
    wait_until(lambda: service.counters.published == 2, "both rows published all the same")
    wait_until(lambda: outbox.looks >= 10, "the outbox looked at again and again")
    assert states.of("outbox") == ["ok"]
    lines = [r.getMessage() for r in caplog.records if "created_at" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("outbox: created_at of the oldest message: 'yesterday': ")


# --- cheap with a large outbox ------------------------------------------------------------


def test_the_acked_at_index_is_made_on_a_database_that_lacks_it(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    open_database(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP INDEX outboxmessage_acked_at")  # as an older lane database
        conn.commit()
    db = open_database(path)
    db.close()
    with closing(sqlite3.connect(path)) as conn:
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        assert "outboxmessage_acked_at" in indexes
        plans = [
            " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
            for query in (
                "SELECT COUNT(*), MIN(seq) FROM outboxmessage WHERE acked_at IS NULL",
                "SELECT * FROM outboxmessage WHERE acked_at IS NULL AND seq > 5 "
                "AND seq <= 9 ORDER BY seq LIMIT 100",
                "SELECT seq FROM outboxmessage WHERE acked_at IS NOT NULL AND acked_at < 'x' "
                "ORDER BY acked_at LIMIT 1000",
            )
        ]
    # Index searches, never a scan of the whole table, and no sort of it.
    assert all("outboxmessage_acked_at" in plan for plan in plans), plans
    assert not any("SCAN" in plan or "TEMP B-TREE" in plan for plan in plans), plans


class StatusWatcher:
    """Collects the lane's status messages."""

    def __init__(self, url: str, into: list[dict[str, Any]]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        subscribed = threading.Event()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = lambda c, u, m: into.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, int(port), 30)
        self.client.loop_start()
        self.client.subscribe(TOPICS.status, 1)
        assert subscribed.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
