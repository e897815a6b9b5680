"""The lane's retained status on the broker (``lane.status/1``): what it says, and how often.

One job: build the status from the lane's own fields (``version``,
``catalog_version``, ``devices``), the sync thread's state words and the outbox's
counts, and send it no more often than once every ``interval_s``, however many
changes come in between (each change only marks it due; the next send carries
them all).

- ``online`` goes on every accepted connection and after changes;
- the will is the ``offline`` status of the connection it is registered with,
  dated by that connection (see ``contract.status_message``);
- ``offline`` is also the last word of a clean close.

In ``offline`` the broker's word is ``offline`` whatever the sync thread knew: the
broker is gone by the time anyone reads it. When the lane's status source fails,
the last fields it gave are sent (and the failure logged).

Used by the sync thread only; ``monotonic`` gives the time of the rate limit
(seconds), ``clock`` the aware wall time of ``at``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import encode, status_message
from firmware_app.sync.mqtt_client import Will
from firmware_app.sync.states import BROKER, OFFLINE, SyncStates

log = logging.getLogger(__name__)

StatusSource = Callable[[], Any]  # -> mapping (or dataclass) of version, catalog_version, devices


class Publish(Protocol):
    """Publishes on the current link; the mid, or None when the link failed."""

    def __call__(self, topic: str, payload: bytes, *, retain: bool = ...) -> int | None: ...


class LaneStatus:
    """The lane's status: its last known fields, whether a send is due, and when the last went.

    ``source()`` returns ``version``, ``catalog_version`` and ``devices`` (a mapping
    or a dataclass with those fields); ``states`` adds the broker's and the
    outbox's words to ``devices``.
    """

    def __init__(
        self,
        source: StatusSource,
        *,
        topic: str,
        outbox: Outbox,
        states: SyncStates,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        interval_s: float,
    ) -> None:
        self.topic = topic
        self.interval_s = interval_s
        self._source = source
        self._outbox = outbox
        self._states = states
        self._clock = clock
        self._mono = monotonic
        self._dirty = False  # something changed since the last send
        self._sent = float("-inf")  # monotonic time of the last send
        self._fields: dict[str, Any] = {
            "version": "unknown",
            "catalog_version": None,
            "devices": {},
        }

    # --- when -----------------------------------------------------------------------------

    def changed(self) -> None:
        """Something the status shows changed: send it when the rate limit allows."""
        self._dirty = True

    def deadline(self) -> float | None:
        """When the next send may go (None: nothing changed since the last)."""
        return self._sent + self.interval_s if self._dirty else None

    def due(self, now: float) -> bool:
        """True when something changed and the last send is ``interval_s`` old."""
        return self._dirty and now - self._sent >= self.interval_s

    # --- what -----------------------------------------------------------------------------

    def will(self, at: datetime) -> Will:
        """The will of a connection opened at ``at``: its ``offline`` status, dated ``at``."""
        return Will(self.topic, encode(self.message(OFFLINE, at=at, connected_at=at)))

    def send(self, state: str, *, connected_at: datetime, publish: Publish) -> int | None:
        """Publish the retained status now, whatever the rate limit; the mid, or None
        when the link failed. Either way it is no longer due."""
        message = self.message(state, at=self._clock(), connected_at=connected_at)
        mid = publish(self.topic, encode(message), retain=True)
        self._dirty = False
        self._sent = self._mono()
        return mid

    def message(self, state: str, *, at: datetime, connected_at: datetime) -> dict[str, Any]:
        """The ``lane.status/1`` message of ``state`` (``online`` or ``offline``)."""
        fields = self._fields_now()
        if state == OFFLINE:  # the will, or the last word: the broker is gone by then
            fields = {**fields, "devices": {**fields["devices"], BROKER: OFFLINE}}
        return status_message(
            state, at=at, connected_at=connected_at, outbox=self._outbox.stats(), **fields
        )

    def _fields_now(self) -> dict[str, Any]:
        try:
            raw = self._source()
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
