"""The sync service: drains the outbox to the broker and hands downlink messages on.

One thread of its own (``sync-lane-…``) owns the connection, the send window
and every call into the outbox; paho's network thread and the lane loop only
put events on its queue. The outbox is the queue that matters: a row leaves it
only when the store server's ``store.ack/1`` covers its seq, whatever paho or
the broker said before (spec/mqtt-contract.md).

Timeline of one connection: CONNECT (persistent session, will = retained
``offline`` status) → CONNACK → subscribe to ack/catalog/cmd, publish retained
``online`` status, publish unacked rows (at most ``max_inflight`` awaiting
PUBACK, at most ``max_unacked`` awaiting the store server's ack) → acks mark
rows → on close, retained ``offline`` and a clean DISCONNECT. When a connection
ends, the next attempt comes after a backoff that doubles from
``reconnect_min_s`` to ``reconnect_max_s``, with jitter so that the lanes of a
store do not all come back in the same instant.

Fairness: the rows waiting when a connection opens (the *backlog*, maybe a
day's worth) go out in seq order, and rows committed since (*live* sales) go
out ahead of what is left of it, within a reserve of both windows (see
``window.SendWindow``): a sale made while 50,000 old messages drain is
published at once, not after them. A resend after an ack time-out or a
reconnect is in seq order.

Acks are checked against what this run has published and what the lane has
ever assigned (``acks``), applied to the send window as they come and written to
the outbox in one transaction per burst (when the queue is empty, at least every
``ACK_WRITE_S``): an ack lost to a crash in between only means rows published
again, which the store server stores once. An ack beyond every seq the lane has
assigned is refused, logged, and shown as the outbox's ``ack_ahead`` word until a
true ack comes. Acks the database will not take are tried ``ACK_WRITE_TRIES``
times, then dropped (the window keeps them; a later ack covers them).

No message and no step stops the thread: each step of a pass (acks, housekeeping,
the link) runs whatever another one raised, and an unexpected error pauses the
passes ``ERROR_PAUSE_S``.

Housekeeping, on this thread: acknowledged rows older than
``mqtt.acked_retention_h`` are deleted in short batches, and the outbox's
state (``ok``, or ``backlog`` past ``mqtt.backlog_warning_min``) and the
broker's (``online``, ``offline``, ``refused``, ``not_authorized``) go to
``on_state`` when they change (see ``states``).
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
from datetime import datetime, timedelta
from typing import Any

from firmware_app.config import MqttConfig
from firmware_app.store.outbox import Outbox, OutboxRow
from firmware_app.sync.acks import AckResult, Acks, AckVerdict
from firmware_app.sync.contract import (
    Topics,
    catalog_request_message,
    encode,
    status_message,
)
from firmware_app.sync.drain import Drain
from firmware_app.sync.errors import ContractError, LinkError, SyncError
from firmware_app.sync.housekeeping import (
    OUTBOX_ACK_AHEAD,
    OUTBOX_BACKLOG,
    OutboxHealth,
    OutboxHousekeeping,
)
from firmware_app.sync.mqtt_client import (
    ClientFactory,
    Connected,
    Disconnected,
    Inbound,
    LinkEvent,
    MqttLink,
    Published,
    Subscribed,
    Will,
    paho_client,
)
from firmware_app.sync.states import (
    BROKER,
    NOT_AUTHORIZED,
    OFFLINE,
    ONLINE,
    OUTBOX,
    REFUSED,
    StateListener,
    SyncStates,
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
ACK_WRITE_S = 0.5  # acks received are written to the outbox at least this often
ACK_WRITE_TRIES = 3  # then acks the database refuses are dropped, not tried forever
HOUSEKEEPING_S = 60.0  # prune acknowledged rows this often (and at start)
OUTBOX_CHECK_S = 5.0  # look at the backlog's age this often


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
    acks: int = 0  # valid store.ack messages, counted once written to the outbox
    rejected_acks: int = 0  # not a store.ack/1 (bad JSON, schema, bounds)
    acks_ahead: int = 0  # beyond every seq the lane has assigned: refused
    acks_capped: int = 0  # beyond what this run published: applied up to that
    downlink: int = 0


class SyncService:
    """Streams the outbox to the store server and dispatches downlink messages.

    ``status()`` is called on the sync thread and returns ``version``,
    ``catalog_version`` and ``devices`` (a mapping or a dataclass with those
    fields); ``on_downlink(topic, payload)`` is called on the sync thread for
    every downlink message except acks, and its errors are logged, not raised.
    ``wake()``, ``status_changed()``, ``request_catalog()`` and ``close()`` may
    be called from any thread.

    ``on_state(name, state, detail)`` is called on the sync thread when the
    broker's or the outbox's state word changes (see ``states``).

    ``clock`` gives the aware wall time of ``at`` fields, acknowledgements,
    pruning and the backlog's age, ``monotonic`` the time of timeouts and
    backoff (seconds), ``rng`` the jitter; ``status_interval_s`` is the least
    time between two status messages, ``max_unacked`` how many rows may be out
    without an ack, and ``housekeeping_s`` how often old acknowledged rows are
    pruned (the backlog's age is looked at every ``OUTBOX_CHECK_S``, or as
    often as that when it is shorter).

    Hard bounds: at most ``max_unacked`` rows published and not acked, and at
    most ``max_inflight`` of them awaiting PUBACK (the status and catalog
    requests come on top, a few at most). While a backlog drains, it may use
    all but a tenth of each (``window.live_reserve``, ``drain.live_inflight``),
    and live rows that tenth.
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
        on_state: StateListener | None = None,
        housekeeping_s: float = HOUSEKEEPING_S,
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
        self._drainer = Drain(outbox, self._window, max_inflight=config.max_inflight)
        self._acks = Acks(outbox, self._window)
        self._acks_unwritten = 0  # valid ack messages handled since the last write
        self._acks_written = 0.0
        self._ack_write_failures = 0
        self._ack_ahead: str | None = None  # why the last refused ack was refused
        self._states = SyncStates(on_state)
        self._refused: set[int] = set()  # seqs whose last PUBACK was a refusal
        self._refusal_logged = False  # a refused status or request, this connection
        self._housekeeping = OutboxHousekeeping(
            outbox,
            retention=timedelta(hours=config.acked_retention_h),
            backlog_after=timedelta(minutes=config.backlog_warning_min),
            clock=clock,
        )
        self._housekeeping_s = housekeeping_s
        self._next_housekeeping = 0.0
        self._outbox_check_s = min(OUTBOX_CHECK_S, housekeeping_s)
        self._next_outbox_check = 0.0
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
                if event is not None:
                    try:
                        self._handle(event)
                    except Exception:  # one event's failure is that event's only
                        log.exception("sync: unexpected error handling %s", type(event).__name__)
                self._tick()
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
        times = [self._next_housekeeping, self._next_outbox_check]
        if self._acks_unwritten:
            times.append(self._acks_written + ACK_WRITE_S)
        if self._link is None:
            times.append(self._next_attempt)
        elif not self._connected:
            times.append(self._connack_deadline)
        else:
            times.append(self._last_poll + POLL_S)
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
            self._want_drain = self._status_dirty = self._drainer.live_due = True
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
        elif isinstance(event, Inbound):
            self._on_message(event)

    def _tick(self) -> None:
        """One pass: each step runs whatever the one before raised (the thread must
        outlive a busy database or a paho quirk), then a failure pauses the passes."""
        now = self._mono()
        if now < self._paused_until:
            return
        failed = False
        for step in (self._write_acks, self._keep_house, self._link_tick):
            try:
                step(now)
            except Exception:
                failed = True
                log.exception("sync: unexpected error; trying again in %.0f s", ERROR_PAUSE_S)
        if failed:
            self._paused_until = self._mono() + ERROR_PAUSE_S

    def _link_tick(self, now: float) -> None:
        if self._link is None:
            if now >= self._next_attempt:
                self._connect()
            return
        if not self._connected:
            if now >= self._connack_deadline:
                log.info("no answer from broker %s; trying again", self._where)
                self._drop_link("no answer to CONNECT")
            return
        self._connected_tick(now)

    def _connected_tick(self, now: float) -> None:
        oldest = self._drainer.expire(now)
        if oldest is not None:
            log.info(
                "no ack within %.0f s: publishing again from seq %d",
                self.config.ack_timeout_s,
                oldest,
            )
            self._want_drain = True
        if now - self._last_poll >= POLL_S:
            self._last_poll = now
            self._want_drain = self._drainer.live_due = True
        if self._want_drain:
            self._drain(now)
        if self._connected and self._catalog_request is not None:
            self._send_catalog_request(self._catalog_request)
        due = now - self._status_sent >= self._status_interval_s
        if self._connected and self._status_dirty and due:
            self._send_status("online")

    # --- housekeeping -------------------------------------------------------------------

    def _keep_house(self, now: float) -> None:
        """Prune a batch when due (the next one at once while full batches go), and look
        at the backlog's age."""
        if now >= self._next_housekeeping:
            more = self._housekeeping.prune()
            self._next_housekeeping = now if more else now + self._housekeeping_s
        if now >= self._next_outbox_check:
            self._next_outbox_check = now + self._outbox_check_s
            self._check_outbox()

    def _check_outbox(self) -> None:
        health = self._housekeeping.health()
        if self._ack_ahead is not None:  # the reason a backlog may grow: say that first
            detail = f"{self._ack_ahead}; {health.detail}" if health.detail else self._ack_ahead
            health = OutboxHealth(OUTBOX_ACK_AHEAD, detail)
        if not self._states.set(OUTBOX, health.state, health.detail):
            return
        self._status_dirty = True
        if health.state == OUTBOX_ACK_AHEAD:
            pass  # logged as a warning when the ack came
        elif health.state == OUTBOX_BACKLOG:
            log.warning(
                "outbox: %s, over mqtt.backlog_warning_min (%g min): "
                "is the broker reachable and the store server acknowledging?",
                health.detail,
                self.config.backlog_warning_min,
            )
        else:
            log.info("outbox: %s (%s)", health.state, health.detail or "nothing waiting")

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
            self._states.set(BROKER, OFFLINE, str(e))
            self._schedule_retry()
            return
        self._link = link
        self._connected_at = connected_at
        self._connack_deadline = self._mono() + max(CONNACK_TIMEOUT_S, self.config.keepalive_s)

    def _on_connected(self, event: Connected) -> None:
        assert self._link is not None
        if not event.ok:
            self._on_refused(event)
            return
        # The database first: should it fail (busy), this connection is never taken as
        # up, and is dropped at its CONNACK deadline for a fresh one.
        self._write_acks(self._mono(), force=True)
        stats = self._outbox.stats()
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
        self._refused.clear()
        self._refusal_logged = False
        self._states.set(BROKER, ONLINE)
        try:
            self._link.subscribe(self.topics.downlink)
        except LinkError as e:
            log.info("subscribe failed, reconnecting: %s", e)
            self._drop_link(str(e))
            return
        # Rows committed from now on are live: they go out ahead of this backlog.
        self._drainer.restart(stats.acked_upto, stats.next_seq - 1)
        self._send_status("online")
        self._want_drain = True

    def _on_refused(self, event: Connected) -> None:
        if event.protocol_refused and self._mqtt5:
            log.info("broker %s does not speak MQTT 5: using 3.1.1", self._where)
            self._mqtt5 = False
        elif self._states.set(BROKER, REFUSED, event.reason):
            log.warning(
                "broker %s refused the connection: %s (mqtt.username, mqtt.password, "
                "the broker's password file); trying again",
                self._where,
                event.reason,
            )
        else:
            log.debug("broker %s refused the connection again: %s", self._where, event.reason)
        self._drop_link(None)

    def _on_disconnected(self, event: Disconnected) -> None:
        if self._connected:
            log.info("disconnected from broker %s: %s", self._where, event.reason)
        else:
            log.info("connection to broker %s failed: %s", self._where, event.reason)
        self._drop_link(event.reason)

    def _drop_link(self, why: str | None) -> None:
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
        base = min(
            self.config.reconnect_max_s, self.config.reconnect_min_s * 2 ** min(self._attempts, 30)
        )
        delay = base * self._rng.uniform(0.5, 1.0)
        self._attempts += 1
        self._next_attempt = self._mono() + delay
        log.debug("next connection attempt in %.1f s", delay)

    # --- uplink -------------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        """Publish what the windows allow: live rows first, then the backlog in seq order."""
        link = self._link
        assert link is not None
        self._want_drain = False

        def send(row: OutboxRow) -> bool:
            if self._publish(row.topic, row.payload, tag=row) is None:
                return False
            self.counters.published += 1
            if self._window.published(row.seq, now):
                self.counters.republished += 1
            return True

        self._drainer.run(lambda: link.in_flight, send)

    def _publish(
        self, topic: str, payload: bytes, *, retain: bool = False, tag: object = None
    ) -> int | None:
        """Publish on the current link; on failure drop the link (and return None)."""
        assert self._link is not None
        try:
            return self._link.publish(topic, payload, retain=retain, tag=tag)
        except LinkError as e:
            log.info("publish failed, reconnecting: %s", e)
            self._drop_link(str(e))
            return None

    def _on_published(self, event: Published) -> None:
        assert self._link is not None
        tag = self._link.settle(event.mid)
        self._want_drain = True  # an in-flight slot is free
        if isinstance(tag, OutboxRow):
            self._row_settled(tag, event.refused)
        elif event.refused and not self._refusal_logged:
            self._refusal_logged = True
            log.warning("broker %s refused the lane's status: %s", self._where, event.refused)

    def _row_settled(self, row: OutboxRow, refused: str) -> None:
        """The broker's PUBACK for an outbox row: taken, or refused (by its ACL)."""
        if not refused:
            if row.seq in self._refused:
                self._refused.discard(row.seq)
                self._authorized_again()
            return
        self._refused.add(row.seq)
        detail = f"{refused} on {row.topic}"
        if self._states.set(BROKER, NOT_AUTHORIZED, detail):
            self._status_dirty = True
            log.warning(
                "broker %s refused the lane's message seq %d: %s; it stays in the outbox "
                "and goes again (does the broker's ACL let %s publish there?)",
                self._where,
                row.seq,
                detail,
                self.config.username or self.client_id,
            )
        else:
            log.debug("broker refused seq %d: %s", row.seq, detail)

    def _authorized_again(self) -> None:
        if not self._refused and self._states.get(BROKER) == NOT_AUTHORIZED:
            log.info("broker %s takes the lane's messages again", self._where)
            self._states.set(BROKER, ONLINE)
            self._status_dirty = True

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
            # The broker's and the outbox's words as this thread knows them now: the
            # lane's copy comes through its event queue, a moment later.
            "devices": {**(fields.get("devices") or {}), **self._states.words()},
        }
        return self._fields

    def _status_message(
        self, state: str, *, at: datetime, connected_at: datetime
    ) -> dict[str, Any]:
        fields = self._status_fields()
        if state == "offline":  # the will, or the last word: the broker is gone by then
            fields = {**fields, "devices": {**fields["devices"], BROKER: OFFLINE}}
        return status_message(
            state, at=at, connected_at=connected_at, outbox=self._outbox.stats(), **fields
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

    def _on_message(self, event: Inbound) -> None:
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
        """Check an ack and apply it to the send window now; the outbox gets it in
        ``_write_acks``. A refused ack changes nothing (see ``acks``)."""
        try:
            result = self._acks.receive(payload)
        except ContractError as e:
            self.counters.rejected_acks += 1
            log.warning("ack ignored: %s", e)
            return
        if result.verdict is AckVerdict.AHEAD:
            self._refuse_ack(result)
            return
        self._acks_unwritten += 1
        if result.verdict is AckVerdict.CAPPED:
            self.counters.acks_capped += 1
            log.debug(
                "ack upto %d covers rows this run has not published: applied up to %d",
                result.upto,
                result.applied,
            )
        if result.moved:
            self._ack_moved()
        log.debug("ack upto %d: %s", result.upto, result.verdict.value)

    def _ack_moved(self) -> None:
        self._want_drain = True
        if self._refused:
            self._refused = {seq for seq in self._refused if seq > self._window.acked}
            self._authorized_again()
        if self._ack_ahead is not None:
            log.info("outbox: the store server's acks are true again")
            self._ack_ahead = None
            self._next_outbox_check = self._mono()  # the word goes back to ok or backlog

    def _refuse_ack(self, result: AckResult) -> None:
        self.counters.acks_ahead += 1
        why = (
            f"the store server acknowledged up to seq {result.upto}, beyond the last seq "
            f"this lane has assigned ({result.last_seq})"
        )
        if self._ack_ahead is None:
            log.warning(
                "ack refused, nothing marked: %s. Does the store server remember another "
                "database of this lane (a replaced SD card, a restore without --store-seq)? "
                "The messages stay in the outbox until it acknowledges what it really holds",
                why,
            )
            self._next_outbox_check = self._mono()  # say so in the status now
        else:
            log.debug("ack refused again: %s", why)
        self._ack_ahead = why

    def _write_acks(self, now: float, *, force: bool = False) -> None:
        """Mark acknowledged rows in the outbox: once the queue is empty (a burst of acks
        is one transaction), at least every ``ACK_WRITE_S``, and when ``force``d. Acks
        the database refuses are tried again, ``ACK_WRITE_TRIES`` times in all."""
        if not self._acks_unwritten:
            return
        if not force and not self._events.empty() and now < self._acks_written + ACK_WRITE_S:
            return
        self._acks_written = now
        try:
            newly = self._acks.write(self._clock())
        except Exception as e:
            self._ack_write_failed(e)
            return
        self._ack_write_failures = 0
        self.counters.acks += self._acks_unwritten
        self._acks_unwritten = 0
        if newly:
            self._status_dirty = True
            if self._states.get(OUTBOX) == OUTBOX_BACKLOG:
                self._next_outbox_check = now  # it may be over: look soon
        log.debug("acks written upto %d: %d rows newly acknowledged", self._acks.upto, newly)

    def _ack_write_failed(self, error: Exception) -> None:
        self._ack_write_failures += 1
        if self._ack_write_failures < ACK_WRITE_TRIES:
            log.warning(
                "acks not written to the outbox (try %d of %d): %s",
                self._ack_write_failures,
                ACK_WRITE_TRIES,
                error,
            )
            return
        dropped = self._acks.drop()
        self._acks_unwritten = 0
        self._ack_write_failures = 0
        log.error(
            "%d acks dropped after %d tries to write them: %s. The rows they cover stay "
            "unacknowledged in the outbox until a later ack covers them",
            dropped,
            ACK_WRITE_TRIES,
            error,
        )

    def _dispatch(self, event: Inbound) -> None:
        try:
            self._on_downlink(event.topic, event.payload)
        except Exception:
            log.exception("downlink message on %s failed", event.topic)

    # --- stopping -----------------------------------------------------------------------

    def _shutdown(self) -> None:
        try:
            self._write_acks(self._mono(), force=True)
        except Exception:
            log.exception("acks not written (the store server acks again on the resends)")
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
