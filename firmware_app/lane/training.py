"""Training mode: a supervisor switches it on and off with ``TRAINING`` (no sale open).

While it is on, sales are marked ``training`` (``paying._close``): they take the
training counter's numbers, print a banner, move no stock and count in no report.
The mode is saved (``SaveTraining``), so a restart keeps it, and it stays over a
sign-off: it belongs to the lane, not to the cashier.
"""

from __future__ import annotations

from dataclasses import replace

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import SaveTraining
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.state import Action, Approval, LaneState


def asked(state: LaneState, key: str, ctx: Ctx) -> Approval | Outcome:
    """What ``TRAINING`` asks a supervisor to approve, or the refusal."""
    if state.sale is not None:  # a sale is either training or real, never half of each
        return refuse(state, Msg.SALE_OPEN)
    return Approval(Action.TRAINING)


def toggled(state: LaneState, approval: Approval, ctx: Ctx) -> Outcome:
    on = not state.training
    after = replace(
        state, training=on, message=Message.of(Msg.TRAINING_ON if on else Msg.TRAINING_OFF)
    )
    if on:
        event = ctx.audit(after, "training_on", supervisor=approval.supervisor)
    else:
        event = ctx.audit(after, "training_off", supervisor=approval.supervisor)
    return after, (SaveTraining(on), event)
