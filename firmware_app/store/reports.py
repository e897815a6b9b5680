"""Cash movements, training mode and the day's reports in the lane database.

The lane loop's ``SalesStore.apply`` writes cash movements and the training flag
here, inside its one transaction. Reports are read from the store only, so the
same numbers come back whenever they are asked for again (``firmware-lane report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firmware_app.lane.cash_movement import CashMovement
from firmware_app.lane.sale import FinishedSale
from firmware_app.lane.timestamps import timestamp
from firmware_app.store.journal import GENESIS_HASH, canonical, link_hash
from firmware_app.store.outbox import Outbox
from firmware_app.store.ports import UplinkMessages

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


def commit_training(
    m: Any, outbox: Outbox, messages: UplinkMessages, record: FinishedSale, body: Mapping[str, Any]
) -> None:
    """A training sale: its row in ``TrainingSale`` and its sale message (``training:
    true``, no stock message), never a ``Transaction`` row or a journal entry, so it
    takes no real receipt number and counts in no report. Its ``journal_hash`` links
    its record to the genesis hash only: it is outside the lane's journal chain."""
    record_text = canonical(body)
    closed_at = str(body["closed_at"])
    m.TrainingSale.insert(
        sale_id=record.sale_id,
        training_no=record.receipt_no,
        closed_at=closed_at,
        record=record_text,
    ).execute()
    digest = link_hash(GENESIS_HASH, record_text)
    outbox.append(
        messages.topic("sales"),
        lambda seq: messages.sale(record_text, at=closed_at, seq=seq, journal_hash=digest),
        record.closed_at,
    )
