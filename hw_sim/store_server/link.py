"""How the simulated store server reaches a broker: its address, its login, a paho client."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from firmware_app.sync.mqtt_client import no_delay
from hw_sim.store_server.errors import StoreServerError

START_TIMEOUT_S = 10.0  # seconds to wait for the broker to subscribe us or take a message


@dataclass(frozen=True)
class BrokerLogin:
    """How to log in to a broker that asks: a store's broker (docs/mosquitto) does.

    ``ca_file`` is the CA of an ``mqtts://`` broker (empty: the system's CAs).
    """

    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""


def broker_address(url: str) -> tuple[str, int]:
    """(host, port) of an ``mqtt://`` or ``mqtts://`` URL; ``StoreServerError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise StoreServerError(f"--broker: expected mqtt://HOST:PORT or mqtts://…, got {url!r}")
    return parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def new_client(url: str, login: BrokerLogin, client_id: str = "") -> mqtt.Client:
    """A paho MQTT 5 client set up for ``url`` (TLS for mqtts) and ``login``."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_socket_open = no_delay
    if urlsplit(url).scheme == "mqtts":
        client.tls_set_context(ssl.create_default_context(cafile=login.ca_file or None))
    if login.username:
        client.username_pw_set(login.username, login.password or None)
    return client
