"""Identifiers for sales and payment requests: UUIDv7 (RFC 9562), time-ordered."""

from __future__ import annotations

import os
import time
import uuid


def uuid7(*, unix_ms: int | None = None, rand: bytes | None = None) -> str:
    """A UUIDv7 string; sorts by creation time, so sale ids index well."""
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    tail = rand if rand is not None else os.urandom(10)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (int.from_bytes(tail[:2], "big") & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(tail[2:10], "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
