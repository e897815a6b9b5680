"""Which outbox rows go out next: the send window, keyed by seq and never by mid.

A row is *published* when it has been handed to the broker on the current
connection and *acked* when the store server's ``ack`` covers its seq; a
broker's PUBACK only frees an in-flight slot. Rows published but not acked
after ``ack_timeout_s`` are published again from the oldest one, in seq order;
a new connection starts again from the acked mark, because paho forgets
everything it had in flight when a connection ends.
"""

from __future__ import annotations


class SendWindow:
    """The sync thread's view of what is out there; times are monotonic seconds."""

    def __init__(self, *, ack_timeout_s: float, max_unacked: int) -> None:
        self.ack_timeout_s = ack_timeout_s
        self.max_unacked = max_unacked  # published, not yet acked: bounds what a resend repeats
        self.acked = 0  # every seq up to here is acknowledged
        self.cursor = 0  # the last seq published in the current pass
        self.highest = 0  # the last seq ever published (to count publications again)
        self._sent_at: dict[int, float] = {}  # seq -> when published, in seq order

    def restart(self, acked: int) -> None:
        """A new connection, or the service starting: send everything unacked again."""
        self.acked = max(self.acked, acked)
        self.cursor = self.acked
        self._sent_at.clear()

    @property
    def unacked(self) -> int:
        """Rows published in this pass and not acked yet."""
        return len(self._sent_at)

    def room(self) -> int:
        """How many more rows may be published before an ack arrives."""
        return max(0, self.max_unacked - len(self._sent_at))

    def published(self, seq: int, now: float) -> bool:
        """Record a publication; True when this seq had been published before."""
        again = seq <= self.highest
        self.cursor = max(self.cursor, seq)
        self.highest = max(self.highest, seq)
        self._sent_at.pop(seq, None)  # keep the dict in publication order
        self._sent_at[seq] = now
        return again

    def ack(self, upto: int) -> bool:
        """The store server has every seq ≤ ``upto``; True when that moved the mark."""
        if upto <= self.acked:
            return False
        self.acked = upto
        self.cursor = max(self.cursor, upto)
        for seq in [s for s in self._sent_at if s <= upto]:
            del self._sent_at[seq]
        return True

    def deadline(self) -> float | None:
        """When the oldest unacked publication times out (None: nothing waits)."""
        for sent in self._sent_at.values():
            return sent + self.ack_timeout_s
        return None

    def expire(self, now: float) -> int | None:
        """On time-out, rewind to publish again from the oldest unacked seq, which is returned."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        oldest = min(self._sent_at)
        self.cursor = oldest - 1
        self._sent_at.clear()
        return oldest
