"""The one place that talks to paho-mqtt: a single broker connection (``MqttLink``).

Each connection attempt gets a fresh paho client (v2 callback API) and its
``loop_start`` network thread; when the connection ends, the link is thrown
away and ``connection.Connection`` makes a new one. paho's own reconnect is
off: the connection decides when to try again (with jitter), and since paho's
``mid`` restarts per connection and its session lives in memory only, nothing
outlives a link but the outbox.

paho's callbacks run on its network thread and only put small events on the
service's queue; they never touch lane state, the database or a lock that
``publish()`` holds (paho calls ``on_publish`` while holding its own message
lock, so a callback waiting for ours could deadlock).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_app.config import MqttConfig, os_error_text
from firmware_app.sync.errors import LinkError

log = logging.getLogger(__name__)

QOS = 1
SESSION_EXPIRY_S = 7 * 24 * 3600  # downlink messages wait this long for a lane that is off
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason (3.1.1 return code 1): the broker refuses MQTT 5
CONNECT_TIMEOUT_S = 5.0  # TCP + TLS handshake


@dataclass(frozen=True)
class Connected:
    """The broker answered the CONNECT (``ok`` False: it refused, ``reason`` says why)."""

    link: int
    ok: bool
    reason: str
    session_present: bool
    protocol_refused: bool
    code: int = 0  # the CONNACK reason code (0: accepted)


@dataclass(frozen=True)
class Disconnected:
    """The connection ended (by us, by the broker, or because the network went)."""

    link: int
    reason: str


@dataclass(frozen=True)
class Published:
    """The broker's PUBACK for ``mid``: it has the message (not the store server)."""

    link: int
    mid: int
    refused: str = ""  # MQTT 5 reason when the broker would not take it (e.g. not authorized)


@dataclass(frozen=True)
class Subscribed:
    """The SUBACK; ``refused`` lists the reasons of topics the broker would not grant."""

    link: int
    refused: tuple[str, ...]


@dataclass(frozen=True)
class Inbound:
    """An MQTT message received from the broker (downlink); the broker gets its PUBACK
    only from ``MqttLink.ack``."""

    link: int
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0


LinkEvent = Connected | Disconnected | Published | Subscribed | Inbound


@dataclass(frozen=True)
class Will:
    """What the broker publishes (QoS 1, retained) when the connection dies without DISCONNECT."""

    topic: str
    payload: bytes


ClientFactory = Callable[[str, bool], mqtt.Client]
Post = Callable[[LinkEvent], None]  # puts an event on the sync thread's queue


def paho_client(client_id: str, mqtt5: bool) -> mqtt.Client:
    """A paho client with a persistent session and without paho's own reconnect."""
    if mqtt5:
        return mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=False,
    )


