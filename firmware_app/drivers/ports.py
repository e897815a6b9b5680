"""Ports: what the daemon needs from each device.

Input devices (scanner, keypad, scale, drawer switch) run their own thread and
only call ``emit(event)`` with lane events (``firmware_app.lane.events``); the
daemon's single loop does the rest. Output devices are called from that loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from firmware_app.lane.events import Event
from firmware_app.lane.receipt import Receipt

Emit = Callable[[Event], None]


class InputDevice(Protocol):
    """A device that produces events from its own thread."""

    def start(self, emit: Emit) -> None:
        """Start reading; every event goes to ``emit`` (which must be thread-safe)."""

    def close(self) -> None:
        """Stop reading and release the device. Idempotent."""


class ReceiptPrinter(Protocol):
    def print_receipt(self, receipt: Receipt) -> object:
        """Print and cut one receipt; returns the printer's status after it (or None);
        raises ``PrinterError`` (a ``PrinterFault`` with its state word) when it cannot
        (``PrinterClosed`` after ``close()``)."""

    def status(self) -> object:
        """The printer's status now; raises ``PrinterError`` when it does not answer."""

    def close(self) -> None: ...


class CashDrawer(InputDevice, Protocol):
    def kick(self) -> object:
        """Pulse the solenoid once; raises ``DrawerError`` when it cannot (``DrawerClosed``
        after ``close()``). The opening is confirmed in the background
        (``DeviceState(Device.DRAWER, StateWord.JAMMED)`` when it is not)."""

    @property
    def is_open(self) -> bool: ...
