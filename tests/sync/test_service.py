"""The sync service against a real mosquitto and the simulated store server."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.models import OutboxMessage
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import Topics, ack_message, encode, validate
from firmware_app.sync.mqtt_client import paho_client
from firmware_app.sync.service import SyncService
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer
from tests.conftest import LaneMessages
from tests.waiting import wait_until

STORE, LANE = "S001", "01"
TOPICS = Topics("pos", STORE, LANE)
REPO = Path(__file__).resolve().parents[2]


def now() -> datetime:
    return datetime.now().astimezone()


class Watcher:
    """A plain MQTT client that records what arrives on some topics and can publish."""

    def __init__(self, url: str, *topics: str) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"watcher-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = lambda c, u, m: self.received.append(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, int(port), 30)
        self.client.loop_start()
        if topics:
            self.client.subscribe([(t, 1) for t in topics])
            assert self._subscribed.wait(5)

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(p) for t, p, _ in list(self.received) if t == topic]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Rig:
    """One lane database and everything a test starts around it; closes it all."""

    def __init__(self, broker: MosquittoBroker, tmp_path: Path, messages: LaneMessages) -> None:
        self.broker = broker
        self.tmp_path = tmp_path
        self.db = open_database(tmp_path / "lane.db")
        self.outbox = Outbox(self.db)
        self.messages = messages
        self.downlink: list[tuple[str, bytes]] = []
        self.clients: list[mqtt.Client] = []
        self._closers: list[Callable[[], None]] = []

    def add_sales(self, n: int) -> None:
        """Commit ``n`` sales, each a lane.sale/1 and a lane.stock/1 row."""
        with self.db.atomic():
            for _ in range(n):
                self.outbox.append(TOPICS.sales, lambda seq: encode(self.messages.sale(seq)), now())
                self.outbox.append(
                    TOPICS.stock, lambda seq: encode(self.messages.stock(seq)), now()
                )

    def config(self, **overrides: Any) -> MqttConfig:
        values: dict[str, Any] = {
            "url": self.broker.url,
            "keepalive_s": 5,
            "ack_timeout_s": 1.0,
            "max_inflight": 10,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.3,
        }
        values.update(overrides)
        return MqttConfig(**values)

    def on_downlink(self, topic: str, payload: bytes) -> None:
        self.downlink.append((topic, payload))

    def factory(self, client_id: str, mqtt5: bool) -> mqtt.Client:
        client = paho_client(client_id, mqtt5)
        self.clients.append(client)
        return client

    def service(
        self,
        *,
        status: Callable[[], Any] | None = None,
        start: bool = True,
        service_kw: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> SyncService:
        svc = SyncService(
            self.config(**overrides),
            store_id=STORE,
            lane_id=LANE,
            outbox=self.outbox,
            status=status
            or (
                lambda: {
                    "version": "0.1.0",
                    "catalog_version": 58,
                    "devices": {"scanner": "ok", "printer": "ok"},
                }
            ),
            **{
                "on_downlink": self.on_downlink,
                "client_factory": self.factory,
                **(service_kw or {}),
            },
        )
        self._closers.append(svc.close)
        if start:
            svc.start()
        return svc

    def server(self, **kw: Any) -> StoreServer:
        server = StoreServer(self.broker.url, self.tmp_path / "store.db", **kw)
        self._closers.append(server.close)
        return server.start()

    def watcher(self, *topics: str) -> Watcher:
        watcher = Watcher(self.broker.url, *topics)
        self._closers.append(watcher.close)
        return watcher

    def pending(self) -> int:
        return self.outbox.stats().pending

    def payloads(self) -> list[dict[str, Any]]:
        rows = OutboxMessage.select().order_by(OutboxMessage.seq)
        return [json.loads(bytes(r.payload)) for r in rows]

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self.db.close()


@pytest.fixture
def rig(mosquitto: MosquittoBroker, tmp_path: Path, lane_messages: LaneMessages) -> Iterator[Rig]:
    r = Rig(mosquitto, tmp_path, lane_messages)
    try:
        yield r
    finally:
        r.close()


def retained_status(url: str) -> dict[str, Any]:
    """What a reader connecting now gets as the lane's status."""
    watcher = Watcher(url, TOPICS.status)
    try:
        wait_until(lambda: watcher.received, "the retained status")
        _, payload, retained = watcher.received[0]
        assert retained
        return dict(json.loads(payload))
    finally:
        watcher.close()


