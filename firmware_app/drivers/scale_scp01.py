"""The NCI / Avery Weigh-Tronix general serial protocol, SCP-01.

Commands end with CR: ``W`` weight, ``S`` status, ``Z`` zero, ``T`` tare (also
``H`` ×10 resolution and ``U`` next unit, which the lane never sends). Answers,
as in the NCI 7800 and Weigh-Tronix 7821 manuals::

    W  ->  LF xxxx.xxuu CR LF hh CR ETX     weight with unit, then status
    S  ->  LF hh CR ETX                     status alone (Z and T answer the same)
    ?  ->  LF ? CR ETX                      a command the scale does not know

``x`` is the display, minus sign and out-of-range characters included; ``uu`` the
unit (``kg``, ``lb``, ``oz``, ``g``; the lane sells by the kilogram only, so any
other unit is an ``ERROR`` reading saying so). The manuals show two decimals; a
scale weighing in kilograms shows as many as its division needs, so one to three
are read here (grams stay exact). ``hh`` is two or more status bytes, each with
bits 4 and 5 set and bit 7 the parity bit (never seen on a 7-bit port):

====  ==================  ==========================  ==========================
bit   byte 1              byte 2                      byte 3 (optional)
====  ==================  ==========================  ==========================
0     motion              under capacity              range (bits 0-1)
1     at zero             over capacity               range
2     RAM error           ROM error                   net weight
3     EEPROM error        faulty calibration          initial-zero error
6     always 0            another byte follows        another byte follows
====  ==================  ==========================  ==========================

SCP-01 has no clear-tare command. Serial settings are set on the scale (commonly
9600 7E1). Where the manuals are silent (the characters shown over capacity, a
third byte's "follows" bit), the status bits decide and the weight text is not
read. One indicator's manual writes the unknown-command answer as CR ? LF; that
frame has no ETX, so it reads here as no answer, not as a refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware_app.drivers.scale_frames import ScaleAnswer, ScaleProtocol, Unreadable
from firmware_app.lane.weighing import ScaleReading, ScaleStatus

LF = b"\n"
CR = b"\r"
ETX = b"\x03"

# The last well-formed answer at the end of a frame: line noise may come before it.
_WEIGHT_ANSWER = re.compile(rb"\n([^\r\n]*)\r\n([^\r\n]+)\r\x03\Z")
_STATUS_ANSWER = re.compile(rb"\n([^\r\n]+)\r\x03\Z")
_REFUSED_ANSWER = re.compile(rb"\n\?\r\x03\Z")
_UNIT = re.compile(rb"([A-Za-z]+) *\Z")
_NUMBER = re.compile(rb" *(-?) *([0-9]{1,6})(?:\.([0-9]{1,3}))? *")

FIXED_BITS = 0x30  # bits 4 and 5, set in every status byte
FOLLOWS = 0x40  # byte 2 on: another byte follows; in byte 1 always clear
PARITY = 0x80
MAX_STATUS_BYTES = 4

_FAULTS = (  # (byte index, bit, what the technician reads)
    (0, 0x04, "RAM error"),
    (0, 0x08, "EEPROM error"),
    (1, 0x04, "ROM error"),
    (1, 0x08, "faulty calibration"),
    (2, 0x08, "initial-zero error"),
)


@dataclass(frozen=True)
class Status:
    """The status bytes, read."""

    motion: bool
    at_zero: bool
    under: bool
    over: bool
    net: bool
    fault: str  # empty when the scale reports no fault


def read_scp01(frame: bytes) -> ScaleAnswer:
    """Read one SCP-01 answer frame (… CR ETX, as on the wire); never raises.

    A weight answer gives ``STABLE`` with exact grams and ``text`` as the scale
    printed the number (``"0001.235"``), ``MOVING`` with the motion bit, ``OVER`` /
    ``UNDER`` from the capacity bits or a minus sign. A status answer alone gives
    ``MOVING``, ``OVER`` or ``UNDER`` when its bits say so, else ``ERROR``.
    """
    try:
        return _read(frame)
    except Unreadable as e:
        return ScaleAnswer.error(str(e))


def _read(frame: bytes) -> ScaleAnswer:
    if not frame.endswith(CR + ETX):
        raise Unreadable("does not end with CR ETX (truncated)")
    if _REFUSED_ANSWER.search(frame):
        return ScaleAnswer.error("the scale does not know the command ('?')", refused=True)
    match = _WEIGHT_ANSWER.search(frame)
    if match is not None:
        return _weight_answer(match.group(1), read_status(match.group(2)))
    match = _STATUS_ANSWER.search(frame)
    if match is not None:
        return _status_answer(read_status(match.group(1)))
    raise Unreadable("not LF … CR ETX")


def read_status(raw: bytes) -> Status:
    """Read the status bytes; ``Unreadable`` when they break the fixed bits."""
    if not 2 <= len(raw) <= MAX_STATUS_BYTES:
        raise Unreadable(f"expected 2 to {MAX_STATUS_BYTES} status bytes, got {len(raw)}")
    for index, bits in enumerate(raw):
        if bits & PARITY or bits & FIXED_BITS != FIXED_BITS:
            raise Unreadable(f"status byte {index + 1} {bits:#04x}: bits 4-5 set, bit 7 clear")
        last = index == len(raw) - 1
        # Byte 1's bit 6 is always 0; after it, bit 6 says whether another byte follows.
        if bool(bits & FOLLOWS) != (index > 0 and not last):
            raise Unreadable(f"status byte {index + 1} {bits:#04x}: bit 6 does not match")
    third = raw[2] if len(raw) > 2 else FIXED_BITS
    faults = [what for index, bit, what in _FAULTS if index < len(raw) and raw[index] & bit]
    return Status(
        motion=bool(raw[0] & 0x01),
        at_zero=bool(raw[0] & 0x02),
        under=bool(raw[1] & 0x01),
        over=bool(raw[1] & 0x02),
        net=bool(third & 0x04),
        fault=", ".join(faults),
    )


def _status_answer(status: Status) -> ScaleAnswer:
    if status.fault:
        return ScaleAnswer.error(f"the scale reports {status.fault}")
    reading = _status_reading(status)
    if reading is None:
        raise Unreadable("a status with no weight and no reason")
    return ScaleAnswer(reading, net=status.net)


def _status_reading(status: Status) -> ScaleReading | None:
    # Over and under capacity say more than motion: a moving overload is an overload.
    if status.over:
        return ScaleReading(ScaleStatus.OVER)
    if status.under:
        return ScaleReading(ScaleStatus.UNDER)
    if status.motion:
        return ScaleReading(ScaleStatus.MOVING)
    return None


def _weight_answer(line: bytes, status: Status) -> ScaleAnswer:
    if status.fault:
        return ScaleAnswer.error(f"the scale reports {status.fault}")
    unit = _UNIT.search(line)
    if unit is None:
        raise Unreadable("no unit after the weight")
    if unit.group(1).lower() != b"kg":
        name = unit.group(1).decode("ascii")
        return ScaleAnswer.error(f"the scale weighs in {name}: set it to kg")
    reading = _status_reading(status)
    if reading is not None:
        return ScaleAnswer(reading, net=status.net)
    return ScaleAnswer(_weight(line[: unit.start()]), net=status.net)


def _weight(number: bytes) -> ScaleReading:
    match = _NUMBER.fullmatch(number)
    if match is None:
        raise Unreadable("not a weight like 0001.235")
    minus, whole, decimals = match.groups()
    decimals = decimals or b""
    grams = int(whole) * 1000 + int(decimals.ljust(3, b"0"))
    if minus and grams:
        return ScaleReading(ScaleStatus.UNDER)  # a negative weight never gives a price
    text = whole + (b"." + decimals if decimals else b"")
    return ScaleReading(ScaleStatus.STABLE, grams, text.decode("ascii"))


NCI_SCP01 = ScaleProtocol(
    name="scp01",
    request=b"W\r",
    start=LF,
    terminator=ETX,
    read=read_scp01,
    zero=b"Z\r",
    tare=b"T\r",
    commands_answered=True,
    max_frame=32,
)
