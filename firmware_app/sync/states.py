"""What the sync thread tells the lane about the broker and the outbox.

Two names, each with one state word at a time:

- ``broker``: ``online`` (connected), ``offline`` (not reachable, or the
  connection ended), ``refused`` (the broker answered CONNECT with a refusal,
  such as bad credentials), ``not_authorized`` (connected, but the broker
  refuses the lane's messages: MQTT 5 PUBACK reason 135, a mosquitto ACL deny);
- ``outbox``: ``ok`` or ``backlog`` (see ``housekeeping``), or ``ack_ahead``
  while the store server's acks go beyond every seq the lane has assigned
  (refused; see ``acks``).

Names and words are typed here (``Device``, ``StateWord``): ``set`` takes them, or
their wire words, which it parses. ``on_state(device, state, detail)`` hears each
change once, on the sync thread, with typed values; its errors are logged, never
raised into the sync thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from firmware_app.lane.devices import DEVICE_WORDS, Device, StateWord

log = logging.getLogger(__name__)

BROKER = Device.BROKER
OUTBOX = Device.OUTBOX

ONLINE = StateWord.ONLINE
OFFLINE = StateWord.OFFLINE
REFUSED = StateWord.REFUSED
NOT_AUTHORIZED = StateWord.NOT_AUTHORIZED

StateListener = Callable[[Device, StateWord, str], None]  # (device, state, detail)


def parse(name: Device | str, state: StateWord | str) -> tuple[Device, StateWord]:
    """The typed name and word; ``ValueError`` for a name that is not the broker's or
    the outbox's, or a word it cannot have."""
    device, word = Device(name), StateWord(state)
    if device not in (BROKER, OUTBOX) or word not in DEVICE_WORDS[device]:
        raise ValueError(f"the sync thread has no state {word.value!r} for {device.value}")
    return device, word


class SyncStates:
    """The last word for each name; ``set`` reports changes to the listener."""

    def __init__(self, on_state: StateListener | None = None) -> None:
        self._on_state = on_state
        self._words: dict[Device, StateWord] = {}

    def get(self, name: Device) -> StateWord | None:
        return self._words.get(name)

    def words(self) -> dict[str, str]:
        """Every name's current word, as the retained status's ``devices`` carries it."""
        return {device.value: word.value for device, word in self._words.items()}

    def set(self, name: Device | str, state: StateWord | str, detail: str = "") -> bool:
        """Record ``state``; True (and the listener told) when it differs from the last."""
        device, word = parse(name, state)
        if self._words.get(device) is word:
            return False
        self._words[device] = word
        if self._on_state is not None:
            try:
                self._on_state(device, word, detail)
            except Exception:
                log.exception("sync state listener failed on %s: %s", device.value, word.value)
        return True
