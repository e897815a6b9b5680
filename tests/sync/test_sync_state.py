"""What the sync service tells the lane about the broker, against a real mosquitto: online
and offline, a login refused at CONNECT, and publications refused by the broker's ACL
(MQTT 5 PUBACK reason 135), each said once however often it happens again."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import peewee
import pytest

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import Topics, encode
from firmware_app.sync.mqtt_client import paho_client
from firmware_app.sync.service import SyncService
from hw_sim.broker import BrokerError, MosquittoBroker, mosquitto_path
from hw_sim.store_server import BrokerLogin, StoreServer
from tests.conftest import LaneMessages
from tests.sync.lanes import fill_outbox
from tests.waiting import wait_until

STORE, LANE = "S001", "01"
TOPICS = Topics("pos", STORE, LANE)
LANE_USER, LANE_PASSWORD = "lane-S001-01", "L4ne-01-pw"
SERVER_USER, SERVER_PASSWORD = "store-server", "S3rver-pw"

STORE_SERVER_ACL = f"""user {SERVER_USER}
topic read pos/{STORE}/lanes/+/sales
topic read pos/{STORE}/lanes/+/stock
topic read pos/{STORE}/lanes/+/events
topic write pos/{STORE}/lanes/+/ack
"""
# The lane may publish its status and events, not its sales and stock: an ACL gone wrong.
LANE_ACL_WITHOUT_SALES = f"""user {LANE_USER}
topic write pos/{STORE}/lanes/{LANE}/events
topic write pos/{STORE}/lanes/{LANE}/status
topic read pos/{STORE}/lanes/{LANE}/ack
"""
LANE_ACL = LANE_ACL_WITHOUT_SALES + (
    f"topic write pos/{STORE}/lanes/{LANE}/sales\ntopic write pos/{STORE}/lanes/{LANE}/stock\n"
)


def now() -> datetime:
    return datetime.now().astimezone()


class States:
    """What ``on_state`` heard, in order."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str, str]] = []

    def __call__(self, name: str, state: str, detail: str) -> None:
        self.heard.append((name, state, detail))

    def of(self, name: str) -> list[str]:
        return [state for n, state, _ in list(self.heard) if n == name]

    def detail(self, name: str, state: str) -> str:
        return next(d for n, s, d in list(self.heard) if (n, s) == (name, state))


class Lane:
    """A lane database with a few rows and its sync service; counts connection attempts."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self.db = db
        self.outbox = Outbox(db)
        self.states = States()
        self.clients: list[mqtt.Client] = []
        self.sync: SyncService | None = None

    def factory(self, client_id: str, mqtt5: bool) -> mqtt.Client:
        client = paho_client(client_id, mqtt5)
        self.clients.append(client)
        return client

    def start(self, url: str, **settings: Any) -> SyncService:
        values = {"ack_timeout_s": 30.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2}
        self.sync = SyncService(
            MqttConfig(url=url, **{**values, **settings}),
            store_id=STORE,
            lane_id=LANE,
            outbox=self.outbox,
            status=lambda: {"version": "0.1.0", "catalog_version": 1, "devices": {}},
            on_downlink=lambda topic, payload: None,
            client_factory=self.factory,
            on_state=self.states,
        )
        self.sync.start()
        return self.sync

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[Lane]:
    db = open_database(tmp_path / "lane.db")
    fill_outbox(db, 10, created_at=now() - timedelta(minutes=5))
    made = Lane(db)
    yield made
    made.close()
    db.close()


def sync_warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.name.startswith("firmware_app.sync")
        and text in r.getMessage()
    ]


# --- online and offline -------------------------------------------------------------------


def test_offline_and_online_are_each_said_once_per_change(
    lane: Lane, mosquitto: MosquittoBroker
) -> None:
    mosquitto.stop()
    sync = lane.start(mosquitto.url)
    wait_until(lambda: len(lane.clients) >= 3, "a few attempts with no broker")
    assert lane.states.of("broker") == ["offline"]
    assert "connection refused: is mosquitto running" in lane.states.detail("broker", "offline")

    mosquitto.start()
    wait_until(lambda: sync.connected, "connected")
    attempts = len(lane.clients)
    mosquitto.stop()
    wait_until(lambda: len(lane.clients) >= attempts + 3, "a few attempts more")
    mosquitto.start()
    wait_until(
        lambda: lane.states.of("broker") == ["offline", "online", "offline", "online"],
        "online again",
    )
    assert lane.states.of("outbox") == ["ok"]


# --- refusals -----------------------------------------------------------------------------


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A mosquitto with passwords, and an ACL that lets the lane publish no sales."""
    try:
        mosquitto_path()
        passwords = tmp_path / "passwd"
        for n, (user, password) in enumerate(
            [(LANE_USER, LANE_PASSWORD), (SERVER_USER, SERVER_PASSWORD)]
        ):
            create = ["-c"] if n == 0 else []
            subprocess.run(
                ["mosquitto_passwd", *create, "-b", str(passwords), user, password],
                check=True,
                capture_output=True,
            )
    except (BrokerError, OSError) as e:
        pytest.skip(str(e))
    acl = tmp_path / "acl"
    acl.write_text(STORE_SERVER_ACL + LANE_ACL_WITHOUT_SALES, encoding="utf-8")
    conf = f"password_file {passwords}\nacl_file {acl}\n"
    with MosquittoBroker(data_dir=tmp_path / "broker", extra_conf=conf) as broker:
        yield broker


