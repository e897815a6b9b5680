"""Which outbox rows a drain pass publishes, and in what order: live rows, then the backlog.

The send window (``window.SendWindow``) says how many rows of each stream may go
out; ``Drain`` reads them from the outbox and hands them to ``send`` one by one.
Live rows (committed since the pass began) are looked for only when something
says they may be there (``live_due``: a commit's wake, the poll, a rewind, or a
look that left some behind for want of room), so a PUBACK during a long drain
costs no query for them. Backlog rows are read ``READ_BATCH`` at a time, ahead
of need: a row's payload never changes, and an ack that moves the cursor past
rows read ahead makes them go unsent.

A pass is due (``wanted``) when something may have made room or rows: a PUBACK,
an ack, a commit's wake, a new connection; and at least every ``POLL_S``, and when
the ack time-out rewinds the window (see ``due``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from firmware_app.store.outbox import Outbox, OutboxRow
from firmware_app.sync.window import SendWindow

log = logging.getLogger(__name__)

READ_BATCH = 100  # outbox rows read at a time
POLL_S = 5.0  # look at the outbox this often even without a wake

Send = Callable[[OutboxRow], bool]  # publishes one row; False when the link failed


def live_inflight(max_inflight: int) -> int:
    """In-flight slots a draining backlog leaves to live rows: a tenth (none below 10)."""
    return max_inflight // 10


class Drain:
    """One lane's drain over its outbox and send window (used by the sync thread only)."""

    def __init__(
        self, outbox: Outbox, window: SendWindow, *, max_inflight: int, poll_s: float = POLL_S
    ) -> None:
        self.outbox = outbox
        self.window = window
        self.max_inflight = max_inflight
        self.backlog_inflight = max_inflight - live_inflight(max_inflight)
        self.poll_s = poll_s
        self.wanted = True  # a pass is due: something may have made room or rows
        self.live_due = True  # live rows may be waiting: committed since the last look
        self._last_poll = 0.0  # monotonic seconds
        self._ahead: deque[OutboxRow] = deque()  # backlog rows read, seq > window.cursor

    # --- when ---------------------------------------------------------------------------

    def woken(self) -> None:
        """Rows were committed: a pass, and a look for live rows."""
        self.wanted = self.live_due = True

    def deadline(self) -> float | None:
        """When a pass is due at the latest (monotonic seconds): at once when wanted, else
        the next poll or the ack time-out, whichever comes first."""
        if self.wanted:
            return 0.0
        timeout = self.window.deadline()
        poll = self._last_poll + self.poll_s
        return poll if timeout is None else min(poll, timeout)

    def due(self, now: float) -> bool:
        """True when a pass should run now: it was wanted, the poll's time has come, or
        the ack time-out rewound the window (logged)."""
        oldest = self.expire(now)
        if oldest is not None:
            log.info(
                "no ack within %.0f s: publishing again from seq %d",
                self.window.ack_timeout_s,
                oldest,
            )
            self.wanted = True
        if now - self._last_poll >= self.poll_s:
            self._last_poll = now
            self.woken()
        return self.wanted

    # --- what ---------------------------------------------------------------------------

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
        self.wanted = False
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