# --- delivery ----------------------------------------------------------------------------


def test_every_row_arrives_once_and_is_acked(rig: Rig) -> None:
    rig.add_sales(5)
    for message in rig.payloads():
        validate(message)
    server = rig.server()
    svc = rig.service()
    wait_until(lambda: rig.pending() == 0, "every row acked")
    assert server.messages(STORE, LANE) == rig.payloads()
    assert server.acked_upto(STORE, LANE) == 10
    assert server.gaps(STORE, LANE) == []
    assert server.stock("100234") == -10
    assert OutboxMessage.select().where(OutboxMessage.acked_at.is_null()).count() == 0
    assert svc.counters.republished == 0
    assert server.received == 10


def test_the_lanes_and_the_store_servers_sockets_send_small_packets_at_once(rig: Rig) -> None:
    """TCP_NODELAY on both ends: without it a sale's stock message, or an ack written
    after PUBACKs, waits about 40 ms for a delayed TCP ACK."""
    server = rig.server()
    svc = rig.service()
    wait_until(lambda: svc.connected, "connected")
    for client in (rig.clients[-1], server._client):
        assert client is not None
        sock = client.socket()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_rows_committed_later_go_out_on_wake(rig: Rig) -> None:
    server = rig.server()
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: svc.connected, "connected")
    rig.add_sales(2)
    svc.wake()
    wait_until(lambda: rig.pending() == 0, "rows acked after wake", timeout=2.0)
    assert [m["seq"] for m in server.messages(STORE, LANE)] == [1, 2, 3, 4]


def test_with_one_message_in_flight_the_store_gets_them_in_seq_order(rig: Rig) -> None:
    order: list[int] = []
    rig.server(on_message=lambda topic, message: order.append(message["seq"]))
    rig.add_sales(10)
    rig.service(max_inflight=1)
    wait_until(lambda: rig.pending() == 0, "every row acked")
    assert order == list(range(1, 21))


def test_a_message_never_acked_is_published_again_after_the_ack_timeout(rig: Rig) -> None:
    rig.add_sales(1)
    # The first two acks are lost: one or two (sale and stock may share a group commit,
    # and then the first resend's ack is lost too), so each row goes out again at least once.
    server = rig.server(drop_acks=2)
    started = time.monotonic()
    svc = rig.service(ack_timeout_s=0.5)
    wait_until(lambda: rig.pending() == 0, "rows acked after the resend")
    assert time.monotonic() - started >= 0.5
    assert svc.counters.republished in (2, 4)  # both rows, in seq order, each time
    assert server.received == 2 + svc.counters.republished  # each row twice or more …
    assert len(server.messages(STORE, LANE)) == 2  # … stored once
    assert server.stock("100234") == -2  # … and counted once


def test_rows_published_before_the_store_server_existed_reach_it_later(rig: Rig) -> None:
    rig.add_sales(2)
    svc = rig.service(ack_timeout_s=0.5)
    wait_until(lambda: svc.counters.published == 4, "rows published to nobody")
    server = rig.server()
    wait_until(lambda: rig.pending() == 0, "rows acked after the resend")
    assert svc.counters.republished >= 4
    assert [m["seq"] for m in server.messages(STORE, LANE)] == [1, 2, 3, 4]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_broker_restart_with_rows_pending_delivers_everything_once(rig: Rig, how: str) -> None:
    rig.add_sales(2)
    svc = rig.service()
    wait_until(lambda: svc.counters.published == 4, "rows published")
    getattr(rig.broker, how)()
    wait_until(lambda: not svc.connected, "the lane noticing the broker is gone")
    rig.add_sales(1)
    svc.wake()
    rig.broker.start()
    server = rig.server()
    wait_until(lambda: rig.pending() == 0, "every row acked after the restart", timeout=10.0)
    assert server.messages(STORE, LANE) == rig.payloads()
    assert server.stock("100234") == -6
    assert server.gaps(STORE, LANE) == []
    assert svc.counters.connects == 2


