"""The simulated store server: idempotent storage, acks, gaps, stock, command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware_app.sync.contract import Topics, encode, parse_ack, parse_uplink_topic
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import Incoming, StoreLedger, StoreServer, main
from tests.conftest import LaneMessages
from tests.waiting import wait_until

TOPICS = Topics("pos", "S001", "01")
REPO = Path(__file__).resolve().parents[2]


class Lane:
    """Publishes uplink messages as a lane would and collects the acks it gets."""

    def __init__(self, url: str, *subscriptions: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.received: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, int(port), 30)
        self.client.loop_start()
        self.client.subscribe([(t, 1) for t in (*subscriptions, TOPICS.ack)])
        assert self._subscribed.wait(5)

    def send(self, message: dict[str, Any], topic: str | None = None) -> None:
        kind = {"lane.sale/1": "sales", "lane.stock/1": "stock", "lane.event/1": "events"}
        topic = topic or TOPICS.uplink(kind.get(message.get("schema", ""), "sales"))
        self.client.publish(topic, encode(message), qos=1).wait_for_publish(5)

    def acks(self) -> list[int]:
        return [parse_ack(p) for t, p in list(self.received) if t == TOPICS.ack]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def server(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[StoreServer]:
    with StoreServer(mosquitto.url, tmp_path / "store.db") as s:
        yield s


@pytest.fixture
def lane(mosquitto: MosquittoBroker) -> Iterator[Lane]:
    client = Lane(mosquitto.url)
    yield client
    client.close()


def test_messages_are_stored_once_acked_contiguously_and_gaps_found(
    server: StoreServer, lane: Lane, lane_messages: LaneMessages
) -> None:
    for seq in (1, 2, 4, 5):
        lane.send(lane_messages.event(seq))
    wait_until(lambda: len(server.messages("S001", "01")) == 4, "four messages")
    assert server.acked_upto("S001", "01") == 2
    assert server.gaps("S001", "01") == [3]
    lane.send(lane_messages.sale(3))
    lane.send(lane_messages.event(2))  # a duplicate
    wait_until(lambda: server.received == 6, "six messages received")
    assert [m["seq"] for m in server.messages("S001", "01")] == [1, 2, 3, 4, 5]
    assert server.gaps("S001", "01") == []
    # One ack per group commit, each the lane's contiguous mark: never past a gap.
    wait_until(lambda: lane.acks() and lane.acks()[-1] == 5, "the ack up to 5")
    acks = lane.acks()
    assert acks == sorted(acks) and set(acks) <= {1, 2, 5}


def test_stock_is_exact_and_a_duplicate_never_counts_twice(
    server: StoreServer, lane: Lane, lane_messages: LaneMessages
) -> None:
    deltas = [("100234", "-2", "each"), ("200001", "-0.532", "kg")]
    lane.send(lane_messages.stock(1, deltas))
    lane.send(lane_messages.stock(1, deltas))
    lane.send(lane_messages.stock(2, [("200001", "-0.1", "kg"), ("100234", "1", "each")]))
    wait_until(lambda: server.received == 3, "three messages")
    assert server.stock("100234") == Decimal("-1")
    assert server.stock("200001") == Decimal("-0.632")
    assert server.stock("999999") == 0


def test_invalid_messages_are_logged_and_not_stored(
    server: StoreServer,
    lane: Lane,
    lane_messages: LaneMessages,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lane.send({**lane_messages.sale(1), "change": 300.0})
    lane.send(lane_messages.sale(1), topic=TOPICS.stock)  # wrong topic for the schema
    lane.send(lane_messages.sale(1), topic=Topics("pos", "S002", "01").sales)  # wrong store
    lane.client.publish(TOPICS.sales, b"not json", qos=1).wait_for_publish(5)
    lane.send(lane_messages.sale(1))
    wait_until(lambda: server.received == 1, "the valid message")
    assert server.rejected == 4
    assert [m["seq"] for m in server.messages("S001", "01")] == [1]
    assert "change: 300.0 is not of type 'integer'" in caplog.text


def test_a_seq_sent_again_with_other_content_is_refused_and_not_acked(
    server: StoreServer, lane: Lane, lane_messages: LaneMessages, caplog: pytest.LogCaptureFixture
) -> None:
    lane.send(lane_messages.event(1))
    wait_until(lambda: lane.acks() == [1], "the first ack")
    lane.send(lane_messages.event(1, event="sign_off"))
    lane.send(lane_messages.event(1))  # the same content again: acked again
    wait_until(lambda: lane.acks() == [1, 1], "the ack of the true duplicate")
    assert server.rejected == 1
    assert server.messages("S001", "01")[0]["event"] == "no_sale"
    assert "stored before with other content" in caplog.text


def test_a_second_server_run_keeps_what_the_first_stored(
    mosquitto: MosquittoBroker, tmp_path: Path, lane: Lane, lane_messages: LaneMessages
) -> None:
    with StoreServer(mosquitto.url, tmp_path / "store.db") as first:
        lane.send(lane_messages.event(1))
        wait_until(lambda: first.received == 1, "the first message")
    lane.send(lane_messages.event(2))  # kept by the broker in the server's session
    with StoreServer(mosquitto.url, tmp_path / "store.db") as second:
        wait_until(lambda: second.acked_upto("S001", "01") == 2, "the queued message")


def test_a_bad_message_of_one_lane_stalls_no_other(
    server: StoreServer, lane: Lane, lane_messages: LaneMessages, caplog: pytest.LogCaptureFixture
) -> None:
    """A seq past every bound is refused alone; the other lanes' messages are stored."""
    lane_02 = LaneMessages(lane="02")
    lane.send(lane_02.sale(2**63), topic=Topics("pos", "S001", "02").sales)
    lane.send(lane_messages.event(1))
    lane.send(lane_02.event(1), topic=Topics("pos", "S001", "02").events)
    wait_until(lambda: server.acked_upto("S001", "01") == 1, "lane 01 stored")
    wait_until(lambda: server.acked_upto("S001", "02") == 1, "lane 02's good message stored")
    assert server.rejected == 1
    assert "seq" in caplog.text


