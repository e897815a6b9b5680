"""What every serial scale protocol shares: the protocol as a value, an answer as read,
and cutting answer frames out of the bytes that arrive.

Everything in this module is pure: bytes in, values out, no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from firmware_app.lane.weighing import ScaleReading, ScaleStatus

logger = logging.getLogger(__name__)


class Unreadable(ValueError):
    """An answer frame the protocol cannot use; the message says why."""


@dataclass(frozen=True)
class ScaleAnswer:
    """One answer frame, read.

    ``reading`` is what the lane gets. ``net`` is true when the scale says the
    weight (or the status) is net of a tare; the lane's ``ScaleReading`` has no
    such flag, the driver uses it to judge zero and tare. ``reason`` says why a
    reading is ``ERROR`` (for the technician's log). ``refused`` is true when the
    scale answered that it does not know the command it was sent.
    """

    reading: ScaleReading
    net: bool = False
    reason: str = ""
    refused: bool = False

    @classmethod
    def error(cls, reason: str, *, refused: bool = False) -> ScaleAnswer:
        """An ``ERROR`` reading with the reason why."""
        return cls(ScaleReading(ScaleStatus.ERROR), reason=reason, refused=refused)


@dataclass(frozen=True)
class ScaleProtocol:
    """One serial scale protocol.

    ``request`` asks for one weight; an answer frame runs from ``start`` through
    ``terminator`` (both included) and is at most ``max_frame`` bytes long.
    ``zero``, ``tare`` and ``clear_tare`` are the commands for those keys (empty:
    the protocol has none); ``commands_answered`` says whether the scale answers
    them with a frame of its own (which the driver reads before its next request).
    ``read`` turns one whole frame into an answer and never raises: what it cannot
    use is an ``ERROR`` reading with a reason.
    """

    name: str
    request: bytes
    start: bytes
    terminator: bytes
    read: Callable[[bytes], ScaleAnswer]
    zero: bytes = b""
    tare: bytes = b""
    clear_tare: bytes = b""
    commands_answered: bool = False
    max_frame: int = 32

    def parse(self, frame: bytes) -> ScaleReading:
        """The reading in ``frame``; why it is an ``ERROR``, if it is, goes to the log."""
        answer = self.read(frame)
        if answer.reason:
            logger.warning("scale answer %r unreadable: %s", frame, answer.reason)
        return answer.reading


def take_frame(buffer: bytes, protocol: ScaleProtocol) -> tuple[bytes | None, bytes]:
    """Cut the first complete answer frame out of ``buffer``: ``(frame, rest)``.

    Bytes before the start byte are line noise and dropped. With no complete frame
    yet, ``frame`` is None and ``rest`` holds the partial frame to keep reading into.
    A start byte with no terminator within ``max_frame`` bytes was noise too: it is
    dropped and the search goes on, so the buffer never grows past ``max_frame``.
    """
    start, end_mark = protocol.start, protocol.terminator
    while True:
        begin = buffer.find(start)
        if begin < 0:
            return None, b""
        buffer = buffer[begin:]
        end = buffer.find(end_mark, len(start))
        if end >= 0 and end + len(end_mark) <= protocol.max_frame:
            end += len(end_mark)
            return buffer[:end], buffer[end:]
        if end < 0 and len(buffer) <= protocol.max_frame:
            return None, buffer
        buffer = buffer[len(start) :]
