"""A store's broker as docs/mosquitto describes it, run by a real mosquitto.

The example files themselves are used: ``mosquitto.conf`` with only this
machine's paths and ports put in (every option it sets is kept), the ``acl``
file as written (and checked to be what ``make-acl`` writes), ``bridge.conf``
with the centre's address and password. Real paho clients then show who may
publish and hear what. What mosquitto 2.0 does with a refused message: to an
MQTT 5 client it answers PUBACK "Not authorized" (135) and delivers nothing; to
an MQTT 3.1.1 client it answers a plain PUBACK and delivers nothing. A
subscription to another lane's topic is granted, and nothing is delivered on it.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_app.config import MqttConfig
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import Topics, encode
from firmware_app.sync.service import SyncService
from hw_sim.broker import BrokerError, MosquittoBroker, free_port, mosquitto_path
from hw_sim.store_server import BrokerLogin, StoreServer
from tests.conftest import LaneMessages
from tests.sync.lanes import FAST_MQTT, ROOT, STORE, Cashier, StoreServerProcess
from tests.waiting import wait_until

DOCS = ROOT / "docs" / "mosquitto"
NOT_AUTHORIZED = 135
PASSWORDS = {
    "store-server": "S3rver-pw",
    "lane-S001-01": "L4ne-01-pw",
    "lane-S001-02": "L4ne-02-pw",
}
LANES = ("01", "02")  # the lanes of the example acl
LANE1, LANE2 = (Topics("pos", STORE, lane) for lane in LANES)


# --- the example files, with this machine's values ----------------------------------------


def render(
    text: str, values: Mapping[str, str | None], ports: Mapping[str, int] | None = None
) -> str:
    """An example config with some values replaced (None drops the line) and its listeners
    moved to the given ports on 127.0.0.1. Every option named must be in the example, so
    a renamed or removed option fails here instead of going untested."""
    ports = ports or {}
    out, seen = [], set()
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key == "listener":
            port = rest.split()[0]
            out.append(f"listener {ports[port]} 127.0.0.1")
            seen.add(f"listener {port}")
        elif key in values:
            seen.add(key)
            if values[key] is not None:
                out.append(f"{key} {values[key]}")
        else:
            out.append(line)
    missing = ({*values} | {f"listener {p}" for p in ports}) - seen
    assert not missing, f"the example no longer sets {sorted(missing)}"
    return "\n".join(out) + "\n"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(where: Path) -> Path:
    """A CA and a broker certificate for ``localhost`` (EC keys: made in milliseconds)."""
    where.mkdir()
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Test store CA", cwd=where)  # fmt: skip
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost",
            cwd=where)  # fmt: skip
    (where / "broker.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "broker.crt", "-days", "2", "-extfile", "broker.ext",
            cwd=where)  # fmt: skip
    return where


def password_file(path: Path, users: Mapping[str, str]) -> Path:
    """Made the way docs/mqtt.md says: ``mosquitto_passwd -c -b`` then ``-b``."""
    for n, (user, password) in enumerate(users.items()):
        create = ["-c"] if n == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", str(path), user, password],
            check=True,
            capture_output=True,
        )
    return path


@dataclass
class StoreBroker:
    """The example configuration running: TLS listener and the loopback one."""

    broker: MosquittoBroker
    tls_port: int
    plain_port: int
    ca: Path


@pytest.fixture
def tools() -> None:
    for tool in ("openssl", "mosquitto_passwd"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    try:
        mosquitto_path()
    except BrokerError as e:
        pytest.skip(str(e))


def store_broker_conf(tmp_path: Path, pki: Path, tls_port: int, plain_port: int) -> str:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir(exist_ok=True)
    values = {
        "cafile": str(pki / "ca.crt"),
        "certfile": str(pki / "broker.crt"),
        "keyfile": str(pki / "broker.key"),
        "password_file": str(password_file(tmp_path / "passwd", PASSWORDS)),
        "acl_file": str(DOCS / "acl"),  # the example itself
        "persistence_location": f"{tmp_path / 'store-broker'}/",
        "pid_file": None,
        "log_dest": None,  # MosquittoBroker logs to its own file
        "include_dir": str(conf_d),
    }
    ports = {"8883": tls_port, "1883": plain_port}
    return render((DOCS / "mosquitto.conf").read_text(encoding="utf-8"), values, ports)


@pytest.fixture
def store_broker(tools: None, tmp_path: Path) -> Iterator[StoreBroker]:
    pki = make_pki(tmp_path / "pki")
    tls_port, plain_port = free_port(), free_port()
    conf = store_broker_conf(tmp_path, pki, tls_port, plain_port)
    broker = MosquittoBroker(port=plain_port, data_dir=tmp_path / "store-broker", conf=conf)
    with broker:
        wait_until(lambda: _accepts(tls_port), "the TLS listener")
        yield StoreBroker(broker, tls_port, plain_port, pki / "ca.crt")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# --- clients ------------------------------------------------------------------------------


class Peer:
    """A paho client that logs in and records CONNACK, PUBACKs and what it hears."""

    def __init__(
        self,
        port: int,
        user: str | None,
        password: str | None = None,
        *,
        ca: Path | None = None,
        client_id: str = "",
        mqtt5: bool = True,
        keep_session: bool = False,
    ) -> None:
        """``keep_session``: a persistent MQTT 5 session (give a ``client_id``)."""
        self.connack: ReasonCode | None = None
        self.heard: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, ReasonCode] = {}
        self.disconnected = threading.Event()
        protocol = MQTTProtocolVersion.MQTTv5 if mqtt5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"peer-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
            reconnect_on_failure=False,  # a client the broker drops stays dropped
        )
        if ca is not None:
            self.client.tls_set_context(ssl.create_default_context(cafile=str(ca)))
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.heard.append((m.topic, bytes(m.payload)))
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc)
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        host = "localhost" if ca else "127.0.0.1"
        if keep_session:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 600
            self.client.connect(host, port, 30, clean_start=False, properties=props)
        else:
            self.client.connect(host, port, 30)
        self.client.loop_start()
        wait_until(lambda: self.connack is not None, "CONNACK")

    def _on_connect(self, *args: object) -> None:
        reason = args[3]  # (client, userdata, flags, reason, properties)
        assert isinstance(reason, ReasonCode)
        self.connack = reason

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *topics: str) -> list[ReasonCode]:
        granted: list[list[ReasonCode]] = []
        self.client.on_subscribe = lambda c, u, mid, codes, p: granted.append(list(codes))
        self.client.subscribe([(t, 1) for t in topics])
        wait_until(lambda: granted, "SUBACK")
        return granted[0]

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason."""
        info = self.client.publish(topic, payload, qos=1)
        wait_until(lambda: info.mid in self.pubacks, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def topics_heard(self) -> set[str]:
        return {topic for topic, _ in self.heard}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    """Clients a test made; closed together (paho's thread can take a second to stop)."""
    made: list[Peer] = []
    yield made
    closing = [threading.Thread(target=peer.close) for peer in made]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


def login(
    peers: list[Peer], sb: StoreBroker, user: str | None, *, tls: bool = True, **kw: object
) -> Peer:
    """A client of the store broker (TLS, or the loopback listener) with the user's password."""
    port, ca = (sb.tls_port, sb.ca) if tls else (sb.plain_port, None)
    peer = Peer(port, user, PASSWORDS.get(user or ""), ca=ca, **kw)  # type: ignore[arg-type]
    peers.append(peer)
    return peer


# --- the files ----------------------------------------------------------------------------


def make_acl(*args: str) -> subprocess.CompletedProcess[str]:
    """Run docs/mosquitto/make-acl with ``sh`` (its mode bits do not matter)."""
    return subprocess.run(
        ["sh", str(DOCS / "make-acl"), *args], capture_output=True, text=True, check=False
    )


def test_the_example_acl_is_what_make_acl_writes() -> None:
    made = make_acl("S001", "01", "02")
    assert made.returncode == 0, made.stderr
    assert made.stdout == (DOCS / "acl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [["S001", "0+"], ["S#", "01"], ["S001", "01/x"], ["S001", "a" * 33], ["S001"],
     ["-r", "pos/#", "S1", "1"], ["-c", "S/1"]],
)  # fmt: skip
def test_make_acl_refuses_ids_that_would_widen_the_rules(args: list[str]) -> None:
    refused = make_acl(*args)
    assert (refused.returncode, refused.stdout) == (2, "")


