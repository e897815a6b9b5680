"""The lane's views, fed from one state after every step.

The text line (logs, a console), the cashier's web screen and the customer's pole
display each get the same immutable state; none of them may stop the lane or the
others: a view that raises is logged once, until it works again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.lane.view import CustomerView, ScreenSetup, customer_view

log = logging.getLogger(__name__)


class Display(Protocol):
    def show(self, state: LaneState) -> None: ...


class Displays:
    """Shows each state on every view in turn."""

    def __init__(self, *displays: Display) -> None:
        self.displays = displays
        self._failing: set[int] = set()

    def show(self, state: LaneState) -> None:
        for i, display in enumerate(self.displays):
            try:
                display.show(state)
            except Exception:
                if i not in self._failing:
                    log.exception("view %s failed; the lane goes on", type(display).__name__)
                    self._failing.add(i)
            else:
                if i in self._failing:
                    log.info("view %s works again", type(display).__name__)
                    self._failing.discard(i)


class CustomerShows(Protocol):
    def show(self, view: CustomerView) -> None: ...


class CustomerFeed:
    """Feeds a customer display (a pole display) its view of each state."""

    def __init__(
        self,
        target: CustomerShows,
        *,
        setup: LaneSetup,
        screen: ScreenSetup,
        clock: Callable[[], datetime],
    ) -> None:
        self.target = target
        self.setup = setup
        self.screen = screen
        self.clock = clock

    def show(self, state: LaneState) -> None:
        self.target.show(customer_view(state, self.setup, self.screen, self.clock()))
