"""Tables of the lane database.

Money columns are integers in minor units; quantities are integer thousandths
of the unit (grams for ``kg``); timestamps are RFC 3339 strings with offset.
"""

from __future__ import annotations

import peewee


class BaseModel(peewee.Model):
    class Meta:
        database = None  # bound by store.db.open_database


class Meta(BaseModel):
    """Small named values: catalog version, next outbox seq, last journal hash."""

    key = peewee.TextField(primary_key=True)
    value = peewee.TextField()


class OutboxMessage(BaseModel):
    """One uplink MQTT message, kept until the store server's ``ack`` covers its seq.

    ``seq`` is the lane's gapless counter, assigned in the same transaction that
    commits the record the message describes.
    """

    seq = peewee.IntegerField(primary_key=True)
    topic = peewee.TextField()
    payload = peewee.BlobField()
    created_at = peewee.TextField()
    acked_at = peewee.TextField(null=True, index=True)


ALL_MODELS: list[type[BaseModel]] = [Meta, OutboxMessage]