# --- who may do what ----------------------------------------------------------------------


def test_a_lane_publishes_its_own_uplink_and_nothing_else(
    store_broker: StoreBroker, peers: list[Peer]
) -> None:
    server = login(peers, store_broker, "store-server")
    assert all(not c.is_failure for c in server.subscribe("pos/S001/lanes/+/#", "pos/S001/catalog"))
    listener = login(peers, store_broker, "lane-S001-02")
    listener.subscribe(LANE2.ack, LANE2.lane_catalog, LANE2.store_catalog)
    lane = login(peers, store_broker, "lane-S001-01")

    own = [LANE1.sales, LANE1.stock, LANE1.events, LANE1.status, LANE1.catalog_request]
    for topic in own:
        assert not lane.publish(topic, b"{}").is_failure, topic
    forged = [LANE2.sales, LANE2.stock, LANE2.events, LANE2.status, LANE2.catalog_request,
              LANE1.ack, LANE2.ack, LANE1.store_catalog, LANE1.lane_catalog, LANE2.lane_catalog,
              "pos/S002/lanes/01/sales", "elsewhere"]  # fmt: skip
    for topic in forged:
        assert lane.publish(topic, b"{}").value == NOT_AUTHORIZED, topic
    # MQTT 3.1.1 has no reason codes: the PUBACK says nothing, and nothing is delivered.
    # (Same login, so same client id: this connection takes over from the one above.)
    old = login(peers, store_broker, "lane-S001-01", mqtt5=False)
    assert old.accepted
    assert not old.publish(LANE2.sales, b"{}").is_failure

    # Messages from one client reach a subscriber in order: once the last allowed one is
    # there, any refused one published before it would have been too.
    old.publish(LANE1.events, b'{"last": true}')
    wait_until(lambda: (LANE1.events, b'{"last": true}') in server.heard, "the last message")
    assert server.topics_heard() == set(own)
    assert listener.heard == []


