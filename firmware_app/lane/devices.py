"""The lane's devices and the words for their states, as typed values.

Each member's value is the word the retained status message (``lane.status/1``
``devices``, docs/mqtt.md) carries, so the message is the same byte for byte.
They are ``StrEnum``s for that reason: a status dict merged from the lane's words
and the sync thread's, or compared with a word read back from it, needs no
conversion. Inside the core, words are compared as members (``is``), never as text.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class Device(enum.StrEnum):
    """A name in the status's ``devices``: a device, the clock, or part of the uplink."""

    SCANNER = "scanner"
    KEYPAD = "keypad"
    SCALE = "scale"
    PRINTER = "printer"
    DRAWER = "drawer"
    CLOCK = "clock"
    BROKER = "broker"
    OUTBOX = "outbox"
    SCREEN = "screen"  # the cashier's screen the daemon serves (the web UI)
    CUSTOMER_DISPLAY = "customer_display"  # the serial pole display


class StateWord(enum.StrEnum):
    """One device's state, as the status and the cashier's screen say it."""

    OK = "ok"
    MISSING = "missing"  # not plugged in, its port gone, or its driver not set up
    ERROR = "error"
    AMBIGUOUS = "ambiguous"  # several input devices fit the match: none is used
    CONFLICT = "conflict"  # the scanner and the keypad were set up on one device
    SILENT = "silent"  # the scale did not answer in time
    PAPER_NEAR_END = "paper_near_end"  # printing goes on
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"  # a printer not answering; a broker out of reach
    OPEN = "open"
    CLOSED = "closed"
    JAMMED = "jammed"  # a kick and its retry did not open the drawer
    UNSYNCED = "unsynced"  # the clock is not synchronised by NTP
    JUMPED = "jumped"  # the wall clock was stepped
    ONLINE = "online"
    REFUSED = "refused"  # the broker refused the lane's login
    NOT_AUTHORIZED = "not_authorized"  # the broker refuses the lane's messages
    BACKLOG = "backlog"  # the oldest unacknowledged message is too old
    ACK_AHEAD = "ack_ahead"  # the store server acks beyond what the lane assigned


W = StateWord
_HID = frozenset([W.OK, W.MISSING, W.ERROR, W.AMBIGUOUS, W.CONFLICT])

DEVICE_WORDS: Mapping[Device, frozenset[StateWord]] = {
    Device.SCANNER: _HID,
    Device.KEYPAD: _HID,
    Device.SCALE: frozenset([W.OK, W.SILENT, W.MISSING]),
    Device.PRINTER: frozenset(
        [W.OK, W.PAPER_NEAR_END, W.PAPER_OUT, W.COVER_OPEN, W.ERROR, W.OFFLINE, W.MISSING]
    ),
    Device.DRAWER: frozenset([W.CLOSED, W.OPEN, W.JAMMED, W.ERROR, W.MISSING]),
    Device.CLOCK: frozenset([W.OK, W.UNSYNCED, W.JUMPED]),
    Device.BROKER: frozenset([W.ONLINE, W.OFFLINE, W.REFUSED, W.NOT_AUTHORIZED]),
    Device.OUTBOX: frozenset([W.OK, W.BACKLOG, W.ACK_AHEAD]),
    Device.SCREEN: frozenset([W.OK, W.ERROR]),
    Device.CUSTOMER_DISPLAY: frozenset([W.OK, W.MISSING, W.ERROR]),
}
"""The words each device can report (docs/mqtt.md, ``lane.status/1``)."""

FINE = frozenset([W.OK, W.ONLINE, W.OPEN, W.CLOSED, W.PAPER_NEAR_END])
"""State words that need nobody's attention."""


def check_word(device: Device, state: StateWord) -> None:
    """Raise ``TypeError`` unless both are typed, ``ValueError`` unless ``device``
    can report ``state``: a raw string here is an adapter that did not parse."""
    if not isinstance(device, Device) or not isinstance(state, StateWord):
        raise TypeError(f"device state must be typed, got {device!r}, {state!r}")
    if state not in DEVICE_WORDS[device]:
        raise ValueError(f"the {device.value} has no state {state.value!r}")


def wire(devices: Iterable[tuple[Device, StateWord]]) -> dict[str, str]:
    """The status message's ``devices`` mapping: plain words, in the order given."""
    return {device.value: state.value for device, state in devices}
