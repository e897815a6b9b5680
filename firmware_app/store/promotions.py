"""Promotions and the loyalty rule in ``catalog.db``: applied with the items of a change,
in its transaction, and read by the lane through a cache.

The pricing engine asks for every promotion on every scan; they change only with the
catalog, so the lane reads them from SQLite once per change and keeps them in memory.
A change applied on another connection (the catalog thread, a technician's import)
shows in SQLite's ``PRAGMA data_version``, which costs no table read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from typing import Any

import peewee

from firmware_app.errors import CatalogError
from firmware_app.lane.pricing import PromotionBook
from firmware_app.lane.promotions import Loyalty, Promotion
from firmware_app.store.catalog_doc import CatalogChange
from firmware_app.store.promotions_doc import (
    LOYALTY,
    loyalty_json,
    parse_loyalty,
    parse_promotion,
    parse_promotions,
    parse_removed_promotions,
    promotion_json,
)

log = logging.getLogger(__name__)


def staged(change: CatalogChange) -> tuple[str, str, str | None]:
    """A part's promotions, removed promotion ids and loyalty rule (None: not sent), as
    the staging table keeps them."""
    return (
        json.dumps([promotion_json(p) for p in change.promotions], ensure_ascii=False),
        json.dumps(change.removed_promotions, ensure_ascii=False),
        loyalty_json(change.loyalty) if change.loyalty_sent else None,
    )


def apply_offers(
    conn: sqlite3.Connection, t: dict[str, str], stage_part: str, version: int, snapshot: bool
) -> None:
    """Apply the promotions and loyalty rule of the staged ``version`` (in ``stage_part``)
    after its items: inside the caller's transaction, so a ``CatalogError`` here rolls
    the items back too. ``t``: the catalog's table names by model name."""
    rows = conn.execute(
        f"SELECT part, promotions, removed_promotions, loyalty FROM {stage_part} "
        "WHERE version = ? ORDER BY part",
        (version,),
    ).fetchall()
    sent: dict[str, tuple[Promotion, str]] = {}  # by id: the promotion, where it came
    removed: set[str] = set()
    loyalties: set[str] = set()
    for part, promotions, removed_ids, loyalty in rows:
        where = "promotions" if len(rows) == 1 else f"part {part}: promotions"
        for i, p in enumerate(parse_promotions(_json(promotions, where), where)):
            if p.id in sent:
                raise CatalogError(
                    f"version {version} (all parts): promotion {p.id} is in two parts"
                )
            sent[p.id] = (p, f"{where}[{i}] ({p.id})")
        removed.update(parse_removed_promotions(_json(removed_ids, "removed_promotions")))
        if loyalty is not None:
            loyalties.add(loyalty)
    if len(loyalties) > 1:
        raise CatalogError(f"version {version} (all parts): the parts send different loyalty")
    table = t["CatalogPromotion"]
    if snapshot:
        conn.execute(f"DELETE FROM {table}")
    else:
        # As for items: what a change removes goes first, what it sends is then written.
        conn.executemany(f"DELETE FROM {table} WHERE id = ?", ((pid,) for pid in removed))
    conn.executemany(
        f"INSERT OR REPLACE INTO {table} (id, type, body) VALUES (?, ?, ?)",
        (
            (p.id, p.type.value, json.dumps(promotion_json(p), ensure_ascii=False))
            for p, _ in sent.values()
        ),
    )
    _check_items(conn, t, sent)
    if snapshot or loyalties:
        rule = loyalties.pop() if loyalties else "null"
        if rule == "null":
            conn.execute(f"DELETE FROM {t['Meta']} WHERE key = ?", (LOYALTY,))
        else:
            conn.execute(
                f"INSERT OR REPLACE INTO {t['Meta']} (key, value) VALUES (?, ?)", (LOYALTY, rule)
            )


def _check_items(
    conn: sqlite3.Connection, t: dict[str, str], sent: dict[str, tuple[Promotion, str]]
) -> None:
    """Every sku a promotion names is an item of the catalog as the change leaves it."""
    missing = conn.execute(
        f"SELECT p.id, j.value FROM {t['CatalogPromotion']} p, json_each(p.body, '$.items') j "
        f"WHERE NOT EXISTS (SELECT 1 FROM {t['CatalogItem']} i WHERE i.sku = j.value)"
    ).fetchall()
    if not missing:
        return
    order = {pid: n for n, pid in enumerate(sent)}
    pid, sku = min(missing, key=lambda row: (order.get(row[0], len(order)), row[0], row[1]))
    if pid in sent:
        raise CatalogError(f'{sent[pid][1]}.items: unknown sku "{sku}"')
    raise CatalogError(
        f'promotion {pid} (in the lane\'s catalog).items: sku "{sku}" is removed by this '
        "change; send the promotion again without it, or remove the promotion"
    )


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # a part staged by an older version
        raise CatalogError(f"{where}: the staged part is not JSON the lane can read") from e


class OfferCache:
    """The catalog's promotions (by id) and loyalty rule, read from SQLite again only
    after the catalog changed: ``forget`` after a change on this connection, and
    ``PRAGMA data_version`` for one committed on any other."""

    def __init__(self, db: peewee.SqliteDatabase, t: dict[str, str]) -> None:
        self.db = db
        self._t = t
        self._lock = threading.Lock()
        # (connection, its data_version when read), promotions, loyalty
        self._loaded: tuple[tuple[Any, int], tuple[Promotion, ...], Loyalty | None] | None = None

    def forget(self) -> None:
        with self._lock:
            self._loaded = None

    def get(self) -> tuple[tuple[Promotion, ...], Loyalty | None]:
        conn = self.db.connection()
        # Read before the rows: a change committed in between is seen next time.
        stamp = (conn, conn.execute("PRAGMA data_version").fetchone()[0])
        loaded = self._loaded
        if loaded is not None and loaded[0][0] is stamp[0] and loaded[0][1] == stamp[1]:
            return loaded[1], loaded[2]
        read, loyalty = self._read(conn)
        # Set up once per catalog change: every recompute of every sale uses it.
        promotions = PromotionBook(read)
        with self._lock:
            self._loaded = (stamp, promotions, loyalty)
        return promotions, loyalty

    def _read(self, conn: sqlite3.Connection) -> tuple[tuple[Promotion, ...], Loyalty | None]:
        promotions = []
        for pid, body in conn.execute(
            f"SELECT id, body FROM {self._t['CatalogPromotion']} ORDER BY id"
        ).fetchall():
            try:
                promotions.append(parse_promotion(json.loads(body), f"promotion {pid}"))
            except (CatalogError, ValueError, RecursionError) as e:
                # Written checked; only a hand-edited file gets here. The sale goes on
                # without that promotion rather than stopping.
                log.warning("catalog.db: promotion %s left out: %s", pid, e)
        rows = conn.execute(
            f"SELECT value FROM {self._t['Meta']} WHERE key = ?", (LOYALTY,)
        ).fetchall()
        loyalty = None
        if rows:
            try:
                loyalty = parse_loyalty(json.loads(rows[0][0]))
            except (CatalogError, ValueError, RecursionError) as e:
                log.warning("catalog.db: loyalty rule left out: %s", e)
        return tuple(promotions), loyalty