def test_a_lane_hears_its_own_downlink_and_the_stores_catalog_only(
    store_broker: StoreBroker, peers: list[Peer]
) -> None:
    lane = login(peers, store_broker, "lane-S001-01")
    # mosquitto grants subscriptions it will deliver nothing on: the ACL applies per message.
    granted = lane.subscribe(*LANE1.downlink, LANE2.ack, "pos/S001/lanes/+/ack", "pos/#")
    assert all(not c.is_failure for c in granted)
    server = login(peers, store_broker, "store-server")
    sent = [LANE2.ack, LANE2.lane_catalog, LANE2.cmd, LANE1.ack, LANE1.lane_catalog,
            LANE1.store_catalog, LANE1.cmd]  # fmt: skip
    for topic in sent:
        assert not server.publish(topic, b"{}").is_failure, topic

    wait_until(lambda: (LANE1.cmd, b"{}") in lane.heard, "the last message")
    assert lane.topics_heard() == {LANE1.ack, LANE1.lane_catalog, LANE1.store_catalog, LANE1.cmd}


def test_wrong_passwords_unknown_users_and_anonymous_clients_are_refused_at_connect(
    store_broker: StoreBroker, peers: list[Peer]
) -> None:
    sb = store_broker
    attempts = [
        Peer(sb.tls_port, "lane-S001-01", "wrong", ca=sb.ca),
        Peer(sb.tls_port, "lane-S001-01", PASSWORDS["lane-S001-02"], ca=sb.ca),
        Peer(sb.tls_port, "lane-S001-99", "anything", ca=sb.ca),
        Peer(sb.tls_port, None, ca=sb.ca),
        Peer(sb.plain_port, "store-server", "wrong"),
    ]
    peers.extend(attempts)
    assert [p.connack.value if p.connack else None for p in attempts] == [NOT_AUTHORIZED] * 5
    assert login(peers, sb, "store-server", tls=False).accepted


