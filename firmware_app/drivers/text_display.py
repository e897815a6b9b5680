"""The cashier's screen: a plain text view of the lane state.

On a Pi this writes to a text console (``/dev/tty1``) or stdout; hw_sim keeps a
copy in ``screen.log``. A line is written only when what it shows changes.
``display.device`` is opened by ``open_display``: a device under ``/dev`` must be
there already (a typo there never becomes a regular file), a file elsewhere is
made in a directory that exists; ``display_problem`` says beforehand why it
could not be opened, for ``config check``.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from typing import TextIO

from firmware_app.lane.devices import FINE
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import format_money
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState, Mode

SECRET_MODES = (Mode.PIN, Mode.SUPERVISOR_PIN)
STDOUT = "-"


def _under_dev(device: str) -> bool:
    return os.path.normpath(device).startswith("/dev/")


def _words(error: OSError) -> str:
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


def display_problem(device: str) -> str:
    """Why the screen could not be written to ``device`` (``""`` when it can), naming it:
    ``/dev/tyy1: no such device …``."""
    if device == STDOUT:
        return ""
    try:
        mode = os.stat(device).st_mode
    except FileNotFoundError:
        if _under_dev(device):
            return (
                f"{device}: no such device (a display under /dev is never created: "
                "check the name, e.g. ls /dev/tty*)"
            )
        parent = os.path.dirname(device) or "."
        if not os.path.isdir(parent):
            return f"{device}: directory {parent} does not exist"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"{device}: cannot be made: directory {parent} is not writable"
        return ""
    except OSError as e:
        return f"{device}: {_words(e)}"
    if stat.S_ISDIR(mode):
        return f"{device}: is a directory"
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISREG(mode)):
        return f"{device}: not a terminal, pipe or file"
    if not os.access(device, os.W_OK):
        return f"{device}: not writable by this user (is it in the tty group?)"
    return ""


def open_display(device: str) -> TextIO:
    """The text stream for ``display.device``: stdout for ``-``. A device under ``/dev``
    is opened only if it exists (no ``O_CREAT``), and never becomes the daemon's
    controlling terminal (``O_NOCTTY``: a hang-up there must not stop the lane).
    Raises ``OSError``."""
    if device == STDOUT:
        return sys.stdout
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
    if not _under_dev(device):
        flags |= os.O_CREAT | os.O_TRUNC
    fd = os.open(device, flags, 0o640)
    try:
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


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
