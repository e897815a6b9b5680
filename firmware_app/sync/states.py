"""What the sync thread tells the lane about the broker and the outbox.

Two names, each with one state word at a time:

- ``broker``: ``online`` (connected), ``offline`` (not reachable, or the
  connection ended), ``refused`` (the broker answered CONNECT with a refusal,
  such as bad credentials), ``not_authorized`` (connected, but the broker
  refuses the lane's messages: MQTT 5 PUBACK reason 135, a mosquitto ACL deny);
- ``outbox``: ``ok`` or ``backlog`` (see ``housekeeping``), or ``ack_ahead``
  while the store server's acks go beyond every seq the lane has assigned
  (refused; see ``acks``).

``on_state(name, state, detail)`` hears each change once, on the sync thread;
its errors are logged, never raised into the sync thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

BROKER = "broker"
OUTBOX = "outbox"

ONLINE = "online"
OFFLINE = "offline"
REFUSED = "refused"
NOT_AUTHORIZED = "not_authorized"

StateListener = Callable[[str, str, str], None]  # (name, state, detail)


class SyncStates:
    """The last word for each name; ``set`` reports changes to the listener."""

    def __init__(self, on_state: StateListener | None = None) -> None:
        self._on_state = on_state
        self._words: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self._words.get(name)

    def words(self) -> dict[str, str]:
        """Every name's current word (for the retained status's ``devices``)."""
        return dict(self._words)

    def set(self, name: str, state: str, detail: str = "") -> bool:
        """Record ``state``; True (and the listener told) when it differs from the last."""
        if self._words.get(name) == state:
            return False
        self._words[name] = state
        if self._on_state is not None:
            try:
                self._on_state(name, state, detail)
            except Exception:
                log.exception("sync state listener failed on %s: %s", name, state)
        return True
