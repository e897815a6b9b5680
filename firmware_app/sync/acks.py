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

``AckBatcher`` is the sync thread's side of it: it counts and logs each ack, keeps
the reason of the last refused one (the outbox's ``ack_ahead`` word) until a true
ack comes, and writes to the outbox once the thread's queue is empty (a burst of
acks is one transaction), at least every ``ACK_WRITE_S``. An ack lost to a crash
in between only means rows published again, which the store server stores once.
Acks the database will not take are tried ``ACK_WRITE_TRIES`` times, then dropped
(the window keeps them; a later ack covers them).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import parse_ack
from firmware_app.sync.counters import SyncCounters
from firmware_app.sync.errors import ContractError
from firmware_app.sync.window import SendWindow

log = logging.getLogger(__name__)

ACK_WRITE_S = 0.5  # acks received are written to the outbox at least this often
ACK_WRITE_TRIES = 3  # then acks the database refuses are dropped, not tried forever


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


@dataclass(frozen=True)
class Received:
    """What one ack message changed, for the sync thread to act on."""

    moved: bool = False  # the window's acked mark moved: rows freed, more may go
    trust_changed: bool = False  # refusing acks as ahead began or ended: the outbox word


class AckBatcher:
    """Acks between the network and the outbox on the sync thread: each applied to the
    send window as it comes (``Acks``), written in bursts.

    ``clock`` gives the aware wall time written as the rows' ``acked_at``; times
    passed as ``now`` are monotonic seconds. What it does is counted in ``counters``.
    """

    def __init__(
        self, acks: Acks, *, counters: SyncCounters, clock: Callable[[], datetime]
    ) -> None:
        self.acks = acks
        self.counters = counters
        self.ahead: str | None = None  # why the last refused ack was refused, until a true one
        self._clock = clock
        self._pending = 0  # valid ack messages handled since the last write
        self._written_at = 0.0  # monotonic time of the last write (or try)
        self._failures = 0  # tries in a row the database refused

    def receive(self, payload: bytes) -> Received:
        """Check an ack and apply it to the send window now; the outbox gets it in
        ``write``. A refused ack changes nothing (see ``Acks``)."""
        try:
            result = self.acks.receive(payload)
        except ContractError as e:
            self.counters.rejected_acks += 1
            log.warning("ack ignored: %s", e)
            return Received()
        if result.verdict is AckVerdict.AHEAD:
            return self._refuse(result)
        self._pending += 1
        if result.verdict is AckVerdict.CAPPED:
            self.counters.acks_capped += 1
            log.debug(
                "ack upto %d covers rows this run has not published: applied up to %d",
                result.upto,
                result.applied,
            )
        trusted_again = result.moved and self.ahead is not None
        if trusted_again:
            log.info("outbox: the store server's acks are true again")
            self.ahead = None
        log.debug("ack upto %d: %s", result.upto, result.verdict.value)
        return Received(moved=result.moved, trust_changed=trusted_again)

    def _refuse(self, result: AckResult) -> Received:
        self.counters.acks_ahead += 1
        why = (
            f"the store server acknowledged up to seq {result.upto}, beyond the last seq "
            f"this lane has assigned ({result.last_seq})"
        )
        first = self.ahead is None
        if first:
            log.warning(
                "ack refused, nothing marked: %s. Does the store server remember another "
                "database of this lane (a replaced SD card, a restore without --store-seq)? "
                "The messages stay in the outbox until it acknowledges what it really holds",
                why,
            )
        else:
            log.debug("ack refused again: %s", why)
        self.ahead = why
        return Received(trust_changed=first)

    def deadline(self) -> float | None:
        """When the acks received must be written at the latest (None: none waiting)."""
        return self._written_at + ACK_WRITE_S if self._pending else None

    def write(self, now: float, *, busy: bool = False, force: bool = False) -> int:
        """Mark acknowledged rows in the outbox unless more events wait (``busy``) and
        the last write is less than ``ACK_WRITE_S`` old, or when ``force``d; returns how
        many rows were newly acknowledged. Acks the database refuses are tried again,
        ``ACK_WRITE_TRIES`` times in all."""
        if not self._pending:
            return 0
        if not force and busy and now < self._written_at + ACK_WRITE_S:
            return 0
        self._written_at = now
        try:
            newly = self.acks.write(self._clock())
        except Exception as e:
            self._write_failed(e)
            return 0
        self._failures = 0
        self.counters.acks += self._pending
        self._pending = 0
        log.debug("acks written upto %d: %d rows newly acknowledged", self.acks.upto, newly)
        return newly

    def _write_failed(self, error: Exception) -> None:
        self._failures += 1
        if self._failures < ACK_WRITE_TRIES:
            log.warning(
                "acks not written to the outbox (try %d of %d): %s",
                self._failures,
                ACK_WRITE_TRIES,
                error,
            )
            return
        dropped = self.acks.drop()
        self._pending = 0
        self._failures = 0
        log.error(
            "%d acks dropped after %d tries to write them: %s. The rows they cover stay "
            "unacknowledged in the outbox until a later ack covers them",
            dropped,
            ACK_WRITE_TRIES,
            error,
        )
