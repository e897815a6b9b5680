"""The context of one ``handle`` call, and the shape of its answer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from firmware_app.lane.effects import AuditEvent, Effect, RecordEvent
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.money import format_money
from firmware_app.lane.ports import Ports
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState

Outcome = tuple[LaneState, tuple[Effect, ...]]


@dataclass(frozen=True)
class Ctx:
    """What one call of ``handle`` may use besides the state: ports, setup, the time."""

    ports: Ports
    setup: LaneSetup
    now: datetime

    def audit(self, state: LaneState, type: str, **details: object) -> RecordEvent:
        """An audit event stamped now, with the signed-on cashier and open sale."""
        cashier = state.cashier.id if state.cashier else None
        sale_id = state.sale.id if state.sale else None
        pairs = tuple((k, str(v)) for k, v in details.items() if v is not None)
        return RecordEvent(AuditEvent(type, self.now, cashier, sale_id, pairs))

    def money(self, amount: int) -> str:
        return format_money(amount, self.setup.rules.minor_digits)


def refuse(state: LaneState, msg: Msg, **args: object) -> Outcome:
    """Show ``msg`` and change nothing else: the entry and a pending quantity stay, so the
    cashier corrects what was refused (or clears it) instead of keying it all again."""
    return refused(state, Message.of(msg, **args))


def refused(state: LaneState, message: Message) -> Outcome:
    """``refuse`` with a message already built."""
    return replace(state, message=message), ()
