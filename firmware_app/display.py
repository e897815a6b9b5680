"""The cashier's screen: a plain text view of the lane state.

On a Pi this writes to a text console (``/dev/tty1``) or stdout; hw_sim keeps a
copy in ``screen.log``. A line is written only when what it shows changes.
"""

from __future__ import annotations

import threading
from typing import TextIO

from firmware_app.lane.machine import FINE
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import format_money
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState, Mode

SECRET_MODES = (Mode.PIN, Mode.SUPERVISOR_PIN)


def render(state: LaneState, setup: LaneSetup, language: str) -> str:
    """One screen line: who, the sale, the entry, the message."""
    parts = [f"[{state.cashier.id if state.cashier else '----'}]"]
    if state.sale is not None:
        due = format_money(state.sale.due, setup.rules.minor_digits)
        parts.append(
            Message.of(Msg.ITEMS_DUE, count=state.sale.item_count, due=due).render(language)
        )
    if state.entry:
        entry = "*" * len(state.entry) if state.mode in SECRET_MODES else state.entry
        parts.append(f"> {entry}")
    if state.qty is not None:
        parts.append(f"qty {state.qty}")
    if state.message is not None:
        parts.append(state.message.render(language))
    problems = [
        Message.of(Msg.DEVICE_PROBLEM, device=d, state=s).render(language)
        for d, s in state.devices
        if s not in FINE
    ]
    if state.receipts_pending:
        problems.append(
            Message.of(Msg.RECEIPTS_WAITING, count=state.receipts_pending).render(language)
        )
    if problems:
        parts.append("[" + "; ".join(problems) + "]")
    return "  ".join(parts)


class TextDisplay:
    """Writes the screen line to a text stream when it changes."""

    def __init__(self, stream: TextIO, *, setup: LaneSetup, language: str = "zh") -> None:
        self.stream = stream
        self.setup = setup
        self.language = language
        self.last = ""
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def show(self, state: LaneState) -> None:
        text = render(state, self.setup, self.language)
        with self._lock:
            if text == self.last:
                return
            self.last = text
            self.lines.append(text)
            self.stream.write(f"screen: {text}\n")
            self.stream.flush()
