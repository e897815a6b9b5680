"""Cash movements, training mode and the day's reports in the lane database.

The lane loop's ``SalesStore.apply`` writes cash movements and the training flag
here, inside its one transaction. Reports are read from the store only, so the
same numbers come back whenever they are asked for again (``firmware-lane report``).
"""

from __future__ import annotations

from typing import Any

from firmware_app.lane.cash_movement import CashMovement
from firmware_app.lane.timestamps import timestamp

TRAINING = "lane.training"  # Meta key: "1" while the lane is in training mode


def insert_movement(m: Any, movement: CashMovement) -> None:
    """Store a paid-in or paid-out (``m``: the database's models, ``models_of``)."""
    m.CashMovement.insert(
        id=movement.id,
        kind=movement.kind.value,
        amount=movement.amount,
        reason=movement.reason,
        cashier=movement.cashier,
        supervisor=movement.supervisor,
        at=timestamp(movement.at),
    ).execute()


def save_training(m: Any, on: bool) -> None:
    if on:
        m.Meta.insert(key=TRAINING, value="1").on_conflict_replace().execute()
    else:
        m.Meta.delete().where(m.Meta.key == TRAINING).execute()


def load_training(m: Any) -> bool:
    """Training mode survives a restart: a lane switched off in training comes back in it."""
    return m.Meta.get_or_none(m.Meta.key == TRAINING) is not None


def next_training_no(m: Any) -> int:
    last = (
        m.TrainingSale.select(m.TrainingSale.training_no)
        .order_by(m.TrainingSale.training_no.desc())
        .first()
    )
    return (last.training_no if last else 0) + 1