def no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """paho's ``on_socket_open``: send small packets at once (TCP_NODELAY).

    MQTT is small packets in both directions. With Nagle's algorithm on, a packet
    written while an earlier one is unacknowledged waits for the peer's delayed
    ACK, about 40 ms on Linux: a sale's stock message behind its sale message, a
    store server's ``ack`` behind its PUBACKs. paho leaves Nagle on.
    """
    with contextlib.suppress(OSError, AttributeError, ValueError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """Server certificate and host name checked; a client certificate when configured.

    ``LinkError`` naming the config key and the file when one cannot be used
    (``mqtt.ca_file: /etc/firmware-lane/ca.pem: no such file or directory``): ssl's own
    errors name neither.
    """
    for key in ("ca_file", "cert_file", "key_file"):
        _readable(key, getattr(config, key))
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except (ssl.SSLError, OSError, ValueError) as e:
        where = f"mqtt.ca_file: {config.ca_file}" if config.ca_file else "the system's CA store"
        raise LinkError(f"{where}: not a PEM certificate ({_ssl_reason(e)})") from e
    if config.cert_file:
        where = f"mqtt.cert_file: {config.cert_file}"
        if config.key_file:
            where += f", mqtt.key_file: {config.key_file}"
        try:
            # A key with a passphrase cannot be used unattended: fail rather than prompt.
            context.load_cert_chain(config.cert_file, config.key_file or None, _no_passphrase)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise LinkError(
                f"{where}: not a PEM certificate and its unencrypted key ({_ssl_reason(e)})"
            ) from e
    return context


def _readable(key: str, path: str) -> None:
    if not path:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise LinkError(f"mqtt.{key}: {path}: {os_error_text(e)}") from e


def _no_passphrase() -> bytes:
    raise ValueError("the key is protected by a passphrase")


def _ssl_reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    text = str(reason) if reason else " ".join(str(error).split())
    return text or type(error).__name__


def _reason(code: ReasonCode | int | None) -> str:
    if isinstance(code, ReasonCode):
        return f"{code.getName()} ({code.value})"
    return str(code)


# Advice for a connection that failed, by errno: {host} and {port} are the broker's.
NETWORK_ADVICE = {
    errno.ECONNREFUSED: "is mosquitto running on {host}:{port}?",
    errno.ETIMEDOUT: "nothing answers at {host}:{port} (address? firewall?)",
    errno.EHOSTUNREACH: "is {host} on the lane's network? (ping {host})",
    errno.ENETUNREACH: "is the lane's network up? (ip addr; cable?)",
    errno.ECONNRESET: "the broker closed the connection: does {host}:{port} speak MQTT?",
}


def broker_error_text(error: OSError, host: str, port: int) -> str:
    """A failed connection in words with advice: ``connection refused: is mosquitto
    running on store-server:1883?`` rather than ``[Errno 111] Connection refused``."""
    if isinstance(error, socket.gaierror):
        words = os_error_text(error)
        return (
            f"cannot find the host {host} ({words}): "
            "check mqtt.url and the name service (DNS, /etc/hosts)"
        )
    if error.errno is None:
        return " ".join(str(error).split())
    words = os_error_text(error)
    advice = NETWORK_ADVICE.get(error.errno)
    return f"{words}: {advice.format(host=host, port=port)}" if advice else words


class MqttLink:
    """One connection to the broker; its events go to ``post``, tagged with ``number``.

    The lane's sync thread and the doctor connect through it alike (``will`` None: the
    doctor's look leaves no will behind).
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        number: int,
        post: Post,
        will: Will | None,
        mqtt5: bool = True,
        client_factory: ClientFactory = paho_client,
    ) -> None:
        self.config = config
        self.number = number
        self.mqtt5 = mqtt5
        self._post = post
        self._will = will
        self._lock = threading.Lock()
        self._tags: dict[int, object] = {}  # mid -> what the publisher tagged it with
        self._closed = False
        self._client = client_factory(client_id, mqtt5)
        # A downlink message is acknowledged once handled, not once queued: if
        # the lane stops in between, the broker delivers it again.
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_socket_open = no_delay

    # --- paho callbacks: network thread, enqueue only -----------------------------------

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: ReasonCode, props: Any
    ) -> None:
        self._post(
            Connected(
                link=self.number,
                ok=not reason_code.is_failure,
                reason=_reason(reason_code),
                session_present=bool(getattr(flags, "session_present", False)),
                protocol_refused=reason_code.value == UNSUPPORTED_PROTOCOL,
                code=reason_code.value,
            )
        )

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: ReasonCode, props: Any
    ) -> None:
        self._post(Disconnected(self.number, _reason(reason_code)))

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason_code: ReasonCode, props: Any
    ) -> None:
        refused = _reason(reason_code) if reason_code.is_failure else ""
        self._post(Published(self.number, mid, refused))

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        refused = tuple(_reason(c) for c in codes if c.is_failure)
        self._post(Subscribed(self.number, refused))

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # Not a topic we subscribed to (topics are UTF-8): acknowledge and drop it,
            # or it would hold one of the broker's in-flight slots for good.
            client.ack(message.mid, message.qos)
            return
        self._post(Inbound(self.number, topic, bytes(message.payload), message.mid, message.qos))

    # --- used by the sync thread -------------------------------------------------------

    def open(self) -> None:
        """Connect (TCP, TLS, CONNECT) and start paho's network thread; ``LinkError`` if not."""
        config, client = self.config, self._client
        try:
            if config.tls:
                client.tls_set_context(tls_context(config))
            if config.username:
                client.username_pw_set(config.username, config.password or None)
            if self._will is not None:
                client.will_set(self._will.topic, self._will.payload, qos=QOS, retain=True)
            client.max_inflight_messages_set(config.max_inflight + 8)  # room for status
            client.connect_timeout = CONNECT_TIMEOUT_S
            if self.mqtt5:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = SESSION_EXPIRY_S
                client.connect(
                    config.host,
                    config.port,
                    config.keepalive_s,
                    clean_start=False,
                    properties=props,
                )
            else:
                client.connect(config.host, config.port, config.keepalive_s)
        except OSError as e:
            raise LinkError(broker_error_text(e, config.host, config.port)) from e
        except ValueError as e:  # its text never holds the password
            raise LinkError(f"{config.host}:{config.port}: {e}") from e
        client.loop_start()

    def subscribe(self, topics: Sequence[str]) -> None:
        """Subscribe at QoS 1 (kept in the broker's session, asked again on every connect)."""
        rc, _ = self._client.subscribe([(t, QOS) for t in topics])
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise LinkError(f"subscribe: {mqtt.error_string(rc)}")

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, tag: object = None
    ) -> int:
        """Publish at QoS 1; returns the mid, recorded with ``tag`` for ``settle``.

        The mid is recorded under the lock before the PUBACK's event can be
        handled, however early paho fires ``on_publish`` (paho #361, #482).
        """
        with self._lock:
            try:
                info = self._client.publish(topic, payload, qos=QOS, retain=retain)
            except (ValueError, RuntimeError) as e:
                raise LinkError(f"publish to {topic}: {e}") from e
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise LinkError(f"publish to {topic}: {mqtt.error_string(info.rc)}")
            self._tags[info.mid] = tag
            return info.mid

    def ack(self, message: Inbound) -> None:
        """PUBACK a handled downlink message (a no-op at QoS 0)."""
        self._client.ack(message.mid, message.qos)

    def settle(self, mid: int) -> object:
        """The tag of a PUBACKed mid (None when unknown); the mid is forgotten."""
        with self._lock:
            return self._tags.pop(mid, None)

    @property
    def in_flight(self) -> int:
        """Messages published on this link and not yet PUBACKed."""
        with self._lock:
            return len(self._tags)

    def close(self) -> None:
        """DISCONNECT (the broker drops the will) and stop paho's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._client.disconnect()
        # AttributeError: paho's thread ended between loop_stop's check and its join.
        with contextlib.suppress(AttributeError):
            self._client.loop_stop()
