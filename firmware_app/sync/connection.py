"""The link to the broker over time: attempts, the wait between them, and the broker's word.

One job: keep one ``MqttLink`` open when it can be, and say how that goes. An
attempt opens a fresh link (TCP, TLS, CONNECT with the retained ``offline`` status
as its will) and waits for the CONNACK until ``connack_deadline``; an attempt that
fails, a refusal and a lost connection all end the link, and the next attempt
comes after a ``Backoff``: doubling from ``mqtt.reconnect_min_s`` to
``mqtt.reconnect_max_s``, times a jitter in [0.5, 1) so that the lanes of a store
do not all come back in the same instant after the broker restarts. A broker that
answers an MQTT 5 CONNECT with "unsupported protocol version" gets MQTT 3.1.1
from the next attempt on, for the rest of the run.

The broker's state word (``states.BROKER``) follows the link: ``online`` once
accepted, ``offline`` with the reason when it cannot be reached or the connection
ends, ``refused`` when the broker turns the login down (said once, however often
it happens again). ``not_authorized`` is the refusals' word (see ``refusals``).

Used by the sync thread only; times are monotonic seconds.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime

from firmware_app.config import MqttConfig
from firmware_app.reminders import Reminder
from firmware_app.sync.errors import LinkError
from firmware_app.sync.mqtt_client import (
    ClientFactory,
    Connected,
    Disconnected,
    LinkEvent,
    MqttLink,
    Post,
    Will,
    paho_client,
)
from firmware_app.sync.states import BROKER, OFFLINE, ONLINE, REFUSED, SyncStates

log = logging.getLogger(__name__)

CONNACK_TIMEOUT_S = 10.0  # the least time a CONNECT waits for its answer (or keepalive_s)
MAX_DOUBLINGS = 30  # past this the backoff is at its cap anyway; keeps 2**n small

WillSource = Callable[[datetime], Will]  # the will of a connection dated ``at``


class Backoff:
    """The wait before each next connection attempt, in seconds.

    The n-th wait since the last success is ``min(max_s, min_s * 2**n)`` times a
    jitter drawn from ``rng`` in [0.5, 1): never longer than ``max_s``, never
    shorter than half of ``min_s``.
    """

    def __init__(self, min_s: float, max_s: float, *, rng: random.Random) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self.attempts = 0  # waits handed out since the last ``reset``
        self._rng = rng

    def next_delay(self) -> float:
        """The wait before the next attempt (each call is one more failed attempt)."""
        base = min(self.max_s, self.min_s * 2.0 ** min(self.attempts, MAX_DOUBLINGS))
        self.attempts += 1
        return base * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """A connection was accepted: the next wait is the shortest again."""
        self.attempts = 0


class Connection:
    """One lane's connection to its broker: at most one link at a time.

    ``will(at)`` gives the will of a connection opened at ``at`` (aware wall time,
    from ``clock``); ``subscriptions`` are subscribed on every accepted
    connection; events of the link go to ``post``. ``monotonic`` gives the time
    of deadlines, ``rng`` the backoff's jitter.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        will: WillSource,
        post: Post,
        states: SyncStates,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        rng: random.Random,
        client_factory: ClientFactory = paho_client,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self.mqtt5 = True  # False once the broker has refused MQTT 5
        self.backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s, rng=rng)
        self._subscriptions = tuple(subscriptions)
        self._will = will
        self._post = post
        self._states = states
        self._clock = clock
        self._mono = monotonic
        self._client_factory = client_factory
        self._link: MqttLink | None = None
        self._links = 0  # links made so far: each one's number, to tell stale events
        self._connected = False
        self._next_attempt = 0.0  # no link: when to try again
        self._connack_deadline = 0.0  # a link, not accepted yet: when to give up on it
        self._connected_at: datetime | None = None
        # A broker away for a day: said when it goes, reminded at growing gaps.
        self._unreachable = Reminder(log, monotonic)

    @property
    def where(self) -> str:
        """The broker, as a technician reads it in the log."""
        return f"{self.config.host}:{self.config.port}"

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the current link."""
        return self._connected

    @property
    def link(self) -> MqttLink | None:
        """The current link (connecting or accepted), None between attempts."""
        return self._link

    @property
    def connected_at(self) -> datetime:
        """When the current link was opened (aware wall time): the status's ``connected_at``."""
        assert self._connected_at is not None, "no connection has been opened"
        return self._connected_at

    def current(self, event: LinkEvent) -> bool:
        """True when ``event`` comes from the current link, not one that has ended."""
        return self._link is not None and event.link == self._link.number

    def deadline(self) -> float | None:
        """When ``tick`` has something to do: the next attempt, or giving up on a CONNECT
        (None once connected)."""
        if self._link is None:
            return self._next_attempt
        if not self._connected:
            return self._connack_deadline
        return None

    def tick(self, now: float) -> None:
        """Attempt a connection when its time has come; give up on an unanswered CONNECT."""
        if self._link is None:
            if now >= self._next_attempt:
                self._attempt()
        elif not self._connected and now >= self._connack_deadline:
            log.info("no answer from broker %s; trying again", self.where)
            self.drop("no answer to CONNECT")

    def _attempt(self) -> None:
        self._links += 1
        connected_at = self._clock()
        link = MqttLink(
            self.config,
            client_id=self.client_id,
            number=self._links,
            post=self._post,
            will=self._will(connected_at),
            mqtt5=self.mqtt5,
            client_factory=self._client_factory,
        )
        try:
            link.open()
        except LinkError as e:
            self._unreachable.fault(f"broker {self.where} not reachable: {e}")
            link.close()
            self._states.set(BROKER, OFFLINE, str(e))
            self._schedule_retry()
            return
        self._link = link
        self._connected_at = connected_at
        self._connack_deadline = self._mono() + max(CONNACK_TIMEOUT_S, self.config.keepalive_s)

    def accepted(self, event: Connected) -> bool:
        """The broker accepted the CONNECT: subscribe; False when that failed and the link
        was dropped."""
        assert self._link is not None
        self._connected = True
        self.backoff.reset()
        self._unreachable.clear(f"broker {self.where} reachable again")
        log.info(
            "connected to broker %s as %s (MQTT %s, %s session)",
            self.where,
            self.client_id,
            "5" if self.mqtt5 else "3.1.1",
            "resumed" if event.session_present else "new",
        )
        self._states.set(BROKER, ONLINE)
        try:
            self._link.subscribe(self._subscriptions)
        except LinkError as e:
            log.info("subscribe failed, reconnecting: %s", e)
            self.drop(str(e))
            return False
        return True

    def refused(self, event: Connected) -> None:
        """The broker refused the CONNECT: fall back to MQTT 3.1.1 when it would not speak
        5, else the broker is ``refused`` (the login, usually); try again later."""
        if event.protocol_refused and self.mqtt5:
            log.info("broker %s does not speak MQTT 5: using 3.1.1", self.where)
            self.mqtt5 = False
        elif self._states.set(BROKER, REFUSED, event.reason):
            log.warning(
                "broker %s refused the connection: %s (mqtt.username, mqtt.password, "
                "the broker's password file); trying again",
                self.where,
                event.reason,
            )
        else:
            log.debug("broker %s refused the connection again: %s", self.where, event.reason)
        self.drop(None)

    def lost(self, event: Disconnected) -> None:
        """The connection ended (or never came up): try again later."""
        if self._connected:
            log.info("disconnected from broker %s: %s", self.where, event.reason)
        else:
            log.info("connection to broker %s failed: %s", self.where, event.reason)
        self.drop(event.reason)

    def drop(self, why: str | None) -> None:
        """End the link and schedule the next attempt; ``why`` (if any) makes the broker
        ``offline`` (None: the state was set already, as ``refused``)."""
        if self._link is not None:
            self._link.close()
        self._link = None
        self._connected = False
        if why is not None:
            self._states.set(BROKER, OFFLINE, why)
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = self.backoff.next_delay()
        self._next_attempt = self._mono() + delay
        log.debug("next connection attempt in %.1f s", delay)

    # --- on the current link ------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, tag: object = None
    ) -> int | None:
        """Publish on the current link (see ``MqttLink.publish``); on failure the link is
        dropped and None returned."""
        assert self._link is not None
        try:
            return self._link.publish(topic, payload, retain=retain, tag=tag)
        except LinkError as e:
            log.info("publish failed, reconnecting: %s", e)
            self.drop(str(e))
            return None

    def settle(self, mid: int) -> object:
        """The tag of a PUBACKed mid on the current link (see ``MqttLink.settle``)."""
        assert self._link is not None
        return self._link.settle(mid)

    def close(self) -> None:
        """The lane is closing: DISCONNECT (the broker drops the will); no attempt follows."""
        link, self._link, self._connected = self._link, None, False
        if link is not None:
            link.close()
        log.info("disconnected from broker %s (lane closing)", self.where)