@pytest.mark.parametrize("tls", [True, False], ids=["tls-listener", "loopback-listener"])
def test_a_lanes_password_cannot_take_another_lanes_session(
    store_broker: StoreBroker, peers: list[Peer], tls: bool
) -> None:
    lane2 = login(peers, store_broker, "lane-S001-02", client_id="lane-S001-02")
    # With use_username_as_clientid (on every listener) the broker names this connection
    # lane-S001-01, whatever client id it asked for: lane 02 stays connected.
    imposter = login(peers, store_broker, "lane-S001-01", tls=tls, client_id="lane-S001-02")
    assert imposter.accepted
    assert imposter.publish(LANE2.sales, b"{}").value == NOT_AUTHORIZED
    assert not lane2.publish(LANE2.sales, b"{}").is_failure
    assert not lane2.disconnected.is_set()


# --- the real lane and store server through it ---------------------------------------------


def synced_lane(stack: ExitStack, sb: StoreBroker, data: Path, lane: str) -> Outbox:
    """A lane database with 20 sales and its sync service, logged in as the lane over TLS."""
    db = open_database(data / "lane.db")
    stack.callback(db.close)
    Cashier(db, lane=lane).ring_up(20)
    config = MqttConfig(
        url=f"mqtts://localhost:{sb.tls_port}",
        username=f"lane-{STORE}-{lane}",
        password=PASSWORDS[f"lane-{STORE}-{lane}"],
        ca_file=str(sb.ca),
        **FAST_MQTT,
    )
    sync = SyncService(
        config, store_id=STORE, lane_id=lane, outbox=Outbox(db),
        status=lambda: {"version": "0.1.0", "catalog_version": 1, "devices": {}},
        on_downlink=lambda topic, payload: None,
    )  # fmt: skip
    stack.callback(sync.close)
    sync.start()
    return Outbox(db)


