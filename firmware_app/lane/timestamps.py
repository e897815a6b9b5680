"""Times as the lane writes them: in its tables, its messages and its journal alike."""

from __future__ import annotations

from datetime import datetime


def timestamp(at: datetime) -> str:
    """RFC 3339 with offset and milliseconds: ``2026-11-28T13:20:01.250+08:00``. A sale's
    times read the same in the table, the journal and the message that carry them."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamps must carry their offset")
    return at.isoformat(timespec="milliseconds")
