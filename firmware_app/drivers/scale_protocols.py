"""Serial scale protocols as data: what the lane sends, how an answer is framed, how
it is read.

A protocol is a small frozen ``ScaleProtocol`` value; the polling driver
(``firmware_app.drivers.scale``) knows nothing of any one scale. Adding a scale
(NCI SCP-01, CAS …) means writing its ``parse`` function and one more value here.

Everything in this module is pure: bytes in, ``ScaleReading`` out, no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from firmware_app.drivers.errors import DeviceError
from firmware_app.lane.weighing import ScaleReading, ScaleStatus

logger = logging.getLogger(__name__)

STX = b"\x02"
CR = b"\r"


@dataclass(frozen=True)
class ScaleProtocol:
    """One serial scale protocol.

    ``request`` asks for one weight; an answer frame runs from ``start`` through
    ``terminator`` (both included) and is at most ``max_frame`` bytes long.
    ``zero``, ``tare`` and ``clear_tare`` are the commands for those keys (empty:
    the protocol has none). ``parse`` turns one whole frame into a reading and never
    raises: what it cannot read is an ``ERROR`` reading.
    """

    name: str
    request: bytes
    start: bytes
    terminator: bytes
    parse: Callable[[bytes], ScaleReading]
    zero: bytes = b""
    tare: bytes = b""
    clear_tare: bytes = b""
    max_frame: int = 32


class _Unreadable(ValueError):
    """An answer frame the protocol cannot read; the message says why."""


# --- Mettler Toledo 8217 ------------------------------------------------------------
#
# Request ``W`` (no terminator). Stable weight: STX, the kilograms with three
# decimals (``01.235``), an optional ``N`` (net), CR. Anything else: STX, ``?``, one
# status byte, CR. Some scales pad the weight with leading spaces.

_WEIGHT_8217 = re.compile(rb" *([0-9]{1,3})\.([0-9]{3})N?")

_MOTION = 0x01  # bit 0
_OVER_CAPACITY = 0x02  # bit 1
_UNDER_ZERO = 0x04  # bit 2
_ALWAYS_SET = 0x40  # bit 6 keeps the status byte printable
_PARITY = 0x80  # bit 7 is the parity bit: never seen on a port set to 7 data bits


def parse_8217(frame: bytes) -> ScaleReading:
    """Read one 8217 answer frame (STX … CR, as on the wire) into a reading.

    A stable weight gives ``STABLE`` with exact whole grams (decimal text, never a
    float) and ``text`` as the scale printed the kilograms (``"01.235"``). A frame
    that cannot be read gives ``ERROR``; the reason is logged.
    """
    try:
        return _read_8217(frame)
    except _Unreadable as e:
        logger.warning("scale answer %r unreadable: %s", frame, e)
        return ScaleReading(ScaleStatus.ERROR)


def _read_8217(frame: bytes) -> ScaleReading:
    if not frame.startswith(STX):
        raise _Unreadable("does not start with STX")
    if len(frame) < 2 or not frame.endswith(CR):
        raise _Unreadable("does not end with CR (truncated)")
    body = frame[len(STX) : -len(CR)]
    if body.startswith(b"?"):
        return _status_8217(body[1:])
    match = _WEIGHT_8217.fullmatch(body)
    if match is None:
        raise _Unreadable("not a weight like 01.235")
    whole, thousandths = match.group(1), match.group(2)
    grams = int(whole) * 1000 + int(thousandths)
    return ScaleReading(ScaleStatus.STABLE, grams, (whole + b"." + thousandths).decode("ascii"))


def _status_8217(status: bytes) -> ScaleReading:
    if len(status) != 1:
        raise _Unreadable(f"expected one status byte after '?', got {len(status)}")
    bits = status[0]
    if not bits & _ALWAYS_SET or bits & _PARITY:
        raise _Unreadable(f"status byte {bits:#04x} is not a valid status (bit 6 set, bit 7 clear)")
    # Over and under capacity say more than motion: a moving overload is an overload.
    if bits & _OVER_CAPACITY:
        return ScaleReading(ScaleStatus.OVER)
    if bits & _UNDER_ZERO:
        return ScaleReading(ScaleStatus.UNDER)
    if bits & _MOTION:
        return ScaleReading(ScaleStatus.MOVING)
    raise _Unreadable(f"status byte {bits:#04x} gives neither a weight nor a reason")


TOLEDO_8217 = ScaleProtocol(
    name="8217",
    request=b"W",
    start=STX,
    terminator=CR,
    parse=parse_8217,
    zero=b"Z",
    tare=b"T",
    clear_tare=b"C",
    max_frame=16,
)


def protocol_for(name: str) -> ScaleProtocol:
    """The protocol called ``name`` in the config's ``scale.protocol``."""
    if name == TOLEDO_8217.name:
        return TOLEDO_8217
    raise DeviceError(f"scale.protocol: unknown scale protocol {name!r}")


# --- framing ------------------------------------------------------------------------


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
