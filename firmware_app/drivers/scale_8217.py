"""The Mettler Toledo 8217 protocol: single-byte commands, STX … CR answers.

Host commands, no terminator: ``W`` weigh, ``Z`` zero, ``T`` tare, ``C`` clear
tare; only ``W`` is answered. A stable weight comes back as STX, the kilograms with
three decimals (``01.235``; some scales pad with leading spaces), an ``N`` when the
weight is net of a tare, CR. Anything else is STX, ``?``, one status byte, CR:

====  ==========================================================
bit   meaning
====  ==========================================================
0     motion
1     over capacity
2     under zero
3     outside the zero-capture range
4     centre of zero
5     net weight (a tare is on)
6     always set, keeps the byte printable
7     parity: never seen on a port set to 7 data bits
====  ==========================================================

Recorded real answers: ``?A``/``?Q`` moving, ``?B`` over capacity, ``?D`` under zero.
The scale obeys ``Z`` only when stable, within the zero-capture range and with no
tare on; ``T`` only after gross zero, with a stable non-zero load. It never says
whether it obeyed: the driver reads the outcome from the answers that follow.
"""

from __future__ import annotations

import re

from firmware_app.drivers.scale_frames import ScaleAnswer, ScaleProtocol, Unreadable
from firmware_app.lane.weighing import ScaleReading, ScaleStatus

STX = b"\x02"
CR = b"\r"

_WEIGHT = re.compile(rb" *([0-9]{1,3})\.([0-9]{3})(N?)")

MOTION = 0x01
OVER_CAPACITY = 0x02
UNDER_ZERO = 0x04
NET = 0x20
ALWAYS_SET = 0x40
PARITY = 0x80


def read_8217(frame: bytes) -> ScaleAnswer:
    """Read one 8217 answer frame (STX … CR, as on the wire); never raises.

    A stable weight gives ``STABLE`` with exact whole grams (decimal text, never a
    float) and ``text`` as the scale printed the kilograms (``"01.235"``). A frame
    that cannot be read gives ``ERROR`` with the reason.
    """
    try:
        return _read(frame)
    except Unreadable as e:
        return ScaleAnswer.error(str(e))


def parse_8217(frame: bytes) -> ScaleReading:
    """The reading alone; why a frame is unreadable goes to the log."""
    return TOLEDO_8217.parse(frame)


def _read(frame: bytes) -> ScaleAnswer:
    if not frame.startswith(STX):
        raise Unreadable("does not start with STX")
    if len(frame) < 2 or not frame.endswith(CR):
        raise Unreadable("does not end with CR (truncated)")
    body = frame[len(STX) : -len(CR)]
    if body.startswith(b"?"):
        return _status(body[1:])
    match = _WEIGHT.fullmatch(body)
    if match is None:
        raise Unreadable("not a weight like 01.235")
    whole, thousandths, net = match.groups()
    grams = int(whole) * 1000 + int(thousandths)
    text = (whole + b"." + thousandths).decode("ascii")
    return ScaleAnswer(ScaleReading(ScaleStatus.STABLE, grams, text), net=bool(net))


def _status(status: bytes) -> ScaleAnswer:
    if len(status) != 1:
        raise Unreadable(f"expected one status byte after '?', got {len(status)}")
    bits = status[0]
    if not bits & ALWAYS_SET or bits & PARITY:
        raise Unreadable(f"status byte {bits:#04x} is not a valid status (bit 6 set, bit 7 clear)")
    net = bool(bits & NET)
    # Over and under capacity say more than motion: a moving overload is an overload.
    if bits & OVER_CAPACITY:
        return ScaleAnswer(ScaleReading(ScaleStatus.OVER), net=net)
    if bits & UNDER_ZERO:
        return ScaleAnswer(ScaleReading(ScaleStatus.UNDER), net=net)
    if bits & MOTION:
        return ScaleAnswer(ScaleReading(ScaleStatus.MOVING), net=net)
    raise Unreadable(f"status byte {bits:#04x} gives neither a weight nor a reason")


TOLEDO_8217 = ScaleProtocol(
    name="8217",
    request=b"W",
    start=STX,
    terminator=CR,
    read=read_8217,
    zero=b"Z",
    tare=b"T",
    clear_tare=b"C",
    max_frame=16,
)