def test_lanes_and_the_store_server_sync_through_the_store_broker(
    store_broker: StoreBroker, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        # The store server on the broker's machine, over the loopback listener.
        server = StoreServer(
            f"mqtt://127.0.0.1:{store_broker.plain_port}",
            tmp_path / "store.db",
            login=BrokerLogin("store-server", PASSWORDS["store-server"]),
        )
        stack.callback(server.close)
        server.start()
        outboxes = {lane: synced_lane(stack, store_broker, tmp_path / lane, lane) for lane in LANES}
        wait_until(
            lambda: all(o.stats().pending == 0 for o in outboxes.values()),
            "both lanes acknowledged",
            15,
        )
        for lane, outbox in outboxes.items():
            last = outbox.stats().next_seq - 1
            assert server.acked_upto(STORE, lane) == last
            assert [m["seq"] for m in server.messages(STORE, lane)] == list(range(1, last + 1))


def test_the_store_server_command_logs_in_over_tls_with_a_password_file(
    store_broker: StoreBroker, tmp_path: Path, peers: list[Peer]
) -> None:
    secret = tmp_path / "store-server.pw"
    secret.write_text(PASSWORDS["store-server"] + "\n", encoding="utf-8")
    secret.chmod(0o600)
    server = StoreServerProcess(
        f"mqtts://localhost:{store_broker.tls_port}", tmp_path / "store.db",
        "--username", "store-server", "--password-file", str(secret),
        "--ca-file", str(store_broker.ca),
    )  # fmt: skip
    try:
        server.start()  # returns once it has subscribed
        lane = login(peers, store_broker, "lane-S001-01")
        lane.subscribe(LANE1.ack)
        sale = LaneMessages(STORE, "01").sale(1)
        assert not lane.publish(LANE1.sales, encode(sale)).is_failure
        wait_until(lambda: any(t == LANE1.ack for t, _ in lane.heard), "the store server's ack")
    finally:
        server.stop()
    assert PASSWORDS["store-server"] not in server.log_tail(1000)


# --- the bridge to the centre --------------------------------------------------------------


def test_the_bridge_carries_uplink_out_and_catalog_in_and_nothing_else(
    tools: None, tmp_path: Path, peers: list[Peer]
) -> None:
    pki = make_pki(tmp_path / "pki")
    centre_port, tls_port, plain_port = free_port(), free_port(), free_port()
    centre_acl = make_acl("-c", "S001").stdout + "\nuser centre\ntopic readwrite pos/#\n"
    (tmp_path / "centre.acl").write_text(centre_acl, encoding="utf-8")
    centre_users = {"bridge-S001": "Br1dge-pw", "centre": "Centre-pw"}
    centre_conf = f"""listener {centre_port} 127.0.0.1
cafile {pki / "ca.crt"}
certfile {pki / "broker.crt"}
keyfile {pki / "broker.key"}
allow_anonymous false
password_file {password_file(tmp_path / "centre.passwd", centre_users)}
acl_file {tmp_path / "centre.acl"}
persistence true
persistence_location {tmp_path / "centre"}/
"""
    store_conf = store_broker_conf(tmp_path, pki, tls_port, plain_port)
    bridge = render(
        (DOCS / "bridge.conf").read_text(encoding="utf-8"),
        {
            "address": f"localhost:{centre_port}",
            "remote_password": centre_users["bridge-S001"],
            "bridge_cafile": str(pki / "ca.crt"),
            "restart_timeout": "1 2",  # back within a second or two, not 5 to 120
        },
    )
    (tmp_path / "conf.d" / "bridge.conf").write_text(bridge, encoding="utf-8")

    centre = MosquittoBroker(port=centre_port, data_dir=tmp_path / "centre", conf=centre_conf)
    store = MosquittoBroker(port=plain_port, data_dir=tmp_path / "store-broker", conf=store_conf)
    with centre, store:

        def headquarters() -> Peer:
            """The chain's own client at the centre, on a session kept across restarts."""
            hq = Peer(centre_port, "centre", centre_users["centre"], ca=pki / "ca.crt",
                      client_id="centre-reader", keep_session=True)  # fmt: skip
            peers.append(hq)
            return hq

        hq = headquarters()
        hq.subscribe("pos/#")
        wait_until(lambda: ("pos/S001/bridge/state", b"1") in hq.heard, "the bridge up", 10)
        sb = StoreBroker(store, tls_port, plain_port, pki / "ca.crt")
        lane = login(peers, sb, "lane-S001-01")
        lane.subscribe(*LANE1.downlink)
        server = login(peers, sb, "store-server")

        # Out: what the lanes publish; not the store server's acks.
        server.publish(LANE1.ack, b'{"upto": 1}')
        wait_until(lambda: (LANE1.ack, b'{"upto": 1}') in lane.heard, "the ack at the lane")
        for topic in (LANE1.sales, LANE1.stock, LANE1.events, LANE1.status):
            lane.publish(topic, b'{"seq": 1}')
        wait_until(lambda: (LANE1.status, b'{"seq": 1}') in hq.heard, "the uplink at the centre")
        at_centre = hq.topics_heard() - {"pos/S001/bridge/state"}
        assert at_centre == {LANE1.sales, LANE1.stock, LANE1.events, LANE1.status}

        # In: the store's catalog; not acks from the centre.
        hq.publish(LANE1.ack, b'{"upto": 99}')
        hq.publish(LANE1.store_catalog, b'{"version": 2}')
        wait_until(lambda: (LANE1.store_catalog, b'{"version": 2}') in lane.heard, "the catalog")
        assert (LANE1.ack, b'{"upto": 99}') not in lane.heard

        # The centre away: what the lanes publish waits at the store for the bridge.
        centre.stop()
        lane.publish(LANE1.sales, b'{"seq": 2}')
        centre.start()
        hq = headquarters()
        wait_until(lambda: (LANE1.sales, b'{"seq": 2}') in hq.heard, "the sale at the centre", 10)


def test_the_example_loads_without_warnings(store_broker: StoreBroker) -> None:
    """A bad option stops mosquitto (the fixture would fail); a deprecated one only warns."""
    log = store_broker.broker.log_file.read_text(errors="replace").splitlines()
    warnings = [line for line in log if "warning" in line.lower() and "run as root" not in line]
    assert warnings == []
