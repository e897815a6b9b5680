"""Opening the lane database.

One SQLite file in WAL mode with ``synchronous=FULL``: with ``NORMAL`` a power
cut can roll back the last commits, and a sale the customer saw as paid must
survive. peewee gives each thread its own connection; the lane loop is the only
writer of sales, the sync thread writes only outbox acknowledgements, and
``BEGIN IMMEDIATE`` plus a busy timeout serialise the two.
"""

from __future__ import annotations

import os
from pathlib import Path

import peewee

PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", "full"),
    ("foreign_keys", 1),
    ("busy_timeout", 10000),
)


def open_database(path: str | os.PathLike[str]) -> peewee.SqliteDatabase:
    """Open (creating if needed) the database at ``path`` with every table in place."""
    from firmware_app.store import models

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE")
    db.bind(models.ALL_MODELS)
    db.connect(reuse_if_open=True)
    with db.atomic():
        db.create_tables(models.ALL_MODELS)
    return db