# --- acks --------------------------------------------------------------------------------


def test_duplicate_and_out_of_order_acks_are_harmless(rig: Rig) -> None:
    rig.add_sales(3)
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: svc.counters.published == 6, "rows published")
    watcher = rig.watcher()
    for upto in (3, 1, 3, 2):
        watcher.publish(TOPICS.ack, encode(ack_message(upto, at=now())))
    wait_until(lambda: svc.counters.acks == 4, "four acks handled")
    assert rig.outbox.stats().acked_upto == 3
    assert rig.pending() == 3
    for upto in (6, 4, 6):
        watcher.publish(TOPICS.ack, encode(ack_message(upto, at=now())))
    wait_until(lambda: rig.pending() == 0, "every row acked")
    wait_until(lambda: svc.counters.acks == 7, "seven acks handled")
    assert rig.outbox.stats().acked_upto == 6
    assert svc.counters.republished == 0


def test_an_ack_beyond_what_was_published_does_not_skip_later_rows(rig: Rig) -> None:
    """A store server remembering an older database of this lane acks too far: the ack
    is refused whole (tests/sync/test_ack_trust.py has the rest)."""
    rig.add_sales(1)
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: svc.counters.published == 2, "rows published")
    rig.watcher().publish(TOPICS.ack, encode(ack_message(7, at=now())))
    wait_until(lambda: svc.counters.acks_ahead == 1, "the ack refused")
    rig.add_sales(1)
    svc.wake()
    wait_until(lambda: svc.counters.published == 4, "the new rows published")
    assert rig.pending() == 4


def test_malformed_acks_are_ignored_with_a_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    rig.add_sales(1)
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: svc.counters.published == 2, "rows published")
    watcher = rig.watcher()
    bad = [
        b"not json",
        b"\xff",
        b"[2]",
        b'{"upto": 2}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":2.0}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":-1}',
        b"{" * 5000,
    ]
    for payload in bad:
        watcher.publish(TOPICS.ack, payload)
    watcher.publish(TOPICS.ack, encode(ack_message(1, at=now())))
    wait_until(lambda: svc.counters.acks == 1, "the valid ack")
    assert svc.counters.rejected_acks == len(bad)
    assert rig.outbox.stats().acked_upto == 1
    lines = [r.getMessage() for r in caplog.records if "ack ignored" in r.getMessage()]
    assert len(lines) == len(bad)
    assert any("upto: 2.0 is not of type 'integer'" in line for line in lines)
    assert all(len(line) < 400 for line in lines)


# --- status and will ---------------------------------------------------------------------


def test_status_is_retained_online_with_its_times_and_offline_after_close(rig: Rig) -> None:
    rig.add_sales(1)
    watcher = rig.watcher(TOPICS.status)
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: watcher.messages(TOPICS.status), "the online status")
    online = retained_status(rig.broker.url)
    validate(online)
    assert online["state"] == "online"
    assert online["connected_at"] <= online["at"]
    assert online["version"] == "0.1.0"
    assert online["catalog_version"] == 58
    # The lane's devices, and the broker's and the outbox's words as the sync thread has them.
    assert online["devices"] == {
        "scanner": "ok",
        "printer": "ok",
        "broker": "online",
        "outbox": "ok",
    }
    assert online["outbox"]["pending"] == 2
    svc.close()
    svc.close()  # idempotent
    offline = retained_status(rig.broker.url)
    validate(offline)
    assert offline["state"] == "offline"
    assert offline["devices"]["broker"] == "offline"
    assert offline["connected_at"] == online["connected_at"]
    assert datetime.fromisoformat(offline["at"]) >= datetime.fromisoformat(online["at"])


