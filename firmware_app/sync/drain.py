"""Which outbox rows a drain pass publishes, and in what order: live rows, then the backlog.

The send window (``window.SendWindow``) says how many rows of each stream may go
out; ``Drain`` reads them from the outbox and hands them to ``send`` one by one.
Live rows (committed since the pass began) are looked for only when something
says they may be there (``live_due``: a commit's wake, the poll, a rewind, or a
look that left some behind for want of room), so a PUBACK during a long drain
costs no query for them. Backlog rows are read ``READ_BATCH`` at a time, ahead
of need: a row's payload never changes, and an ack that moves the cursor past
rows read ahead makes them go unsent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from firmware_app.store.outbox import Outbox, OutboxRow
from firmware_app.sync.window import SendWindow

READ_BATCH = 100  # outbox rows read at a time

Send = Callable[[OutboxRow], bool]  # publishes one row; False when the link failed


def live_inflight(max_inflight: int) -> int:
    """In-flight slots a draining backlog leaves to live rows: a tenth (none below 10)."""
    return max_inflight // 10


class Drain:
    """One lane's drain over its outbox and send window (used by the sync thread only)."""

    def __init__(self, outbox: Outbox, window: SendWindow, *, max_inflight: int) -> None:
        self.outbox = outbox
        self.window = window
        self.max_inflight = max_inflight
        self.backlog_inflight = max_inflight - live_inflight(max_inflight)
        self.live_due = True  # live rows may be waiting: committed since the last look
        self._ahead: deque[OutboxRow] = deque()  # backlog rows read, seq > window.cursor

    def restart(self, acked: int, last_seq: int) -> None:
        """A new connection: everything unacked goes again; rows after ``last_seq`` are live."""
        self.window.restart(acked, last_seq)
        self._ahead.clear()
        self.live_due = True

    def expire(self, now: float) -> int | None:
        """The ack time-out: rewind (see ``SendWindow.expire``); the seq it rewinds to."""
        oldest = self.window.expire(now)
        if oldest is not None:
            self._ahead.clear()
            self.live_due = True
        return oldest

    def run(self, in_flight: Callable[[], int], send: Send) -> bool:
        """Publish what the windows allow, live rows first; False when the link failed.

        ``in_flight()`` is how many messages await PUBACK on the link right now.
        """
        if self.live_due and not self._live(in_flight, send):
            return False
        return self._backlog(in_flight, send)

    def _live(self, in_flight: Callable[[], int], send: Send) -> bool:
        window = self.window
        while True:
            room = min(window.live_room(), self.max_inflight - in_flight(), READ_BATCH)
            if room <= 0:
                return True  # still due: they go when a slot frees
            rows = self.outbox.unacked(after_seq=window.live_cursor, limit=room)
            if not all(send(row) for row in rows):
                return False
            if len(rows) < room:
                self.live_due = False
                return True

    def _backlog(self, in_flight: Callable[[], int], send: Send) -> bool:
        window = self.window
        while window.draining:
            room = min(window.backlog_room(), self.backlog_inflight - in_flight())
            if room <= 0:
                return True
            rows = self._next_backlog(room)
            if not rows:
                window.end_backlog()  # the rest was acknowledged meanwhile
                return True
            if not all(send(row) for row in rows):
                return False
        return True

    def _next_backlog(self, limit: int) -> list[OutboxRow]:
        """The next ``limit`` backlog rows after the cursor (fewer at the backlog's end)."""
        window, ahead = self.window, self._ahead
        while ahead and ahead[0].seq <= window.cursor:
            ahead.popleft()
        if not ahead:
            ahead.extend(
                self.outbox.unacked(
                    after_seq=window.cursor, upto=window.backlog_end, limit=READ_BATCH
                )
            )
        return [ahead.popleft() for _ in range(min(limit, len(ahead)))]