def test_the_ledger_refuses_a_message_it_cannot_store_and_keeps_the_rest_of_the_batch(
    tmp_path: Path, lane_messages: LaneMessages
) -> None:
    """Whatever passed the checks, one message the database cannot take (a seq past
    SQLite's integers) is refused alone, not the whole group commit."""
    ledger = StoreLedger(tmp_path / "store.db")
    lane_02 = LaneMessages(lane="02")

    def incoming(topic: str, message: dict[str, Any], mid: int) -> Incoming:
        return Incoming(parse_uplink_topic(topic), topic, message, "t", mid, 1)

    lane_02_stock = Topics("pos", "S001", "02").stock
    batch = [
        incoming(TOPICS.stock, lane_messages.stock(1), 1),
        incoming(lane_02_stock, lane_02.stock(2**63), 2),
        incoming(lane_02_stock, {**lane_02.stock(1), "deltas": [{"sku": "x", "qty": "1e5"}]}, 3),
        incoming(TOPICS.stock, lane_messages.stock(2), 4),
        incoming(lane_02_stock, lane_02.stock(1), 5),
    ]
    try:
        kept, marks = ledger.store_many(batch)
        assert [item.mid for item in kept] == [1, 4, 5]
        assert marks == {("S001", "01"): 2, ("S001", "02"): 1}
        assert [bool(item.refused) for item in batch] == [False, True, True, False, False]
        assert batch[1].refused.startswith(f"seq {2**63} cannot be stored: OverflowError")
        assert ledger.stock("100234", "S001") == -6
        assert ledger.stock("x") == 0
    finally:
        ledger.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.booleans()), max_size=30))
def test_ledger_acks_the_highest_contiguous_seq(tmp_path_factory: Any, arrivals: Any) -> None:
    """Any order, any duplicates: the ack is the highest seq with nothing missing below."""
    ledger = StoreLedger(tmp_path_factory.mktemp("ledger") / "store.db")
    messages = LaneMessages()
    where = parse_uplink_topic(TOPICS.stock)
    seen: set[int] = set()
    try:
        for seq, _ in arrivals:
            _, upto = ledger.store(where, TOPICS.stock, messages.stock(seq), "t")
            seen.add(seq)
            expected = 0
            while expected + 1 in seen:
                expected += 1
            assert upto == expected
        assert ledger.stock("100234") == -2 * len(seen)
        assert ledger.gaps("S001", "01") == [
            s for s in range(1, max(seen, default=0)) if s not in seen
        ]
    finally:
        ledger.close()