def test_status_changes_are_published_but_rate_limited(rig: Rig) -> None:
    devices = {"scanner": "ok"}
    status = lambda: {"version": "0.1.0", "catalog_version": 1, "devices": dict(devices)}  # noqa: E731
    watcher = rig.watcher(TOPICS.status)
    svc = rig.service(status=status, service_kw={"status_interval_s": 0.5})
    wait_until(lambda: watcher.messages(TOPICS.status), "the online status")
    devices["printer"] = "paper_out"
    started = time.monotonic()
    for _ in range(50):
        svc.status_changed()
    wait_until(
        lambda: watcher.messages(TOPICS.status)[-1]["devices"].get("printer") == "paper_out",
        "the new device state",
    )
    elapsed = time.monotonic() - started
    assert len(watcher.messages(TOPICS.status)) <= 2 + int(elapsed / 0.5) + 1


def test_the_will_marks_a_lane_that_died_offline(rig: Rig) -> None:
    """A lane process killed with SIGKILL: the broker publishes its retained will."""
    watcher = rig.watcher(TOPICS.status)
    code = (
        "import sys, time\n"
        "from firmware_app.config import MqttConfig\n"
        "from firmware_app.store.db import open_database\n"
        "from firmware_app.store.outbox import Outbox\n"
        "from firmware_app.sync.service import SyncService\n"
        "svc = SyncService(MqttConfig(url=sys.argv[1], keepalive_s=5), store_id='S001',\n"
        "    lane_id='01', outbox=Outbox(open_database(sys.argv[2])),\n"
        "    status=lambda: {'version': 'child', 'catalog_version': 1, 'devices': {}},\n"
        "    on_downlink=lambda topic, payload: None)\n"
        "svc.start()\n"
        "time.sleep(60)\n"
    )
    lane = subprocess.Popen(
        [sys.executable, "-c", code, rig.broker.url, str(rig.tmp_path / "child.db")], cwd=REPO
    )
    try:
        wait_until(lambda: watcher.messages(TOPICS.status), "the child online", timeout=10.0)
        online = watcher.messages(TOPICS.status)[-1]
        assert online["state"] == "online"
    finally:
        lane.kill()
        lane.wait()
    wait_until(lambda: watcher.messages(TOPICS.status)[-1]["state"] == "offline", "the will")
    will = retained_status(rig.broker.url)
    validate(will)
    assert will["state"] == "offline"
    assert will["version"] == "child"
    assert will["devices"] == {"broker": "offline", "outbox": "ok"}
    # The will is dated by its connection, so a reader can order it against "online".
    assert will["connected_at"] == online["connected_at"] == will["at"]


def test_a_cut_connection_fires_the_will_then_the_lane_comes_back_and_resends(rig: Rig) -> None:
    rig.add_sales(1)
    watcher = rig.watcher(TOPICS.status)
    svc = rig.service(ack_timeout_s=30.0)
    wait_until(lambda: svc.counters.published == 2, "rows published to nobody")
    wait_until(lambda: watcher.messages(TOPICS.status), "the online status")
    first = watcher.messages(TOPICS.status)[0]["connected_at"]
    rig.clients[-1].socket().shutdown(socket.SHUT_RDWR)  # the network goes, no DISCONNECT
    wait_until(lambda: svc.counters.connects == 2, "reconnected")
    wait_until(lambda: svc.counters.published == 4, "unacked rows published again")
    assert svc.counters.republished == 2  # after the reconnect, not after the 30 s timeout

    def states() -> list[tuple[str, str]]:
        return [(m["state"], m["connected_at"]) for m in watcher.messages(TOPICS.status)]

    wait_until(lambda: ("offline", first) in states(), "the will")
    wait_until(lambda: any(s == "online" and c > first for s, c in states()), "online again")
    # Whatever order they arrived in, the newest connection says the lane is online.
    newest = max(watcher.messages(TOPICS.status), key=lambda m: m["connected_at"])
    assert newest["state"] == "online"


