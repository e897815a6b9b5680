"""What the customer display shows, phase by phase: the views the pole display's
frame tests (tests/unit) and driver tests (tests/drivers) both render."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.lane.view import CustomerItem, CustomerView, Phase, ScreenSetup, customer_view

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))

COLA = CustomerItem("Cola 330ml", "Cola 330ml", "2 × 3.50", 700)
TEA = CustomerItem("绿茶 500ml", "6901234567892", "1 × 3.50", 350)
APPLES = CustomerItem("Apples", "Apples", "0.532 kg × 12.80/kg", 681)


def customer_views(
    idle_text: str,
) -> tuple[CustomerView, CustomerView, CustomerView, CustomerView]:
    """Idle (the lane's own idle view, no sale open, showing ``idle_text``); selling
    (two colas, 7.70); paying (5.00 of it paid); done (10.00 paid, 2.30 change)."""
    idle = customer_view(LaneState(), LaneSetup(), ScreenSetup(idle_text=(idle_text,)), NOW)
    assert idle.phase is Phase.IDLE
    selling = replace(idle, phase=Phase.SELLING, last=COLA, items=2, total=770)
    paying = replace(selling, phase=Phase.PAYING, paid=500)
    done = replace(idle, phase=Phase.DONE, items=2, total=770, paid=1000, change=230)
    return idle, selling, paying, done
