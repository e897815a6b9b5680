"""The link's lifecycle on its own, with an injected monotonic clock and rng: the backoff
schedule, an unreachable broker, an unanswered CONNECT, the MQTT 5 fallback and a refused
login, each against a real socket (nothing listening, or a listener that answers as told)."""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections.abc import Iterator
from datetime import datetime

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import MqttConfig
from firmware_app.sync.connection import CONNACK_TIMEOUT_S, Backoff, Connection
from firmware_app.sync.mqtt_client import Connected, LinkEvent, Will, paho_client
from firmware_app.sync.states import SyncStates
from tests.waiting import wait_until

T0 = datetime.fromisoformat("2026-11-28T09:00:00+08:00")


class Ticker:
    """A monotonic clock that moves only when the test says (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class LowestJitter(random.Random):
    """An rng whose ``uniform(a, b)`` is always ``a``: the schedule without its jitter."""

    def random(self) -> float:
        return 0.0


# --- the backoff schedule -----------------------------------------------------------------


def test_the_wait_doubles_from_the_least_to_the_cap_and_starts_again_after_a_success() -> None:
    backoff = Backoff(1.0, 30.0, rng=LowestJitter())
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


@given(
    min_s=st.floats(0.01, 100.0),
    factor=st.floats(1.0, 1000.0),
    failures=st.integers(1, 80),
    rng=st.randoms(use_true_random=False),
)
def test_every_wait_is_between_half_and_all_of_its_doubled_base(
    min_s: float, factor: float, failures: int, rng: random.Random
) -> None:
    max_s = min_s * factor
    backoff = Backoff(min_s, max_s, rng=rng)
    for n in range(failures):
        base = min(max_s, min_s * 2.0 ** min(n, 30))
        assert base / 2 <= backoff.next_delay() <= base <= max_s


# --- attempts against real sockets --------------------------------------------------------


class Rig:
    """A ``Connection`` to ``port`` of 127.0.0.1 whose events land in ``posted``."""

    def __init__(self, port: int, **config: float) -> None:
        self.mono = Ticker()
        self.posted: list[LinkEvent] = []
        self.heard: list[tuple[str, str, str]] = []
        self.clients: list[bool] = []  # one per attempt: whether it spoke MQTT 5
        self.connection = Connection(
            MqttConfig(url=f"mqtt://127.0.0.1:{port}", **config),  # type: ignore[arg-type]
            client_id="lane-S001-01",
            subscriptions=("pos/S001/lanes/01/ack",),
            will=lambda at: Will("pos/S001/lanes/01/status", at.isoformat().encode()),
            post=self.posted.append,
            states=SyncStates(lambda *said: self.heard.append(said)),
            clock=lambda: T0,
            monotonic=self.mono,
            rng=LowestJitter(),
            client_factory=self.factory,
        )

    def factory(self, client_id: str, mqtt5: bool) -> mqtt.Client:
        self.clients.append(mqtt5)
        return paho_client(client_id, mqtt5)

    def connack(self) -> Connected:
        """The answer to the current link's CONNECT, once paho has posted it."""
        wait_until(
            lambda: any(
                isinstance(e, Connected) and self.connection.current(e) for e in self.posted
            ),
            "the CONNACK",
        )
        return next(
            e for e in self.posted if isinstance(e, Connected) and self.connection.current(e)
        )


@pytest.fixture
def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    """A TCP server on 127.0.0.1 that reads each CONNECT and answers with the next of
    ``answers`` (a CONNACK's return code; None: no answer at all)."""

    def __init__(self, *answers: int | None) -> None:
        self.answers = list(answers)
        self.levels: list[int] = []  # the protocol level of each CONNECT (5, or 4: 3.1.1)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for answer in self.answers:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            self.conns.append(conn)
            connect = conn.recv(4096)
            i = 1
            while connect[i] & 0x80:  # the remaining length is a varint
                i += 1
            name_len = int.from_bytes(connect[i + 1 : i + 3], "big")
            self.levels.append(connect[i + 3 + name_len])
            if answer is not None:
                conn.sendall(bytes([0x20, 0x02, 0x00, answer]))

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.server.close()


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.connection.close()


