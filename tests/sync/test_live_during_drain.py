"""A sale made while a long backlog drains is published ahead of it, and the store server
still ends with every seq once.

A lane back after a day offline holds tens of thousands of rows. They drain in seq order;
rows committed after the drain began are live and go out ahead of what is left of it,
within a reserve of the send window. The store server stores a live row when it comes
and acknowledges it once the backlog below it has arrived. These tests assert the order
in which things happen (what a subscriber received, what the lane had published), never
how long anything took.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import peewee
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import Topics, encode
from firmware_app.sync.service import SyncService
from hw_sim.broker import BrokerError, MosquittoBroker, mosquitto_path
from hw_sim.store_server import StoreServer
from tests.conftest import LaneMessages
from tests.sync.lanes import fill_outbox
from tests.waiting import wait_until

STORE, LANE = "S001", "01"
TOPICS = Topics("pos", STORE, LANE)
# Nothing dropped for a slow subscriber: what it misses, it must not have been sent.
BROKER_CONF = "max_queued_messages 0\nmax_queued_bytes 0\n"


def now() -> datetime:
    return datetime.now().astimezone()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    try:
        mosquitto_path()
    except BrokerError as e:
        pytest.skip(str(e))
    with MosquittoBroker(data_dir=tmp_path / "broker", extra_conf=BROKER_CONF) as b:
        yield b


def sell(db: peewee.SqliteDatabase, messages: LaneMessages) -> list[int]:
    """A sale committed now, as the lane loop commits it: its sale and stock rows."""
    outbox = Outbox(db)
    with db.atomic():
        return [
            outbox.append(TOPICS.sales, lambda seq: encode(messages.sale(seq)), now()),
            outbox.append(TOPICS.stock, lambda seq: encode(messages.stock(seq)), now()),
        ]


class Subscriber:
    """Records the seq of every uplink message of the lane, in arrival order."""

    def __init__(self, url: str) -> None:
        self.seqs: list[int] = []
        self._subscribed = threading.Event()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"subscriber-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = lambda c, u, m: self.seqs.append(json.loads(m.payload)["seq"])
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, int(port), 30)
        self.client.loop_start()
        self.client.subscribe([(TOPICS.uplink(kind), 1) for kind in ("sales", "stock", "events")])
        assert self._subscribed.wait(5)

    def arrived(self, seq: int) -> int | None:
        """Where ``seq`` came in the arrival order (None: not yet)."""
        seqs = list(self.seqs)
        return seqs.index(seq) if seq in seqs else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Drain:
    """A lane database with a backlog, its sync service, the store server and a subscriber."""

    def __init__(self, broker: MosquittoBroker, tmp_path: Path, backlog: int) -> None:
        self.messages = LaneMessages(STORE, LANE)
        self.db = open_database(tmp_path / "lane.db")
        self.backlog = backlog
        fill_outbox(self.db, backlog, created_at=now() - timedelta(days=1))
        self.subscriber = Subscriber(broker.url)
        self.store_db = tmp_path / "store.db"
        self.server = StoreServer(broker.url, self.store_db).start()
        self.outbox = Outbox(self.db)
        self.broker = broker
        self.sync: SyncService | None = None

    def start(self, **mqtt_settings: Any) -> SyncService:
        config = MqttConfig(url=self.broker.url, **mqtt_settings)
        self.sync = SyncService(
            config,
            store_id=STORE,
            lane_id=LANE,
            outbox=self.outbox,
            status=lambda: {"version": "0.1.0", "catalog_version": 1, "devices": {}},
            on_downlink=lambda topic, payload: None,
        )
        self.sync.start()
        return self.sync

    def stored(self, seq: int) -> bool:
        """Whether the store server holds ``seq`` (read from its file, not under its lock)."""
        with closing(sqlite3.connect(f"file:{self.store_db}?mode=ro", uri=True)) as db:
            query = "SELECT 1 FROM message WHERE store = ? AND lane = ? AND seq = ?"
            return db.execute(query, (STORE, LANE, seq)).fetchone() is not None

    def sell(self) -> list[int]:
        assert self.sync is not None
        seqs = sell(self.db, self.messages)
        self.sync.wake()
        return seqs

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        self.server.close()
        self.subscriber.close()
        self.db.close()


@pytest.fixture
def drain_of(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Any]:
    made: list[Drain] = []

    def make(backlog: int) -> Drain:
        made.append(Drain(broker, tmp_path, backlog))
        return made[-1]

    yield make
    for drain in made:
        drain.close()


def test_a_sale_made_while_20000_rows_drain_is_published_ahead_of_them(drain_of: Any) -> None:
    lane = drain_of(20_000)
    sync = lane.start()
    wait_until(lambda: len(lane.subscriber.seqs) >= 500, "the drain under way", timeout=10)

    sale, stock = lane.sell()
    wait_until(lambda: lane.subscriber.arrived(stock) is not None, "the new sale", timeout=10)
    published = sync.counters.published

    # When the new sale was out, the lane had not even published the backlog's end …
    assert published < lane.backlog
    assert lane.subscriber.arrived(lane.backlog) is None
    assert lane.subscriber.arrived(sale) < lane.subscriber.arrived(stock)
    # … and the store server keeps the early rows until the gap below them closes.
    wait_until(lambda: lane.stored(sale), "the store server storing the sale")
    assert lane.server.acked_upto(STORE, LANE) < lane.backlog
    assert sync.counters.republished == 0


def test_sales_made_during_a_drain_overtake_it_and_every_seq_is_stored_once(
    drain_of: Any,
) -> None:
    """A small window (100 unacked, 10 in flight) over 2,000 rows: the backlog is twenty
    windows long, and the drain runs to its end."""
    lane = drain_of(2_000)
    sync = lane.start(max_inflight=10, ack_timeout_s=30.0)
    live: list[int] = []
    for quarter in (1, 2, 3):
        wait_until(
            lambda q=quarter: len(lane.subscriber.seqs) >= q * lane.backlog // 4,
            f"{quarter} quarter(s) of the backlog",
            timeout=15,
        )
        live += lane.sell()
    last = live[-1]
    wait_until(lambda: lane.outbox.stats().pending == 0, "every row acknowledged", timeout=30)
    # The subscriber is a client of its own: the broker may hand it the last rows a moment
    # after the store server, whose acks the lane has already written.
    wait_until(
        lambda: all(lane.subscriber.arrived(s) is not None for s in (*live, lane.backlog)),
        "the subscriber hearing every row",
        timeout=10,
    )
    for seq in live:
        assert lane.subscriber.arrived(seq) < lane.subscriber.arrived(lane.backlog)
    messages = lane.server.messages(STORE, LANE)
    assert [m["seq"] for m in messages] == list(range(1, last + 1))  # each once, no gap
    assert lane.server.acked_upto(STORE, LANE) == last
    assert lane.server.gaps(STORE, LANE) == []
    assert lane.server.received == last  # nothing had to be sent twice
    assert sync.counters.republished == 0
