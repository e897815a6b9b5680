"""Outbox housekeeping on the sync thread: old acknowledged rows go, a backlog is told.

Acknowledged rows stay ``mqtt.acked_retention_h`` (the store server has them; a
technician may still want to look), then are deleted in batches of
``PRUNE_BATCH`` rows, one short transaction each, so that the lane loop's next
sale never waits long for the database. Unacknowledged rows are never deleted.

The outbox has a *backlog* when its oldest unacknowledged row is older than
``mqtt.backlog_warning_min``: the broker has been out of reach, or the store
server down or refusing, for that long. Nothing is lost (the outbox keeps every
row until it is acknowledged), but someone should look.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware_app.store.outbox import Outbox

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