def test_an_unreachable_broker_is_offline_once_and_tried_again_on_schedule(
    free_port: int, rigs: list[Rig]
) -> None:
    rig = Rig(free_port, reconnect_min_s=2.0, reconnect_max_s=5.0)
    rigs.append(rig)
    connection, mono = rig.connection, rig.mono
    assert connection.deadline() == 0.0  # the first attempt at once
    attempts_at = []
    for _ in range(4):
        attempts_at.append(mono.now)
        connection.tick(mono.now)
        assert connection.link is None and not connection.connected
        next_attempt = connection.deadline()
        assert next_attempt is not None
        mono.now = next_attempt - 0.001
        connection.tick(mono.now)  # not yet: no attempt
        mono.now = next_attempt
    assert attempts_at == [0.0, 1.0, 3.0, 5.5]  # waits of 1, 2, then the cap's 2.5
    assert len(rig.clients) == 4
    assert [(name, state) for name, state, _ in rig.heard] == [("broker", "offline")]
    assert "127.0.0.1" in rig.heard[0][2]


def test_an_unanswered_connect_is_given_up_at_its_deadline(rigs: list[Rig]) -> None:
    listener = Listener(None)
    try:
        rig = Rig(listener.port, keepalive_s=20)
        rigs.append(rig)
        connection, mono = rig.connection, rig.mono
        connection.tick(0.0)
        assert connection.link is not None and not connection.connected
        deadline = max(CONNACK_TIMEOUT_S, 20.0)
        assert connection.deadline() == deadline
        mono.now = deadline - 0.001
        connection.tick(mono.now)
        assert connection.link is not None  # still waiting
        mono.now = deadline
        connection.tick(mono.now)
        assert connection.link is None
        assert rig.heard == [("broker", "offline", "no answer to CONNECT")]
        assert connection.deadline() == deadline + 0.5  # the next attempt, after the backoff
    finally:
        listener.close()


def test_mqtt5_refused_falls_back_to_311_and_a_refused_login_is_said_once(
    rigs: list[Rig],
) -> None:
    # Return code 1 to an MQTT 5 CONNECT: "unsupported protocol version"; then
    # 5 ("not authorized") to both 3.1.1 attempts.
    listener = Listener(1, 5, 5)
    try:
        rig = Rig(listener.port)
        rigs.append(rig)
        connection, mono = rig.connection, rig.mono
        for _ in range(3):
            mono.now = connection.deadline()  # type: ignore[assignment]
            connection.tick(mono.now)
            event = rig.connack()
            assert not event.ok
            connection.refused(event)
            assert connection.link is None
        assert listener.levels == [5, 4, 4] and rig.clients == [True, False, False]
        assert not connection.mqtt5
        # The fallback is no refusal; the login refused is said once, with its reason.
        assert [(name, state) for name, state, _ in rig.heard] == [("broker", "refused")]
    finally:
        listener.close()


def test_a_broker_away_for_long_is_said_once_then_at_growing_gaps(
    free_port: int, rigs: list[Rig], caplog: pytest.LogCaptureFixture
) -> None:
    """Not a line per retry: said when it goes (in words, with advice), reminded a minute
    later, then at doubling gaps."""
    caplog.set_level(logging.INFO, logger="firmware_app.sync.connection")
    rig = Rig(free_port, reconnect_min_s=1.0, reconnect_max_s=1.0)
    rigs.append(rig)
    connection, mono = rig.connection, rig.mono
    while mono.now < 600:  # ten minutes of retries, one a second or so
        connection.tick(mono.now)
        next_attempt = connection.deadline()
        assert next_attempt is not None
        mono.now = next_attempt
    said = [r.getMessage() for r in caplog.records if "not reachable" in r.getMessage()]
    assert len(rig.clients) > 500
    assert 3 <= len(said) <= 5  # at 0 s, then about 1, 3 and 7 minutes
    assert "connection refused: is mosquitto running on 127.0.0.1" in said[0]
    assert "[Errno" not in said[0]