def test_a_wrong_password_is_refused_and_said_once(
    lane: Lane, secured: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    sync = lane.start(secured.url, username=LANE_USER, password="not-the-password")
    wait_until(lambda: len(lane.clients) >= 4, "a few refused attempts")
    assert lane.states.of("broker") == ["refused"]
    assert lane.states.detail("broker", "refused") == "Not authorized (135)"
    assert not sync.connected
    assert lane.outbox.stats().pending == 10
    (warning,) = sync_warnings(caplog, "refused the connection")
    assert "Not authorized (135)" in warning and "not-the-password" not in caplog.text


def test_publications_refused_by_the_acl_stay_in_the_outbox_until_it_is_fixed(
    lane: Lane, secured: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    event_seq = lane.outbox.append(
        TOPICS.events, lambda seq: encode(LaneMessages().event(seq)), now()
    )  # allowed
    login = BrokerLogin(SERVER_USER, SERVER_PASSWORD)
    server = StoreServer(secured.url, tmp_path / "store.db", login=login).start()
    try:
        sync = lane.start(
            secured.url, username=LANE_USER, password=LANE_PASSWORD, ack_timeout_s=0.3
        )
        wait_until(lambda: "not_authorized" in lane.states.of("broker"), "the refusal")
        detail = lane.states.detail("broker", "not_authorized")
        assert detail.startswith("Not authorized (135) on pos/S001/lanes/01/")
        # Published again after each ack time-out, refused each time; the status and the
        # event go through meanwhile, and nothing flaps.
        wait_until(lambda: sync.counters.republished >= 30, "three rounds of resends")
        assert lane.states.of("broker") == ["online", "not_authorized"]
        assert lane.outbox.stats().pending == 11  # nothing acknowledged: the gap at seq 1
        assert [m["seq"] for m in server.messages(STORE, LANE)] == [event_seq]
        assert len(sync_warnings(caplog, "refused the lane's message")) == 1

        # The broker's ACL is fixed (and the broker restarted): everything goes through.
        (tmp_path / "acl").write_text(STORE_SERVER_ACL + LANE_ACL, encoding="utf-8")
        secured.stop()
        secured.start()
        wait_until(lambda: lane.outbox.stats().pending == 0, "every row acknowledged", 10)
        assert lane.states.of("broker") == ["online", "not_authorized", "offline", "online"]
        assert [m["seq"] for m in server.messages(STORE, LANE)] == list(range(1, 12))
    finally:
        server.close()


# --- the lane hears of it -----------------------------------------------------------------


def test_the_lane_shows_the_broker_and_the_outbox_as_devices(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import Hardware, LaneApp
    from firmware_app.drivers.text_display import TextDisplay
    from firmware_app.lane.rules import LaneSetup

    cfg = config_mod.parse(
        {
            "lane": {"store": STORE, "lane": LANE, "data_dir": str(tmp_path / "lane")},
            "scale": {"enabled": False},
            "printer": {"enabled": False},
            "drawer": {"enabled": False},
            "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        }
    )
    screen = io.StringIO()
    app = LaneApp(
        cfg, hardware=Hardware(display=TextDisplay(screen, setup=LaneSetup(), language="en"))
    )
    stop = threading.Event()
    loop = threading.Thread(target=app.loop.run, args=(stop,), daemon=True)
    try:
        loop.start()
        app.sync.start()  # the input devices stay closed: only the uplink matters here
        wait_until(
            lambda: app.loop.device_states() == {"broker": "online", "outbox": "ok"},
            "the broker and the outbox in the lane's devices",
        )
        mosquitto.stop()
        wait_until(lambda: app.loop.device_states()["broker"] == "offline", "the broker gone")
        assert app.loop.state.message is None  # nothing said to the cashier …
        wait_until(lambda: "[broker: offline]" in screen.getvalue(), "the status line")
        mosquitto.start()  # … and the status line clears when it is back
        wait_until(lambda: app.loop.device_states()["broker"] == "online", "the broker back")
        status = retained_status(mosquitto.url)
        assert status["devices"]["broker"] == "online"
        assert status["devices"]["outbox"] == "ok"
    finally:
        stop.set()
        loop.join(5)
        app.close()


def retained_status(url: str) -> dict[str, Any]:
    heard: list[dict[str, Any]] = []
    host, port = url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTProtocolVersion.MQTTv5)
    client.on_message = lambda c, u, m: heard.append(json.loads(m.payload))
    client.connect(host, int(port), 30)
    client.loop_start()
    try:
        client.subscribe(TOPICS.status, 1)
        wait_until(lambda: heard, "the retained status")
        return heard[-1]
    finally:
        client.disconnect()
        client.loop_stop()
