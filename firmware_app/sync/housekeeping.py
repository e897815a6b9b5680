"""Outbox housekeeping on the sync thread: old acknowledged rows go, a backlog is told.

Acknowledged rows stay ``mqtt.acked_retention_h`` (the store server has them; a
technician may still want to look), then are deleted in batches of
``PRUNE_BATCH`` rows, one short transaction each, so that the lane loop's next
sale never waits long for the database. Unacknowledged rows are never deleted.

The outbox has a *backlog* when its oldest unacknowledged row is older than
``mqtt.backlog_warning_min``: the broker has been out of reach, or the store
server down or refusing, for that long. Nothing is lost (the outbox keeps every
row until it is acknowledged), but someone should look.

``Housekeeper`` says when, on the sync thread: a prune at start and every
``prune_every_s`` (the next batch at once while full batches go), a look at the
backlog's age every ``check_every_s``, and the outbox's state word that follows
(``ok``, ``backlog``, or ``ack_ahead`` while the store server's acks are refused:
the reason a backlog may grow, said first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware_app.store.outbox import Outbox
from firmware_app.sync.states import OUTBOX, SyncStates

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000  # rows per transaction: a few milliseconds of the write lock

OUTBOX_OK = "ok"
OUTBOX_BACKLOG = "backlog"
OUTBOX_ACK_AHEAD = "ack_ahead"  # set by the sync service: the store server acks too far


@dataclass(frozen=True)
class OutboxHealth:
    """The outbox's state word (``ok``, ``backlog``; the sync service adds
    ``ack_ahead``) and what a technician reads."""

    state: str
    detail: str = ""


class OutboxHousekeeping:
    """Prunes and watches one outbox; ``clock`` gives the aware wall time."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        retention: timedelta,
        backlog_after: timedelta,
        clock: Callable[[], datetime],
        batch: int = PRUNE_BATCH,
    ) -> None:
        self.outbox = outbox
        self.retention = retention
        self.backlog_after = backlog_after
        self.batch = batch
        self._clock = clock
        self._pruned = 0  # rows deleted in the current run of full batches
        self._bad_time: str | None = None  # logged once, not at every check

    def prune(self) -> bool:
        """Delete one batch of old acknowledged rows; True when more may be waiting."""
        deleted = self.outbox.prune(self._clock() - self.retention, batch=self.batch)
        self._pruned += deleted
        if deleted >= self.batch:
            return True
        if self._pruned:
            hours = self.retention / timedelta(hours=1)
            log.info(
                "outbox: deleted %d acknowledged messages older than %g h", self._pruned, hours
            )
        self._pruned = 0
        return False

    def health(self) -> OutboxHealth:
        """``backlog`` when the oldest unacknowledged row is older than ``backlog_after``."""
        stats = self.outbox.stats()
        if stats.oldest_at is None:
            return OutboxHealth(OUTBOX_OK)
        try:
            age = self._clock() - datetime.fromisoformat(stats.oldest_at)
        except (TypeError, ValueError) as e:
            # A row with a bad time cannot say how old it is: nothing changes.
            if stats.oldest_at != self._bad_time:
                self._bad_time = stats.oldest_at
                log.warning("outbox: created_at of the oldest message: %r: %s", stats.oldest_at, e)
            return OutboxHealth(OUTBOX_OK, f"{stats.pending} waiting")
        waiting = f"{stats.pending} message{'s' if stats.pending != 1 else ''} waiting"
        if age > self.backlog_after:
            return OutboxHealth(OUTBOX_BACKLOG, f"{waiting} since {stats.oldest_at}")
        return OutboxHealth(OUTBOX_OK, waiting)


class Housekeeper:
    """When to prune and when to look at the backlog, and the outbox word that follows.

    Times are monotonic seconds, as ``now`` passes them; nothing is due before the
    first ``tick``, and everything is due at it.
    """

    def __init__(
        self,
        keeping: OutboxHousekeeping,
        states: SyncStates,
        *,
        prune_every_s: float,
        check_every_s: float,
    ) -> None:
        self.keeping = keeping
        self.prune_every_s = prune_every_s
        self.check_every_s = check_every_s
        self._states = states
        self._next_prune = 0.0
        self._next_check = 0.0

    def deadline(self) -> float:
        """When ``tick`` has something to do next."""
        return min(self._next_prune, self._next_check)

    def look_now(self) -> None:
        """Look at the outbox at the next tick (what it says may have changed)."""
        self._next_check = float("-inf")

    def rows_acknowledged(self) -> None:
        """Rows were newly acknowledged: a backlog may be over, look at the next tick."""
        if self._states.get(OUTBOX) == OUTBOX_BACKLOG:
            self.look_now()

    def tick(self, now: float, *, ack_ahead: str | None) -> bool:
        """Prune a batch and look at the outbox when due; True when the outbox's word
        changed. ``ack_ahead``: why the store server's acks are refused (None: they
        are not)."""
        if now >= self._next_prune:
            more = self.keeping.prune()
            self._next_prune = now if more else now + self.prune_every_s
        if now < self._next_check:
            return False
        self._next_check = now + self.check_every_s
        return self._check(ack_ahead)

    def _check(self, ack_ahead: str | None) -> bool:
        health = self.keeping.health()
        if ack_ahead is not None:  # the reason a backlog may grow: say that first
            detail = f"{ack_ahead}; {health.detail}" if health.detail else ack_ahead
            health = OutboxHealth(OUTBOX_ACK_AHEAD, detail)
        if not self._states.set(OUTBOX, health.state, health.detail):
            return False
        if health.state == OUTBOX_ACK_AHEAD:
            pass  # logged as a warning when the ack came
        elif health.state == OUTBOX_BACKLOG:
            log.warning(
                "outbox: %s, over mqtt.backlog_warning_min (%g min): "
                "is the broker reachable and the store server acknowledging?",
                health.detail,
                self.keeping.backlog_after / timedelta(minutes=1),
            )
        else:
            log.info("outbox: %s (%s)", health.state, health.detail or "nothing waiting")
        return True
