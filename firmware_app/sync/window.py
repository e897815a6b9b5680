"""Which outbox rows go out next: the send window, keyed by seq and never by mid.

A row is *published* when it has been handed to the broker on the current
connection and *acked* when the store server's ``ack`` covers its seq; a
broker's PUBACK only frees an in-flight slot.

Each pass (a new connection, or a resend after a time-out) splits the outbox in
two streams at ``backlog_end``, the last seq committed when the pass began:

- the **backlog** (seq ≤ ``backlog_end``) goes out in seq order behind ``cursor``;
- **live** rows (seq > ``backlog_end``: sales committed during the pass) go out
  behind ``live_cursor``, ahead of whatever backlog is left, so that a sale made
  while a day's backlog drains is not queued behind 50,000 older messages.

Bounds, whatever happens: at most ``max_unacked`` rows published and not acked;
while a backlog drains, live rows hold at most ``live_reserve`` of them and the
backlog the rest, so neither stream can starve the other. Once the backlog is
out, live rows may use the whole window.

A live row reaches the store server before the backlog below it; the store
server stores it and acknowledges it once the gap below has closed (its ack is
the highest seq with no gap below). The ack time-out therefore runs for the
*lowest* seq not acked, from its publication: when it passes, the window
rewinds and everything not acked is published again in seq order, live rows
included. A new connection starts again from the acked mark, because paho
forgets everything it had in flight when a connection ends.
"""

from __future__ import annotations


def live_reserve(max_unacked: int) -> int:
    """Slots kept for live rows while a backlog drains: a tenth, never the whole window."""
    return min(max(1, max_unacked // 10), max_unacked - 1) if max_unacked > 1 else 0


class SendWindow:
    """The sync thread's view of what is out there; times are monotonic seconds."""

    def __init__(self, *, ack_timeout_s: float, max_unacked: int) -> None:
        self.ack_timeout_s = ack_timeout_s
        self.max_unacked = max_unacked  # published, not yet acked: bounds what a resend repeats
        self.live_reserve = live_reserve(max_unacked)
        self.acked = 0  # every seq up to here is acknowledged
        self.backlog_end = 0  # the last seq committed when this pass began
        self.cursor = 0  # the last backlog seq published (or acked) in this pass
        self.live_cursor = 0  # the last live seq published (or acked) in this pass
        self.highest = 0  # the last seq ever published
        self._start = 0  # the backlog of this pass begins after this seq
        # Seqs published in earlier passes, as (low, high] intervals: what counts as a
        # publication again. Each pass publishes two runs without holes (the backlog
        # from its start, the live rows from backlog_end), so this stays a short list.
        self._before: list[tuple[int, int]] = []
        # seq -> when published, per stream; each stream publishes in seq order, so
        # these dicts are in seq order and their first entry is the lowest.
        self._backlog: dict[int, float] = {}
        self._live: dict[int, float] = {}

    def restart(self, acked: int, last_seq: int | None = None) -> None:
        """A new connection, or the service starting: send everything unacked again.

        ``last_seq`` is the last seq committed now (the outbox's next seq − 1): rows
        after it are live. Without it, every seq published so far is backlog.
        """
        self.acked = max(self.acked, acked)
        if last_seq is None:
            last_seq = max(self.highest, self.live_cursor)
        self._begin_pass(self.acked, max(self.acked, last_seq))

    def _begin_pass(self, cursor: int, backlog_end: int) -> None:
        self._remember(self._start, self.cursor)
        self._remember(self.backlog_end, self.live_cursor)
        self._start = self.cursor = cursor
        self.backlog_end = backlog_end
        self.live_cursor = backlog_end
        self._backlog.clear()
        self._live.clear()

    def _remember(self, low: int, high: int) -> None:
        """Add the run (low, high] to what was published before; forget what is acked."""
        runs = sorted([*self._before, (low, high)])
        merged: list[tuple[int, int]] = []
        for lo, hi in runs:
            lo = max(lo, self.acked)
            if hi <= lo:
                continue
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        self._before = merged

    @property
    def draining(self) -> bool:
        """True while backlog rows of this pass are still to be published."""
        return self.cursor < self.backlog_end

    @property
    def unacked(self) -> int:
        """Rows published in this pass and not acked yet."""
        return len(self._backlog) + len(self._live)

    def room(self) -> int:
        """How many more rows (of either stream) may be published before an ack arrives."""
        return max(0, self.max_unacked - self.unacked)

    def backlog_room(self) -> int:
        """How many more backlog rows may be published now."""
        if not self.draining:
            return 0
        share = self.max_unacked - self.live_reserve - len(self._backlog)
        return max(0, min(share, self.room()))

    def live_room(self) -> int:
        """How many more live rows may be published now: the reserve while a backlog
        drains, the whole window after."""
        if not self.draining:
            return self.room()
        return max(0, min(self.live_reserve - len(self._live), self.room()))

    def published(self, seq: int, now: float) -> bool:
        """Record a publication; True when this seq had been published before."""
        again = any(lo < seq <= hi for lo, hi in self._before)
        self.highest = max(self.highest, seq)
        if seq <= self.backlog_end:
            self.cursor = max(self.cursor, seq)
            sent = self._backlog
        else:
            self.live_cursor = max(self.live_cursor, seq)
            sent = self._live
        sent.pop(seq, None)  # keep the dict in publication order
        sent[seq] = now
        return again

    def end_backlog(self) -> None:
        """The outbox holds no unacked backlog row after the cursor: the backlog is out."""
        self.cursor = self.backlog_end

    def ack(self, upto: int) -> bool:
        """The store server has every seq ≤ ``upto``; True when that moved the mark."""
        if upto <= self.acked:
            return False
        self.acked = upto
        # What the store server has needs no publishing in this pass.
        self.cursor = max(self.cursor, min(upto, self.backlog_end))
        self.live_cursor = max(self.live_cursor, upto)
        for sent in (self._backlog, self._live):
            while sent and next(iter(sent)) <= upto:
                del sent[next(iter(sent))]
        return True

    def _lowest(self) -> tuple[int, float] | None:
        """The lowest seq not acked and when it was published."""
        for sent in (self._backlog, self._live):
            for seq, at in sent.items():
                return seq, at
        return None

    def deadline(self) -> float | None:
        """When the lowest unacked seq times out (None: nothing waits).

        Rows above it cannot be acked before it is (the store server acks up to its
        first gap), so a live row waiting for the backlog below it is not late.
        """
        lowest = self._lowest()
        return None if lowest is None else lowest[1] + self.ack_timeout_s

    def expire(self, now: float) -> int | None:
        """On time-out, rewind to publish again from the lowest unacked seq, which is
        returned; what had been published in this pass goes out again as backlog, in
        seq order."""
        lowest = self._lowest()
        if lowest is None or now < lowest[1] + self.ack_timeout_s:
            return None
        oldest = lowest[0]
        self._begin_pass(oldest - 1, max(self.backlog_end, self.live_cursor))
        return oldest
