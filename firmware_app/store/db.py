"""Opening the lane's databases.

Two SQLite files, both in WAL mode with ``synchronous=FULL`` (with ``NORMAL`` a
power cut can roll back the last commits, and a sale the customer saw as paid
must survive): ``lane.db`` for sales, journal, outbox and cashiers, and
``catalog.db`` for the catalog, so that applying a large catalog never holds
the write lock a scan needs. peewee gives each thread its own connection; the
lane loop is the only writer of sales, the sync thread writes only outbox
acknowledgements, and ``BEGIN IMMEDIATE`` plus a busy timeout serialise them.

Each open database gets its own model classes bound to it (``models_of``):
peewee's ``Model.bind`` is global, and a process may hold several lanes'
databases (benchmarks, tests).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import peewee
from playhouse.migrate import SqliteMigrator, migrate

from firmware_app.errors import StoreError
from firmware_app.store import models

PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", "full"),
    ("foreign_keys", 1),
    ("busy_timeout", 10000),
)


def open_database(path: str | os.PathLike[str]) -> peewee.SqliteDatabase:
    """Open (creating if needed) the lane database at ``path`` with every table in place."""
    db = _open(path, models.LANE_MODELS)
    # Plain module-level models follow the lane database too, for code that has no db
    # at hand; the store's own classes always use models_of(db).
    db.bind(models.LANE_MODELS)
    return db


def open_catalog(path: str | os.PathLike[str]) -> peewee.SqliteDatabase:
    """Open (creating if needed) the catalog database at ``path``."""
    db = _open(path, models.CATALOG_MODELS)
    with db.atomic():
        for table in models.RETIRED_CATALOG_TABLES:
            # Parts kept by an older version as whole payloads: the store server sends
            # an unfinished change again when the lane asks for a snapshot.
            db.execute_sql(f"DROP TABLE IF EXISTS {table}")
    return db


def models_of(db: peewee.SqliteDatabase) -> Any:
    """The model classes bound to ``db``: ``models_of(db).OutboxMessage.select()``."""
    return db.lane_models


def _open(path: str | os.PathLike[str], model_list: list[type[models.BaseModel]]):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE")
    bound = [_bind(model, db) for model in model_list]
    db.lane_models = SimpleNamespace(**{m.__name__: m for m in bound})
    db.connect(reuse_if_open=True)
    with db.atomic():
        db.create_tables(bound)
        _add_new_columns(db, bound)
    _require_writable(db, Path(path), bound[0]._meta.table_name)
    return db


def _require_writable(db: peewee.SqliteDatabase, path: Path, table: str) -> None:
    """SQLite opens a file it may not write read-only, without a word, and the lane would
    start and then refuse every key ("Cannot save"): try a write that changes nothing."""
    try:
        db.execute_sql(f'DELETE FROM "{table}" WHERE 0')
    except peewee.OperationalError as e:  # peewee's, around SQLite's
        if "readonly" not in str(e):
            raise
        db.close()
        info = path.stat()
        raise StoreError(
            f"{path}: cannot write: {e} (owner uid {info.st_uid}, mode {info.st_mode & 0o777:o}):"
            " the lane's user must own it (sudo scripts/install-pi gives it back)"
        ) from e


def _add_new_columns(db: peewee.SqliteDatabase, bound: list[type[models.BaseModel]]) -> None:
    """A file made by an older version gets the columns added since (``create_tables``
    leaves an existing table as it is). Such columns are nullable or have a default:
    the rows already there read as "none" (restrictions: an old ``catalog.db``)."""
    migrator = SqliteMigrator(db)
    for model in bound:
        table = model._meta.table_name
        have = {column.name for column in db.get_columns(table)}
        for field in model._meta.sorted_fields:
            if field.column_name not in have:
                migrate(migrator.add_column(table, field.column_name, field))


def _bind(model: type[models.BaseModel], db: peewee.SqliteDatabase) -> type[models.BaseModel]:
    meta = type("Meta", (), {"database": db, "table_name": model._meta.table_name})
    return type(model.__name__, (model,), {"Meta": meta, "__module__": model.__module__})


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Write atomically on ``conn`` (autocommit mode, as peewee's and ours are): inside
    the caller's transaction as a savepoint, else as ``BEGIN IMMEDIATE`` … ``COMMIT``
    (immediate: a reader turning writer mid-transaction could fail with SQLITE_BUSY
    instead of waiting its turn)."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT write")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO write")
            conn.execute("RELEASE write")
            raise
        conn.execute("RELEASE write")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
