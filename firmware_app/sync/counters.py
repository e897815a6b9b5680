"""What the sync thread has done since start: one set of counts, read by tests and
diagnostics, written by the sync thread only (the service and its ack batcher)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SyncCounters:
    """Counts since the sync service started; each only ever grows."""

    connects: int = 0
    published: int = 0  # outbox rows handed to the broker, counting every resend
    republished: int = 0  # of those, rows that had been published before
    acks: int = 0  # valid store.ack messages, counted once written to the outbox
    rejected_acks: int = 0  # not a store.ack/1 (bad JSON, schema, bounds)
    acks_ahead: int = 0  # beyond every seq the lane has assigned: refused
    acks_capped: int = 0  # beyond what this run published: applied up to that
    downlink: int = 0
