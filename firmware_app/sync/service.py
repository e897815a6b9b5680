"""The sync service: drains the outbox to the broker and hands downlink messages on.

One thread of its own (``sync-lane-…``) owns the connection, the send window
and every call into the outbox; paho's network thread and the lane loop only
put events on its queue. The outbox is the queue that matters: a row leaves it
only when the store server's ``store.ack/1`` covers its seq, whatever paho or
the broker said before (spec/mqtt-contract.md).

``SyncService`` is that thread and its event loop; each of its collaborators
does one job and keeps its own state:

- ``connection.Connection``: the link's lifecycle (attempts, the backoff with
  jitter, the CONNACK deadline, the MQTT 5 → 3.1.1 fallback, the broker's word);
- ``refusals.Refusals``: messages the broker's ACL refuses (``not_authorized``);
- ``status.LaneStatus``: the retained status, its will, and its rate limit;
- ``acks.AckBatcher``: acks checked (``acks.Acks``), applied to the send window
  as they come, and written to the outbox in bursts;
- ``drain.Drain`` over ``window.SendWindow``: when a pass is due and which rows go;
- ``housekeeping.Housekeeper``: pruning and the outbox's word.

Timeline of one connection: CONNECT (persistent session, will = retained
``offline`` status) → CONNACK → subscribe to ack/catalog/cmd, publish retained
``online`` status, publish unacked rows (at most ``max_inflight`` awaiting
PUBACK, at most ``max_unacked`` awaiting the store server's ack) → acks mark
rows → on close, retained ``offline`` and a clean DISCONNECT.

Fairness: the rows waiting when a connection opens (the *backlog*, maybe a
day's worth) go out in seq order, and rows committed since (*live* sales) go
out ahead of what is left of it, within a reserve of both windows (see
``window.SendWindow``): a sale made while 50,000 old messages drain is
published at once, not after them. A resend after an ack time-out or a
reconnect is in seq order.

No message and no step stops the thread: each step of a pass (acks, housekeeping,
the link) runs whatever another one raised, and an unexpected error pauses the
passes ``ERROR_PAUSE_S``.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware_app.config import MqttConfig
from firmware_app.store.outbox import Outbox, OutboxRow
from firmware_app.sync.acks import AckBatcher, Acks
from firmware_app.sync.connection import Connection
from firmware_app.sync.contract import Topics, catalog_request_message, encode
from firmware_app.sync.counters import SyncCounters
from firmware_app.sync.drain import POLL_S, Drain
from firmware_app.sync.errors import SyncError
from firmware_app.sync.housekeeping import Housekeeper, OutboxHousekeeping
from firmware_app.sync.members import masked, member_request_message
from firmware_app.sync.mqtt_client import (
    ClientFactory,
    Connected,
    Disconnected,
    Inbound,
    LinkEvent,
    MqttLink,
    Published,
    Subscribed,
    paho_client,
)
from firmware_app.sync.refusals import Refusals
from firmware_app.sync.states import StateListener, SyncStates
from firmware_app.sync.status import LaneStatus, StatusSource
from firmware_app.sync.window import SendWindow

log = logging.getLogger(__name__)

Downlink = Callable[[str, bytes], None]

CLOSE_TIMEOUT_S = 2.0  # how long close() waits for the broker to take the offline status
JOIN_TIMEOUT_S = 15.0
EVENTS_PER_PASS = 100  # queued events handled before a pass (PUBACKs come in bursts)
ERROR_PAUSE_S = 1.0  # after an unexpected error (database busy…), before trying again
MAX_UNACKED = 1000  # rows published and not acked; also what a timed-out resend repeats
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


@dataclass(frozen=True)
class _MemberRequest:  # members: a live question, never queued in the outbox
    request_id: str
    member: str


_Command = _Wake | _StatusChanged | _CatalogRequest | _Stop | _MemberRequest


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
        self._on_downlink = on_downlink
        self._clock = clock
        self._mono = monotonic
        self._events: queue.Queue[LinkEvent | _Command] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Everything below belongs to the sync thread.
        states = SyncStates(on_state)
        self._status = LaneStatus(
            status,
            topic=self.topics.status,
            outbox=outbox,
            states=states,
            clock=clock,
            monotonic=monotonic,
            interval_s=status_interval_s,
        )
        self._connection = Connection(
            config,
            client_id=self.client_id,
            subscriptions=self.topics.downlink,
            will=self._status.will,
            post=self._events.put,
            states=states,
            clock=clock,
            monotonic=monotonic,
            rng=rng or random.Random(),
            client_factory=client_factory,
        )
        self._refusals = Refusals(
            states, where=self._connection.where, login=config.username or self.client_id
        )
        self._window = SendWindow(ack_timeout_s=config.ack_timeout_s, max_unacked=max_unacked)
        self._drainer = Drain(outbox, self._window, max_inflight=config.max_inflight)
        self._acks = AckBatcher(Acks(outbox, self._window), counters=self.counters, clock=clock)
        self._housekeeper = Housekeeper(
            OutboxHousekeeping(
                outbox,
                retention=timedelta(hours=config.acked_retention_h),
                backlog_after=timedelta(minutes=config.backlog_warning_min),
                clock=clock,
            ),
            states,
            prune_every_s=housekeeping_s,
            check_every_s=min(OUTBOX_CHECK_S, housekeeping_s),
        )
        self._catalog_request: _CatalogRequest | None = None
        self._paused_until = 0.0

    # --- any thread ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the current connection."""
        return self._connection.connected

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

    def ask_member(self, request_id: str, member: str) -> None:
        """Ask the store server about ``member`` now, if the broker is there (members:
        no answer in time leaves the member unverified, so nothing is kept to resend)."""
        self._events.put(_MemberRequest(request_id, member))

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

    # --- the sync thread: the loop ------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                event = self._next_event()
                handled = 0
                # What has queued up meanwhile (a burst of PUBACKs) is handled before
                # one pass, not a pass per event.
                while event is not None and not isinstance(event, _Stop):
                    try:
                        self._handle(event)
                    except Exception:  # one event's failure is that event's only
                        log.exception("sync: unexpected error handling %s", type(event).__name__)
                    handled += 1
                    event = self._queued() if handled < EVENTS_PER_PASS else None
                if isinstance(event, _Stop):
                    break
                self._tick()
        except Exception:
            log.exception("sync thread failed")
        finally:
            self._shutdown()
            self._outbox.db.close()  # this thread's connection only (peewee keeps one per thread)

    def _next_event(self) -> LinkEvent | _Command | None:
        timeout = max(0.0, min(self._deadline(), self._mono() + POLL_S) - self._mono())
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def _queued(self) -> LinkEvent | _Command | None:
        """The next event if one is waiting, else None (never waits)."""
        try:
            return self._events.get_nowait()
        except queue.Empty:
            return None

    def _deadline(self) -> float:
        """When the next pass has something to do (monotonic seconds)."""
        if self._paused_until > self._mono():
            return self._paused_until
        times = [
            self._housekeeper.deadline(),
            self._acks.deadline(),
            self._connection.deadline(),
        ]
        if self._connection.connected:
            times += [self._drainer.deadline(), self._status.deadline()]
        return min(t for t in times if t is not None)

    def _handle(
        self, event: LinkEvent | _Wake | _StatusChanged | _CatalogRequest | _MemberRequest
    ) -> None:
        if isinstance(event, _MemberRequest):
            self._send_member_request(event)
        elif isinstance(event, _Wake):
            self._drainer.woken()
            self._status.changed()
        elif isinstance(event, _StatusChanged):
            self._status.changed()
        elif isinstance(event, _CatalogRequest):
            self._catalog_request = event
        elif not self._connection.current(event):
            return  # left over from a connection that has ended
        elif isinstance(event, Connected):
            self._on_connected(event)
        elif isinstance(event, Disconnected):
            self._connection.lost(event)
        elif isinstance(event, Published):
            self._on_published(event)
        elif isinstance(event, Subscribed) and event.refused:
            log.warning("broker refused a subscription: %s", ", ".join(event.refused))
        elif isinstance(event, Inbound):
            self._on_inbound(event)

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

    def _write_acks(self, now: float, *, force: bool = False) -> None:
        """Acks received go to the outbox in one transaction per burst (see ``AckBatcher``)."""
        if self._acks.write(now, busy=not self._events.empty(), force=force):
            self._status.changed()
            self._housekeeper.rows_acknowledged()

    def _keep_house(self, now: float) -> None:
        if self._housekeeper.tick(now, ack_ahead=self._acks.ahead):
            self._status.changed()

    def _link_tick(self, now: float) -> None:
        if not self._connection.connected:
            self._connection.tick(now)
            return
        if self._drainer.due(now):
            self._drain(now)
        if self._connection.connected and self._catalog_request is not None:
            self._send_catalog_request(self._catalog_request)
        if self._connection.connected and self._status.due(now):
            self._send_status("online")

    # --- the link's events --------------------------------------------------------------

    def _on_connected(self, event: Connected) -> None:
        if not event.ok:
            self._connection.refused(event)
            return
        # The database first: should it fail (busy), this connection is never taken as
        # up, and is dropped at its CONNACK deadline for a fresh one.
        self._write_acks(self._mono(), force=True)
        stats = self._outbox.stats()
        self.counters.connects += 1
        self._refusals.reset()
        if not self._connection.accepted(event):
            return
        # Rows committed from now on are live: they go out ahead of this backlog.
        self._drainer.restart(stats.acked_upto, stats.next_seq - 1)
        self._send_status("online")
        self._drainer.wanted = True

    def _on_published(self, event: Published) -> None:
        tag = self._connection.settle(event.mid)
        self._drainer.wanted = True  # an in-flight slot is free
        if self._refusals.settled(tag, event.refused):
            self._status.changed()

    def _on_inbound(self, event: Inbound) -> None:
        link = self._connection.link
        assert link is not None
        try:
            if event.topic == self.topics.ack:
                self._on_ack(event.payload)
            else:
                self.counters.downlink += 1
                self._dispatch(event)
        finally:
            link.ack(event)  # handled (or rejected for good): the broker may forget it

    def _on_ack(self, payload: bytes) -> None:
        received = self._acks.receive(payload)
        if received.trust_changed:
            self._housekeeper.look_now()  # the outbox's word says so now
        if received.moved:
            self._drainer.wanted = True
            if self._refusals.acked(self._window.acked):
                self._status.changed()

    def _dispatch(self, event: Inbound) -> None:
        try:
            self._on_downlink(event.topic, event.payload)
        except Exception:
            log.exception("downlink message on %s failed", event.topic)

    # --- uplink -------------------------------------------------------------------------

    def _drain(self, now: float) -> None:
        """Publish what the windows allow: live rows first, then the backlog in seq order."""
        link = self._connection.link
        assert link is not None

        def send(row: OutboxRow) -> bool:
            if self._connection.publish(row.topic, row.payload, tag=row) is None:
                return False
            self.counters.published += 1
            if self._window.published(row.seq, now):
                self.counters.republished += 1
            return True

        self._drainer.run(lambda: link.in_flight, send)

    def _send_status(self, state: str) -> int | None:
        return self._status.send(
            state, connected_at=self._connection.connected_at, publish=self._connection.publish
        )

    def _send_catalog_request(self, request: _CatalogRequest) -> None:
        message = catalog_request_message(
            request.have, at=self._clock(), store=self.topics.store, lane=self.topics.lane
        )
        if self._connection.publish(self.topics.catalog_request, encode(message)) is not None:
            self._catalog_request = None

    def _send_member_request(self, request: _MemberRequest) -> None:
        """Members: publish the question, or drop it when there is no broker."""
        if not self._connection.connected:
            log.info("member %s not asked (no broker): it stays unverified", masked(request.member))
            return
        message = member_request_message(
            request.member,
            request.request_id,
            at=self._clock(),
            store=self.topics.store,
            lane=self.topics.lane,
        )
        self._connection.publish(self.topics.member_request, encode(message))

    # --- stopping -----------------------------------------------------------------------

    def _shutdown(self) -> None:
        try:
            self._write_acks(self._mono(), force=True)
        except Exception:
            log.exception("acks not written (the store server acks again on the resends)")
        link = self._connection.link
        if link is None:
            return
        if self._connection.connected:
            try:
                mid = self._send_status("offline")
                if mid is not None:
                    self._await_puback(link, mid)
            except Exception:
                log.exception("offline status not sent")
        self._connection.close()

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
