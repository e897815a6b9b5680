"""What the customer display shows, phase by phase: the views the pole display's
frame tests (tests/unit) and driver tests (tests/drivers) both render."""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.view import CustomerItem, CustomerView, Phase

COLA = CustomerItem("Cola 330ml", "Cola 330ml", "2 × 3.50", 700)
TEA = CustomerItem("绿茶 500ml", "6901234567892", "1 × 3.50", 350)
APPLES = CustomerItem("Apples", "Apples", "0.532 kg × 12.80/kg", 681)


def customer_views(
    idle_text: str,
) -> tuple[CustomerView, CustomerView, CustomerView, CustomerView]:
    """Idle (showing ``idle_text``); selling (two colas, 7.70); paying (5.00 of it
    paid); done (10.00 paid, 2.30 change)."""
    idle = CustomerView(
        phase=Phase.IDLE,
        last=None,
        items=0,
        total=0,
        paid=0,
        due=0,
        change=0,
        savings=0,
        member=None,
        training=False,
        idle_text=(idle_text,),
        minor_digits=2,
    )
    selling = replace(idle, phase=Phase.SELLING, last=COLA, items=2, total=770)
    paying = replace(selling, phase=Phase.PAYING, paid=500)
    done = replace(idle, phase=Phase.DONE, items=2, total=770, paid=1000, change=230)
    return idle, selling, paying, done
