"""Exactly once at the store, whatever fails on the way.

Each case makes a few hundred realistic sales on a real lane database, breaks
something on the way to the simulated store server (the broker, the lane, the
store server, the acks, the lane's absence), and then proves from both SQLite
files that the store holds every message of the lane once, every sale once,
the same journal hashes, and stock levels per SKU equal to the sum of the
lane's own committed lines. The lane runs with a 1 s ack timeout and quick
reconnects, so each case takes seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from firmware_app.sync.contract import Topics, ack_message, encode, validate
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from tests.sync.lanes import (
    ROOT,
    STORE,
    InProcessLane,
    LaneDaemon,
    StoreServerProcess,
    assert_exactly_once,
    drained,
    lane_book,
    lane_config,
    ring_up,
    stored,
)
from tests.waiting import wait_until

DRAIN_TIMEOUT_S = 30.0


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Closes what a case started, last first, however the case ends."""
    with ExitStack() as stack:
        yield stack


class Client:
    """A plain MQTT 5 client: records what arrives on its topics, publishes at QoS 1.

    ``no_local``: it does not hear what it publishes itself.
    """

    def __init__(self, url: str, *topics: str, no_local: bool = False) -> None:
        self.topics = topics
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._subscribed = threading.Event()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = lambda c, u, m: self.received.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, int(port), 30)
        self.client.loop_start()
        if topics:
            options = SubscribeOptions(qos=1, noLocal=no_local)
            self.client.subscribe([(t, options) for t in topics])
            assert self._subscribed.wait(5)

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.client.publish(topic, encode(message), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def started_server(stack: ExitStack, broker: MosquittoBroker, db: Path, **kw: Any) -> StoreServer:
    server = StoreServer(broker.url, db, **kw)
    stack.callback(server.close)
    return server.start()


def started_lane(stack: ExitStack, lane: InProcessLane) -> InProcessLane:
    stack.callback(lane.close)
    return lane.start()


def wait_drained(data: Path, store_db: Path, lane: str, what: str = "the drain") -> None:
    wait_until(lambda: drained(data, store_db, lane), what, DRAIN_TIMEOUT_S)


# --- the broker ---------------------------------------------------------------------------


def test_broker_killed_and_restarted_mid_drain(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    ring_up(data, "01", 300)  # a backlog: the lane was offline for a while
    total = len(lane_book(data).seqs)
    started_server(stack, mosquitto, store_db)
    started_lane(stack, InProcessLane(data, mosquitto.url, lane="01"))

    wait_until(lambda: stored(store_db, "01") >= total // 4, "a quarter of the backlog")
    mosquitto.kill()  # a crash: sessions and in-flight messages since the last save are gone
    assert stored(store_db, "01") < total, "the drain ended before the broker was killed"
    mosquitto.start()

    wait_drained(data, store_db, "01")
    assert_exactly_once(data, store_db, "01")


def test_sales_made_while_the_broker_is_down_arrive_once(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    started_server(stack, mosquitto, store_db)
    lane = started_lane(stack, InProcessLane(data, mosquitto.url, lane="01"))
    lane.ring_up(50)
    wait_drained(data, store_db, "01", "the first sales")

    mosquitto.kill()
    for _ in range(10):  # the lane keeps selling: 200 sales committed with no broker
        lane.ring_up(20)
    assert lane_book(data).pending > 200
    mosquitto.start()
    lane.ring_up(20)  # and goes on selling while it catches up

    wait_drained(data, store_db, "01")
    book = assert_exactly_once(data, store_db, "01")
    assert sum(book.sales.values()) == lane.cashier.rung_up == 270


# --- the lane -------------------------------------------------------------------------------


def test_lane_killed_mid_drain_and_restarted(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    ring_up(data, "02", 300)
    total = len(lane_book(data).seqs)
    started_server(stack, mosquitto, store_db)
    daemon = LaneDaemon(lane_config(data, mosquitto.url, lane="02"))
    stack.callback(daemon.stop)

    daemon.start()
    wait_until(lambda: stored(store_db, "02") >= total // 4, "a quarter of the backlog", 15)
    daemon.kill()  # mid-drain: acks on their way, rows half marked, nothing cleaned up
    assert stored(store_db, "02") < total, "the drain ended before the lane was killed"
    ring_up(data, "02", 30)  # the lane comes back and sells before it reconnects
    daemon.start()

    wait_drained(data, store_db, "02")
    assert_exactly_once(data, store_db, "02")


# --- the store server -----------------------------------------------------------------------


def test_store_server_killed_and_restarted_mid_stream(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    server = StoreServerProcess(mosquitto.url, store_db)
    stack.callback(server.stop)
    server.start()
    lane = started_lane(stack, InProcessLane(data, mosquitto.url, lane="03"))
    lane.ring_up(300)

    wait_until(lambda: stored(store_db, "03") >= 100, "the store server to store 100", 15)
    server.kill()  # between a commit and its ack, or mid-commit: SQLite keeps what was committed
    lane.ring_up(50)  # messages meanwhile wait in the store server's session at the broker
    server.start()

    wait_drained(data, store_db, "03")
    assert_exactly_once(data, store_db, "03")


# --- acks -----------------------------------------------------------------------------------


def test_lost_duplicate_and_out_of_order_acks_change_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    lane = InProcessLane(data, mosquitto.url, lane="04")
    stack.callback(lane.close)
    lane.ring_up(300)
    total = len(lane_book(data).seqs)
    # Every ack of the first pass is lost: the lane publishes everything again after its
    # ack timeout, and the store server, receiving each message twice, keeps it once.
    server = started_server(stack, mosquitto, store_db, drop_acks=total)
    # A client on the ack topic (no_local: it hears only the store server) that plays
    # every ack it hears back at the lane, twice, and older ones out of order.
    echo = Client(mosquitto.url, Topics("pos", STORE, "04").ack, no_local=True)
    stack.callback(echo.close)
    lane.start()

    wait_until(lambda: echo.received, "a first ack that gets through", 60)
    rng = random.Random(4)
    played = 0
    while not drained(data, store_db, "04"):
        assert played < 50000, "the lane did not drain"
        heard = [message for _, message in echo.received]
        for message in (heard[-1], heard[-1], rng.choice(heard), heard[0]):
            again = ack_message(message["upto"], at=datetime.now().astimezone())
            validate(again)
            echo.publish(echo.topics[0], again)
            played += 1

    assert_exactly_once(data, store_db, "04")
    assert server.received > total, "the lane did not publish again after the lost acks"


# --- a lane that is away ----------------------------------------------------------------


def catalog_change(version: int, prices: dict[str, int]) -> dict[str, Any]:
    """A ``store.catalog/1`` delta on ``version - 1``: new prices for items of the sample."""
    sample = json.loads((ROOT / "hw_sim/samples/catalog.json").read_text(encoding="utf-8"))
    items = [
        {**item, "price": prices[item["sku"]]} for item in sample["items"] if item["sku"] in prices
    ]
    message = {
        "schema": "store.catalog/1",
        "at": datetime.now().astimezone().isoformat(timespec="milliseconds"),
        "version": version,
        "base_version": version - 1,
        "items": items,
        "removed": [],
        "promotions": [],
    }
    validate(message)
    return message


def import_catalog(config: Path) -> None:
    """``firmware-lane catalog import`` of the sample catalog (version 1)."""
    result = subprocess.run(
        [sys.executable, "-m", "firmware_app", "catalog", "import",
         str(ROOT / "hw_sim/samples/catalog.json"), "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_catalog_changes_published_while_the_lane_is_away_arrive_when_it_is_back(
    mosquitto: MosquittoBroker, tmp_path: Path, stack: ExitStack
) -> None:
    data, store_db = tmp_path / "lane", tmp_path / "store.db"
    topics = Topics("pos", STORE, "05")
    config = lane_config(data, mosquitto.url, lane="05")
    import_catalog(config)
    ring_up(data, "05", 100)
    started_server(stack, mosquitto, store_db)
    status = Client(mosquitto.url, topics.status)
    stack.callback(status.close)
    daemon = LaneDaemon(config)
    stack.callback(daemon.stop)

    def catalog_version() -> int | None:
        online = [m for t, m in status.received if m["state"] == "online"]
        return online[-1]["catalog_version"] if online else None

    daemon.start()  # its first connection makes its session: subscriptions kept 7 days
    wait_until(lambda: catalog_version() == 1, "the lane online on catalog 1", 15)
    daemon.kill()
    store = Client(mosquitto.url)
    stack.callback(store.close)
    store.publish(topics.store_catalog, catalog_change(2, {"100234": 360}))
    store.publish(topics.store_catalog, catalog_change(3, {"100234": 370, "100235": 210}))
    ring_up(data, "05", 50)  # and more unsent sales in its outbox when it comes back

    daemon.start()
    wait_until(lambda: catalog_version() == 3, "the lane on catalog 3", 15)
    wait_drained(data, store_db, "05")
    assert_exactly_once(data, store_db, "05")
