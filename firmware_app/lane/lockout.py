"""Wrong PINs, counted per id: after ``pin_tries`` in a row the id is locked.

The count is kept for any id keyed, known or not, so that locking says nothing
about which ids exist. It lives in the store: the core reads it through the
cashier port (``PinRecord``) and writes it with durable effects, so a restart
neither forgets a lock nor resets the count. While an id is locked its PIN is not
even checked, so guesses during a lock teach nothing.

With the defaults (5 tries, 15 minutes) one id allows at most 20 guesses an hour:
all 10,000 four-digit PINs take 500 hours, about 21 days (half that on average).
The config's bounds (at most 10 tries, at least 5 minutes) keep it above 3 days.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

from firmware_app.lane.context import Ctx, Outcome
from firmware_app.lane.effects import ClearPinFailures, Effect, RecordPinFailure
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.ports import PinRecord
from firmware_app.lane.state import LaneState
from firmware_app.lane.timestamps import timestamp


def minutes_left(record: PinRecord, ctx: Ctx) -> int | None:
    """Whole minutes (rounded up) until the lock ends, or None when not locked."""
    until = record.locked_until
    if until is None or ctx.now >= until:
        return None
    return max(1, math.ceil((until - ctx.now).total_seconds() / 60))


def refuse_if_locked(state: LaneState, cashier_id: str, ctx: Ctx) -> Outcome | None:
    """``state`` with "1001 locked for 14 min" when the id is locked, else None."""
    left = minutes_left(ctx.ports.cashiers.pin_record(cashier_id), ctx)
    if left is None:
        return None
    return replace(state, message=Message.of(Msg.ID_LOCKED, cashier=cashier_id, minutes=left)), ()


def wrong_pin(
    state: LaneState, cashier_id: str, step: str, ctx: Ctx
) -> tuple[tuple[Effect, ...], Message | None]:
    """The effects of one more wrong PIN for ``cashier_id`` (``step``: ``sign_on`` or
    ``approval``), and the lock message when this one locks the id."""
    record = ctx.ports.cashiers.pin_record(cashier_id)
    expired = record.locked_until is not None and ctx.now >= record.locked_until
    failures = (0 if expired else record.failures) + 1
    rules = ctx.setup.rules.approvals
    until = ctx.now + timedelta(minutes=rules.lockout_min) if failures >= rules.pin_tries else None
    effects: list[Effect] = [
        RecordPinFailure(cashier_id, failures, until, ctx.now),
        ctx.audit(state, "pin_failed", cashier=cashier_id, step=step, failures=failures),
    ]
    if until is None:
        return tuple(effects), None
    effects.append(
        ctx.audit(
            state,
            "locked",
            cashier=cashier_id,
            until=timestamp(until),
            minutes=rules.lockout_min,
        )
    )
    return tuple(effects), Message.of(Msg.ID_LOCKED, cashier=cashier_id, minutes=rules.lockout_min)


def right_pin(cashier_id: str, ctx: Ctx) -> tuple[Effect, ...]:
    """A right PIN starts the count again (nothing to write when it is already zero)."""
    if ctx.ports.cashiers.pin_record(cashier_id) == PinRecord():
        return ()
    return (ClearPinFailures(cashier_id),)
