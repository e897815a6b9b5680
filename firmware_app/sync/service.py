"""The sync service: drains the outbox to the broker and hands downlink messages on.

One thread of its own (``sync-lane-…``) owns the connection, the send window
and every call into the outbox; paho's network thread and the lane loop only
put events on its queue. The outbox is the queue that matters: a row leaves it
only when the store server's ``store.ack/1`` covers its seq, whatever paho or
the broker said before (spec/mqtt-contract.md).

Timeline of one connection: CONNECT (persistent session, will = retained
``offline`` status) → CONNACK → subscribe to ack/catalog/cmd, publish retained
``online`` status, publish unacked rows in seq order (at most ``max_inflight``
awaiting PUBACK) → acks mark rows → on close, retained ``offline`` and a clean
DISCONNECT. When a connection ends, the next attempt comes after a backoff
that doubles from ``reconnect_min_s`` to ``reconnect_max_s``, with jitter so
that the lanes of a store do not all come back in the same instant.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firmware_app.config import MqttConfig
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import (
    Topics,
    catalog_request_message,
    encode,
    parse_ack,
    status_message,
)
from firmware_app.sync.errors import ContractError, LinkError, SyncError
from firmware_app.sync.mqtt_client import (
    ClientFactory,
    Connected,
    Disconnected,
    LinkEvent,
    Message,
    MqttLink,
    Published,
    Subscribed,
    Will,
    paho_client,
)
from firmware_app.sync.window import SendWindow

log = logging.getLogger(__name__)

StatusSource = Callable[[], Any]  # -> mapping (or dataclass) of version, catalog_version, devices
Downlink = Callable[[str, bytes], None]

CONNACK_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0  # how long close() waits for the broker to take the offline status
JOIN_TIMEOUT_S = 15.0
POLL_S = 5.0  # look at the outbox this often even without wake()
ERROR_PAUSE_S = 1.0  # after an unexpected error (database busy…), before trying again
MAX_UNACKED = 1000  # rows published and not acked; also what a timed-out resend repeats
READ_BATCH = 100


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class _Wake:
    pass


@dataclass(frozen=True)
class _StatusChanged:
    pass


@dataclass(frozen=True)
class _CatalogRequest:
    have: int | None


@dataclass(frozen=True)
class _Stop:
    pass


_Command = _Wake | _StatusChanged | _CatalogRequest | _Stop


@dataclass
class SyncCounters:
    """What the sync thread has done since start (read by tests and diagnostics)."""

    connects: int = 0
    published: int = 0  # outbox rows handed to the broker, counting every resend
    republished: int = 0  # of those, rows that had been published before
    acks: int = 0  # valid store.ack messages
    rejected_acks: int = 0
    downlink: int = 0


class SyncService:
    """Streams the outbox to the store server and dispatches downlink messages.

    ``status()`` is called on the sync thread and returns ``version``,
    ``catalog_version`` and ``devices`` (a mapping or a dataclass with those
    fields); ``on_downlink(topic, payload)`` is called on the sync thread for
    every downlink message except acks, and its errors are logged, not raised.
    ``wake()``, ``status_changed()``, ``request_catalog()`` and ``close()`` may
    be called from any thread.

    ``clock`` gives the aware wall time of ``at`` fields and acknowledgements,
    ``monotonic`` the time of timeouts and backoff (seconds), ``rng`` the
    jitter; ``status_interval_s`` is the least time between two status
    messages and ``max_unacked`` how many rows may be out without an ack.
    """

    def __init__(
        self,
        config: MqttConfig,
        *,
        store_id: str,
        lane_id: str,
        outbox: Outbox,
        status: StatusSource,
        on_downlink: Downlink,
        clock: Callable[[], datetime] = local_now,
        client_factory: ClientFactory = paho_client,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        status_interval_s: float = 1.0,
        max_unacked: int = MAX_UNACKED,
    ) -> None:
        self.config = config
        self.topics = Topics(config.topic_root, store_id, lane_id)
        self.client_id = f"lane-{store_id}-{lane_id}"
        self.counters = SyncCounters()
        self._outbox = outbox
        self._status = status
        self._on_downlink = on_downlink
        self._clock = clock
        self._client_factory = client_factory
        self._mono = monotonic
        self._rng = rng or random.Random()
        self._status_interval_s = status_interval_s
        self._events: queue.Queue[LinkEvent | _Command] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Everything below belongs to the sync thread.
        self._window = SendWindow(ack_timeout_s=config.ack_timeout_s, max_unacked=max_unacked)
        self._link: MqttLink | None = None
        self._links = 0
        self._connected = False
        self._mqtt5 = True
        self._attempts = 0
        self._next_attempt = 0.0
        self._connack_deadline = 0.0
        self._connected_at: datetime | None = None
        self._want_drain = True
        self._last_poll = 0.0
        self._status_dirty = False
        self._status_sent = float("-inf")
        self._fields: dict[str, Any] = {
            "version": "unknown",
            "catalog_version": None,
            "devices": {},
        }
        self._catalog_request: _CatalogRequest | None = None
        self._paused_until = 0.0

    # --- any thread ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the current connection."""
        return self._connected

    def start(self) -> None:
        """Start the sync thread; it connects in the background (the lane sells meanwhile)."""
        with self._lock:
            if self._closed:
                raise SyncError("the sync service is closed")
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"sync-{self.client_id}", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """New outbox rows were committed: send them now."""
        self._events.put(_Wake())

    def status_changed(self) -> None:
        """A device state or the catalog version changed: publish the status (rate-limited)."""
        self._events.put(_StatusChanged())

    def request_catalog(self, have: int | None) -> None:
        """Ask the store server for a catalog snapshot (``have``: the lane's version)."""
        self._events.put(_CatalogRequest(have))

    def close(self) -> None:
        """Publish the retained offline status, disconnect cleanly, stop. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._events.put(_Stop())
        if thread is threading.current_thread():
            return  # called from on_downlink: the thread stops after this message
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            log.warning("sync thread did not stop within %.0f s", JOIN_TIMEOUT_S)

    # --- the sync thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                event = self._next_event()
                if isinstance(event, _Stop):
                    break
                try:
                    if event is not None:
                        self._handle(event)
                    self._tick()
                except Exception:  # the thread must outlive a busy database or a paho quirk
                    log.exception("sync: unexpected error; trying again in %.0f s", ERROR_PAUSE_S)
                    self._paused_until = self._mono() + ERROR_PAUSE_S
        except Exception:
            log.exception("sync thread failed")
        finally:
            self._shutdown()
            self._outbox.db.close()  # this thread's connection only (peewee keeps one per thread)

    def _next_event(self) -> LinkEvent | _Command | None:
        timeout = max(0.0, min(self._deadlines(), self._mono() + POLL_S) - self._mono())
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def _deadlines(self) -> float:
        if self._paused_until > self._mono():
            return self._paused_until
        if self._link is None:
            return self._next_attempt
        if not self._connected:
            return self._connack_deadline
        times = [self._last_poll + POLL_S]
        if self._want_drain:
            times.append(0.0)
        ack_deadline = self._window.deadline()
        if ack_deadline is not None:
            times.append(ack_deadline)
        if self._status_dirty:
            times.append(self._status_sent + self._status_interval_s)
        return min(times)

    def _handle(self, event: LinkEvent | _Wake | _StatusChanged | _CatalogRequest) -> None:
        if isinstance(event, _Wake):
            self._want_drain = self._status_dirty = True
        elif isinstance(event, _StatusChanged):
            self._status_dirty = True
        elif isinstance(event, _CatalogRequest):
            self._catalog_request = event
        elif self._link is None or event.link != self._link.number:
            return  # left over from a connection that has ended
        elif isinstance(event, Connected):
            self._on_connected(event)
        elif isinstance(event, Disconnected):
            self._on_disconnected(event)
        elif isinstance(event, Published):
            self._on_published(event)
        elif isinstance(event, Subscribed) and event.refused:
            log.warning("broker refused a subscription: %s", ", ".join(event.refused))
        elif isinstance(event, Message):
            self._on_message(event)

    def _tick(self) -> None:
        now = self._mono()
        if now < self._paused_until:
            return
        if self._link is None:
            if now >= self._next_attempt:
                self._connect()
            return
        if not self._connected:
            if now >= self._connack_deadline:
                log.info("no answer from broker %s; trying again", self._where)
                self._drop_link()
            return
        self._connected_tick(now)

    def _connected_tick(self, now: float) -> None:
        oldest = self._window.expire(now)
        if oldest is not None:
            log.info(
                "no ack within %.0f s: publishing again from seq %d",
                self.config.ack_timeout_s,
                oldest,
            )
            self._want_drain = True
        if now - self._last_poll >= POLL_S:
            self._last_poll = now
            self._want_drain = True
        if self._want_drain:
            self._drain(now)
        if self._connected and self._catalog_request is not None:
            self._send_catalog_request(self._catalog_request)
        due = now - self._status_sent >= self._status_interval_s
        if self._connected and self._status_dirty and due:
            self._send_status("online")

    # --- connecting ---------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _connect(self) -> None:
        self._links += 1
        connected_at = self._clock()
        # The will is dated by its connection: see contract.status_message.
        offline = self._status_message("offline", at=connected_at, connected_at=connected_at)
        will = Will(self.topics.status, encode(offline))
        link = MqttLink(
            self.config,
            client_id=self.client_id,
            number=self._links,
            post=self._events.put,
            will=will,
            mqtt5=self._mqtt5,
            client_factory=self._client_factory,
        )
        try:
            link.open()
        except LinkError as e:
            log.info("broker not reachable: %s", e)
            link.close()
            self._schedule_retry()
            return
        self._link = link
        self._connected_at = connected_at
        self._connack_deadline = self._mono() + max(CONNACK_TIMEOUT_S, self.config.keepalive_s)

    def _on_connected(self, event: Connected) -> None:
        assert self._link is not None
        if not event.ok:
            log.warning("broker %s refused the connection: %s", self._where, event.reason)
            if event.protocol_refused and self._mqtt5:
                log.info("broker %s does not speak MQTT 5: using 3.1.1", self._where)
                self._mqtt5 = False
            self._drop_link()
            return
        self._connected = True
        self._attempts = 0
        self.counters.connects += 1
        log.info(
            "connected to broker %s as %s (MQTT %s, %s session)",
            self._where,
            self.client_id,
            "5" if self._mqtt5 else "3.1.1",
            "resumed" if event.session_present else "new",
        )
        try:
            self._link.subscribe(self.topics.downlink)
        except LinkError as e:
            log.info("subscribe failed, reconnecting: %s", e)
            self._drop_link()
            return
        self._window.restart(self._outbox.stats().acked_upto)
        self._send_status("online")
        self._want_drain = True

    def _on_disconnected(self, event: Disconnected) -> None:
        if self._connected:
            log.info("disconnected from broker %s: %s", self._where, event.reason)
        else:
            log.info("connection to broker %s failed: %s", self._where, event.reason)
        self._drop_link()

    def _drop_link(self) -> None:
        if self._link is not None:
            self._link.close()
        self._link = None
        self._connected = False
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        base = min(
            self.config.reconnect_max_s, self.config.reconnect_min_s * 2 ** min(self._attempts, 30)
        )
        delay = base * self._rng.uniform(0.5, 1.0)
        self._attempts += 1
        self._next_attempt = self._mono() + delay
        log.debug("next connection attempt in %.1f s", delay)

    # --- uplink -------------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        """Publish unacked rows after the cursor, in seq order, while the windows allow."""
        link = self._link
        assert link is not None
        self._want_drain = False
        while True:
            room = min(self.config.max_inflight - link.in_flight, self._window.room(), READ_BATCH)
            if room <= 0:
                return
            rows = self._outbox.unacked(after_seq=self._window.cursor, limit=room)
            if not rows:
                return
            for row in rows:
                if self._publish(row.topic, row.payload, tag=row.seq) is None:
                    return
                self.counters.published += 1
                if self._window.published(row.seq, now):
                    self.counters.republished += 1

    def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, tag: object = None
    ) -> int | None:
        """Publish on the current link; on failure drop the link (and return None)."""
        assert self._link is not None
        try:
            return self._link.publish(topic, payload, retain=retain, tag=tag)
        except LinkError as e:
            log.info("publish failed, reconnecting: %s", e)
            self._drop_link()
            return None

    def _on_published(self, event: Published) -> None:
        assert self._link is not None
        seq = self._link.settle(event.mid)
        if event.refused:
            log.warning("broker refused the message (seq %s): %s", seq, event.refused)
        self._want_drain = True  # an in-flight slot is free

    def _status_fields(self) -> dict[str, Any]:
        try:
            raw = self._status()
            is_record = dataclasses.is_dataclass(raw) and not isinstance(raw, type)
            fields = dataclasses.asdict(raw) if is_record else dict(raw)
        except Exception:
            log.exception("status source failed; reporting the last known status")
            return self._fields
        self._fields = {
            "version": str(fields.get("version", "unknown")),
            "catalog_version": fields.get("catalog_version"),
            "devices": dict(fields.get("devices") or {}),
        }
        return self._fields

    def _status_message(
        self, state: str, *, at: datetime, connected_at: datetime
    ) -> dict[str, Any]:
        return status_message(
            state,
            at=at,
            connected_at=connected_at,
            outbox=self._outbox.stats(),
            **self._status_fields(),
        )

    def _send_status(self, state: str) -> int | None:
        assert self._connected_at is not None
        message = self._status_message(state, at=self._clock(), connected_at=self._connected_at)
        mid = self._publish(self.topics.status, encode(message), retain=True)
        self._status_dirty = False
        self._status_sent = self._mono()
        return mid

    def _send_catalog_request(self, request: _CatalogRequest) -> None:
        message = catalog_request_message(
            request.have, at=self._clock(), store=self.topics.store, lane=self.topics.lane
        )
        if self._publish(self.topics.catalog_request, encode(message)) is not None:
            self._catalog_request = None

    # --- downlink -----------------------------------------------------------------------

    def _on_message(self, event: Message) -> None:
        assert self._link is not None
        link = self._link
        try:
            if event.topic == self.topics.ack:
                self._on_ack(event.payload)
            else:
                self.counters.downlink += 1
                self._dispatch(event)
        finally:
            link.ack(event)  # handled (or rejected for good): the broker may forget it

    def _on_ack(self, payload: bytes) -> None:
        try:
            upto = parse_ack(payload)
        except ContractError as e:
            self.counters.rejected_acks += 1
            log.warning("ack ignored: %s", e)
            return
        newly = self._outbox.ack_upto(upto, self._clock())
        self.counters.acks += 1
        # An ack beyond what this lane has published (a store server that remembers
        # an older database of this lane) must not make the drain skip rows not yet sent.
        if self._window.ack(min(upto, self._window.highest)) or newly:
            self._want_drain = self._status_dirty = True
        log.debug("ack upto %d: %d rows newly acknowledged", upto, newly)

    def _dispatch(self, event: Message) -> None:
        try:
            self._on_downlink(event.topic, event.payload)
        except Exception:
            log.exception("downlink message on %s failed", event.topic)

    # --- stopping -----------------------------------------------------------------------

    def _shutdown(self) -> None:
        link = self._link
        if link is None:
            return
        if self._connected:
            try:
                mid = self._send_status("offline")
                if mid is not None:
                    self._await_puback(link, mid)
            except Exception:
                log.exception("offline status not sent")
        link.close()
        self._link = None
        self._connected = False
        log.info("disconnected from broker %s (lane closing)", self._where)

    def _await_puback(self, link: MqttLink, mid: int) -> None:
        deadline = self._mono() + CLOSE_TIMEOUT_S
        while (left := deadline - self._mono()) > 0:
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                return
            if isinstance(event, Published) and event.link == link.number and event.mid == mid:
                return
            if isinstance(event, Disconnected) and event.link == link.number:
                return