# --- downlink ----------------------------------------------------------------------------


def test_downlink_messages_go_to_on_downlink_and_its_errors_are_contained(rig: Rig) -> None:
    def on_downlink(topic: str, payload: bytes) -> None:
        rig.downlink.append((topic, payload))
        if topic == TOPICS.cmd:
            raise RuntimeError("handler bug")

    rig.add_sales(1)
    watcher = rig.watcher(TOPICS.status)
    rig.service(ack_timeout_s=30.0, service_kw={"on_downlink": on_downlink})
    # The lane subscribes before it publishes its status: once that is out, it listens.
    wait_until(lambda: watcher.messages(TOPICS.status), "the online status")
    watcher.publish(TOPICS.cmd, b'{"schema":"store.cmd/1"}')
    watcher.publish(TOPICS.store_catalog, b'{"schema":"store.catalog/1","version":2}')
    watcher.publish(TOPICS.lane_catalog, b'{"schema":"store.catalog/1","version":3}')
    watcher.publish(TOPICS.ack, encode(ack_message(2, at=now())))
    wait_until(lambda: len(rig.downlink) == 3 and rig.pending() == 0, "downlink and ack")
    assert sorted(t for t, _ in rig.downlink) == sorted(
        [TOPICS.cmd, TOPICS.store_catalog, TOPICS.lane_catalog]
    )
    assert (TOPICS.lane_catalog, b'{"schema":"store.catalog/1","version":3}') in rig.downlink


def test_downlink_published_while_the_lane_was_off_arrives_when_it_is_back(rig: Rig) -> None:
    first = rig.service()
    wait_until(lambda: first.connected, "connected")
    first.close()
    rig.watcher().publish(TOPICS.lane_catalog, b'{"schema":"store.catalog/1","version":9}')
    again = rig.service()
    wait_until(lambda: rig.downlink, "the catalog kept in the lane's session")
    assert rig.downlink == [(TOPICS.lane_catalog, b'{"schema":"store.catalog/1","version":9}')]
    assert again.connected


def test_a_catalog_request_is_published(rig: Rig) -> None:
    watcher = rig.watcher(TOPICS.catalog_request)
    svc = rig.service()
    svc.request_catalog(57)
    wait_until(lambda: watcher.messages(TOPICS.catalog_request), "the request")
    request = watcher.messages(TOPICS.catalog_request)[0]
    validate(request)
    assert (request["have"], request["store"], request["lane"]) == (57, STORE, LANE)


# --- connecting --------------------------------------------------------------------------


def test_no_broker_means_no_crash_and_a_quick_close(rig: Rig) -> None:
    rig.broker.stop()
    svc = rig.service()
    rig.add_sales(1)
    svc.wake()
    wait_until(lambda: len(rig.clients) >= 3, "a few connection attempts")
    started = time.monotonic()
    svc.close()
    assert time.monotonic() - started < 2.0
    assert rig.pending() == 2


def test_close_without_start_is_a_no_op(rig: Rig) -> None:
    svc = rig.service(start=False)
    svc.close()
    svc.close()


def test_falls_back_to_mqtt_311_when_the_broker_refuses_5(rig: Rig) -> None:
    """A broker that only speaks 3.1.1 answers a v5 CONNECT with return code 1."""
    levels: list[int] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    conns: list[socket.socket] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conns.append(conn)
            connect = conn.recv(4096)
            i = 1
            while connect[i] & 0x80:  # the remaining length is a varint
                i += 1
            name_len = int.from_bytes(connect[i + 1 : i + 3], "big")
            levels.append(connect[i + 3 + name_len])
            conn.sendall(b"\x20\x02\x00" + (b"\x01" if levels[-1] == 5 else b"\x00"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    svc = rig.service(url=f"mqtt://127.0.0.1:{port}")
    try:
        wait_until(lambda: svc.connected, "connected with 3.1.1")
        assert levels == [5, 4]
    finally:
        for conn in conns:
            conn.close()
        listener.close()
        svc.close()
