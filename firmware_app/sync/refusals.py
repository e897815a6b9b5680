"""What the broker refuses once connected: the lane's messages, by its ACL.

One job: turn the broker's PUBACK refusals (MQTT 5 reason codes, such as 135 "not
authorized" from a mosquitto ACL deny) into the broker's ``not_authorized`` word
and one warning, and back into ``online`` when the refused rows get through.

- An outbox row refused stays in the outbox and goes again (on the ack time-out or
  the next connection); the broker is ``not_authorized`` while any refused row has
  been neither taken on a later try nor acknowledged by the store server. The
  warning names the topic and the login, once per change of word.
- A refused status or catalog request is only logged: once per connection, as it
  would otherwise be every status change.

Used by the sync thread only.
"""

from __future__ import annotations

import logging

from firmware_app.store.outbox import OutboxRow
from firmware_app.sync.states import BROKER, NOT_AUTHORIZED, ONLINE, SyncStates

log = logging.getLogger(__name__)


class Refusals:
    """The seqs whose last PUBACK was a refusal, and the broker word they make.

    ``where`` names the broker and ``login`` the lane's user name, for the log.
    Each method returns True when the broker's word changed, so that the retained
    status says so.
    """

    def __init__(self, states: SyncStates, *, where: str, login: str) -> None:
        self.where = where
        self.login = login
        self._states = states
        self._refused: set[int] = set()  # seqs whose last PUBACK was a refusal
        self._other_logged = False  # a refused status or request, this connection

    @property
    def refused(self) -> frozenset[int]:
        """The seqs refused and not taken or acknowledged since."""
        return frozenset(self._refused)

    def reset(self) -> None:
        """A new connection: nothing refused on it yet (rows refused before go again)."""
        self._refused.clear()
        self._other_logged = False

    def settled(self, tag: object, refused: str) -> bool:
        """The broker's PUBACK for what was published with ``tag`` (an outbox row, or
        None for the status and catalog requests); ``refused`` is its reason, or ""."""
        if isinstance(tag, OutboxRow):
            return self._row_settled(tag, refused)
        if refused and not self._other_logged:
            self._other_logged = True
            log.warning("broker %s refused the lane's status: %s", self.where, refused)
        return False

    def _row_settled(self, row: OutboxRow, refused: str) -> bool:
        if not refused:
            if row.seq not in self._refused:
                return False
            self._refused.discard(row.seq)
            return self._authorized_again()
        self._refused.add(row.seq)
        detail = f"{refused} on {row.topic}"
        if not self._states.set(BROKER, NOT_AUTHORIZED, detail):
            log.debug("broker refused seq %d: %s", row.seq, detail)
            return False
        log.warning(
            "broker %s refused the lane's message seq %d: %s; it stays in the outbox "
            "and goes again (does the broker's ACL let %s publish there?)",
            self.where,
            row.seq,
            detail,
            self.login,
        )
        return True

    def acked(self, upto: int) -> bool:
        """The store server has every seq ≤ ``upto``: those are no longer refused."""
        if not self._refused:
            return False
        self._refused = {seq for seq in self._refused if seq > upto}
        return self._authorized_again()

    def _authorized_again(self) -> bool:
        if self._refused or self._states.get(BROKER) != NOT_AUTHORIZED:
            return False
        log.info("broker %s takes the lane's messages again", self.where)
        self._states.set(BROKER, ONLINE)
        return True
