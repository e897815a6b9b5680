"""The store server's acks, checked against what the lane has sent before anything moves.

An ack says "the store server holds every seq ≤ upto of this lane". The lane
believes it only for seqs it has published, and only when the store server
could possibly hold them (docs/mqtt.md, "store.ack/1"):

- ``upto`` ≤ the acked mark: old news (a repeat, or out of order); nothing moves.
- ``upto`` ≤ the highest seq this run has published: applied as is.
- beyond that, but ≤ the last seq the lane has ever assigned: applied only up to
  the highest seq published (*capped*), quietly. This is normal after a restart:
  the broker's persistent session hands over acks for rows the previous process
  published, or the store server (which acks its own contiguous mark) holds rows
  whose acks were lost to a crash. Refusing these outright would stall the lane:
  the store server would answer every resend with the same mark, above the
  lane's window, forever. Capping never covers a row this run has not sent.
- beyond every seq the lane has ever assigned (``AHEAD``): refused whole. No
  store server can hold what was never written; it remembers another database
  of this lane (a replaced SD card, a restore without ``--store-seq``), and
  whatever else it claims cannot be trusted either. The caller logs it and says
  so in the lane's status; the rows stay in the outbox.

The send window takes an applied ack at once; the outbox gets the highest one
in ``write`` (one transaction per burst). What ``write`` stores is never more
than what was applied, so the stored mark only ever follows what the store
server acknowledged of what was published.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import parse_ack
from firmware_app.sync.window import SendWindow


class AckVerdict(enum.Enum):
    APPLIED = "applied"  # moved the mark up to ``upto``
    CAPPED = "capped"  # moved the mark up to the highest seq this run published
    OLD = "old"  # at or below the mark (after capping): nothing moved
    AHEAD = "ahead"  # beyond every seq the lane has assigned: refused


@dataclass(frozen=True)
class AckResult:
    """What one ack did: ``applied`` is the mark it moved the window to (0: none);
    ``last_seq`` the last seq assigned, looked up for an ack beyond what was published."""

    verdict: AckVerdict
    upto: int
    applied: int = 0
    last_seq: int | None = None

    @property
    def moved(self) -> bool:
        return self.verdict in (AckVerdict.APPLIED, AckVerdict.CAPPED)


class Acks:
    """One lane's acks between the network, the send window and the outbox (sync thread)."""

    def __init__(self, outbox: Outbox, window: SendWindow) -> None:
        self.outbox = outbox
        self.window = window
        self.unwritten = 0  # acks applied to the window, not yet to the outbox
        self.upto = 0  # the highest mark they moved the window to

    def receive(self, payload: bytes) -> AckResult:
        """Parse and check one ack, then apply it to the window; ``ContractError`` for
        a payload that is not a ``store.ack/1``, which changes nothing."""
        return self.apply(parse_ack(payload))

    def apply(self, upto: int) -> AckResult:
        """Check ``upto`` against what was published and assigned, then apply it."""
        window = self.window
        if upto <= window.acked:
            return AckResult(AckVerdict.OLD, upto)
        verdict, effective, last_seq = AckVerdict.APPLIED, upto, None
        if upto > window.highest:
            last_seq = self.outbox.last_seq()
            if upto > last_seq:
                return AckResult(AckVerdict.AHEAD, upto, last_seq=last_seq)
            verdict, effective = AckVerdict.CAPPED, window.highest
        if not window.ack(effective):
            return AckResult(AckVerdict.OLD, upto, last_seq=last_seq)
        self.unwritten += 1
        self.upto = max(self.upto, effective)
        return AckResult(verdict, upto, effective, last_seq)

    @property
    def due(self) -> bool:
        """Acks applied to the window and not yet written to the outbox."""
        return self.unwritten > 0

    def write(self, at: datetime) -> int:
        """Mark the outbox up to the highest applied ack (``at``: when); returns how
        many rows were newly acknowledged. On failure the acks stay due."""
        if not self.unwritten:
            return 0
        newly = self.outbox.ack_upto(self.upto, at)
        self.unwritten = 0
        return newly

    def drop(self) -> int:
        """Forget acks that cannot be written; returns how many. The window keeps
        them; the outbox gets them with a later ack (acks are cumulative) or when the
        rows go again after a reconnect and the store server acks them again."""
        dropped, self.unwritten = self.unwritten, 0
        return dropped