# --- command line ------------------------------------------------------------------------


def test_command_line_prints_each_message_on_one_line(
    mosquitto: MosquittoBroker, tmp_path: Path, lane: Lane, lane_messages: LaneMessages
) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "hw_sim.store_server", "--broker", mosquitto.url,
         "--db", str(tmp_path / "cli.db")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        for line in server.stderr:  # start() returns once subscribed, then this is logged
            if "listening" in line:
                break
        lane.send(lane_messages.sale(1))
        wait_until(lambda: lane.acks() == [1], "the ack", timeout=10.0)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=10)
    assert server.returncode == 0, err
    topic, body = out.splitlines()[0].split(" ", 1)
    assert topic == TOPICS.sales
    assert json.loads(body) == lane_messages.sale(1)
    assert "可口可乐" in body  # readable text, not \\u escapes


def test_publish_catalog_from_a_file(
    mosquitto: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = REPO / "hw_sim" / "samples" / "catalog.json"
    reader = Lane(mosquitto.url, "pos/S001/catalog")
    try:
        assert main(["--broker", mosquitto.url, "--publish-catalog", str(catalog),
                     "--store", "S001"]) == 0  # fmt: skip
        wait_until(lambda: reader.received, "the catalog")
    finally:
        reader.close()
    topic, payload = reader.received[0]
    assert topic == "pos/S001/catalog"
    assert json.loads(payload) == json.loads(catalog.read_bytes())
    assert "published" in capsys.readouterr().out


def test_publish_catalog_refuses_an_invalid_file(
    mosquitto: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema":"store.catalog/1","at":"2026-11-28T08:00:00+08:00","version":0,'
                   '"base_version":null}')  # fmt: skip
    assert main(["--broker", mosquitto.url, "--publish-catalog", str(bad), "--store", "S1"]) == 2
    assert "version" in capsys.readouterr().err
    assert main(["--broker", mosquitto.url, "--publish-catalog", str(bad)]) == 2
    assert main(["--broker", "http://x", "--db", str(tmp_path / "x.db")]) == 2


def test_publish_catalog_splits_a_big_file_into_parts(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    from datetime import datetime

    from firmware_app.store.catalog import StoreCatalog
    from firmware_app.store.catalog_doc import parse_catalog
    from firmware_app.store.db import open_catalog

    catalog = REPO / "hw_sim" / "samples" / "catalog.json"
    whole = json.loads(catalog.read_bytes())
    reader = Lane(mosquitto.url, "pos/S001/catalog")
    try:
        assert main(["--broker", mosquitto.url, "--publish-catalog", str(catalog),
                     "--store", "S001", "--part-items", "3"]) == 0  # fmt: skip
        expected = -(-len(whole["items"]) // 3)
        wait_until(lambda: len(reader.received) == expected, "every part")
    finally:
        reader.close()
    parts = [parse_catalog(payload) for _, payload in reader.received]
    assert [p.part for p in parts] == list(range(1, expected + 1))
    assert {p.parts for p in parts} == {expected}
    # What the lane applies from the parts is the catalog the file holds.
    from_parts = StoreCatalog(open_catalog(tmp_path / "parts.db"))
    applied = [from_parts.stage(p, datetime.now().astimezone()) for p in parts]
    assert applied[:-1] == [None] * (expected - 1) and applied[-1] is not None
    from_file = StoreCatalog(open_catalog(tmp_path / "file.db"))
    from_file.apply(parse_catalog(catalog.read_bytes()))
    for table in ("catalogitem", "itemcode"):
        query = f"SELECT * FROM {table} ORDER BY 1"
        rows = from_parts.db.execute_sql(query).fetchall()
        assert rows == from_file.db.execute_sql(query).fetchall()
        assert rows
