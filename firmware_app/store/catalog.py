"""The catalog in SQLite: applying versioned changes, and lookups by index.

Nothing is loaded whole at start-up (Odoo #65376: 300k products took minutes
to open a session); every lookup is one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal
from typing import Any

import peewee

from firmware_app.errors import CatalogError, CatalogGap, CatalogOlder
from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.promotions import Loyalty, Promotion
from firmware_app.store import promotions as offers
from firmware_app.store.catalog_doc import CatalogChange
from firmware_app.store.db import models_of

VERSION = "catalog.version"
STAGE_TABLES = ("CatalogStagePart", "CatalogStageItem", "CatalogStageCode", "CatalogStageRemoved")
ITEM_COLUMNS = (
    "sku, name, unit, price, tax_rate, plu, age_restricted, active, "
    # Restrictions (age checks, sale hours) and the member price:
    "department, min_age, sale_from, sale_until, member_price"
)


@dataclass(frozen=True)
class Applied:
    """What an applied change did: its version, items written and skus removed."""

    version: int
    items: int
    removed: int


class StoreCatalog:
    """The catalog port of the lane core (``by_code``, ``by_plu``) plus applying changes.

    Lookups and the bulk writes of a change are plain SQL on peewee's connection:
    a scan is one indexed query, and a 100,000-item snapshot goes in with
    ``executemany`` (peewee's query builder cost more than SQLite did). A change goes
    through the staging tables first (a change in parts waits there, part by part,
    so the lane never holds more than one part in memory), and from them into the
    catalog in one transaction, after every check.
    """

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        """``db``: the catalog database (``store.db.open_catalog``)."""
        self.db = db
        self.m = models_of(db)
        t = {name: getattr(self.m, name)._meta.table_name for name in vars(self.m)}
        self._t = t
        # The staging tables: durable ones for a change in parts (they wait across
        # restarts), and the same tables in the connection's temp schema for a change in
        # one document, which needs no second durable copy of itself.
        self._stages = {
            schema: {name: f"{schema}.{t[name]}" for name in STAGE_TABLES}
            for schema in ("main", "temp")
        }
        self._by_code_sql = (
            f"SELECT {_prefixed('i.', ITEM_COLUMNS)} FROM {t['ItemCode']} c "
            f"JOIN {t['CatalogItem']} i ON i.sku = c.sku WHERE c.code = ?"
        )
        self._by_plu_sql = (
            f"SELECT {ITEM_COLUMNS} FROM {t['CatalogItem']} WHERE plu = ? ORDER BY sku LIMIT 1"
        )
        self._offers = offers.OfferCache(db, t)  # promotions and loyalty

    def _sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.connection().execute(sql, params).fetchall()

    def version(self) -> int:
        rows = self._sql(f"SELECT value FROM {self._t['Meta']} WHERE key = ?", (VERSION,))
        return int(rows[0][0]) if rows else 0

    def by_code(self, key: str) -> Item | None:
        rows = self._sql(self._by_code_sql, (key,))
        return _item(rows[0]) if rows else None

    def by_plu(self, plu: int) -> Item | None:
        rows = self._sql(self._by_plu_sql, (plu,))
        return _item(rows[0]) if rows else None

    # Promotions and loyalty: what the pricing engine reads on every scan, from memory.
    def promotions(self) -> tuple[Promotion, ...]:
        """Every promotion of the catalog, by id, whatever its window."""
        return self._offers.get()[0]

    def loyalty(self) -> Loyalty | None:
        """The points members earn, or None when the catalog has no loyalty rule."""
        return self._offers.get()[1]

    def count(self) -> int:
        return int(self._sql(f"SELECT COUNT(*) FROM {self._t['CatalogItem']}")[0][0])

    def apply(self, change: CatalogChange, *, allow_older: bool = False) -> Applied:
        """Apply a whole change (one document) atomically; raises ``CatalogError`` and
        changes nothing when the delta's ``base_version`` is not this lane's version
        (``CatalogGap``), a snapshot is older than this lane's version (``CatalogOlder``;
        ``allow_older`` takes it all the same), or a code or PLU would belong to two items.

        A snapshot of the lane's own version is taken again: it goes back nowhere.
        """
        whole = replace(change, part=1, parts=1)
        st = self._temp_stage()
        with self.db.atomic():
            try:
                self._stage(whole, "", st)
                applied = self._apply_staged(change.version, st, allow_older=allow_older)
            finally:
                self._forget(change.version, st)
        self._offers.forget()
        return applied

    def stage(self, change: CatalogChange, at: datetime) -> Applied | None:
        """Keep one part of a change sent in parts (a part sent again replaces itself).
        When every part of its version is in, apply them all in one transaction and
        return what was applied; until then, None. ``CatalogError`` (nothing applied,
        and the version's parts forgotten) when the parts do not make one valid change.
        """
        st = self._stages["main"]
        with self.db.atomic():
            self._stage(change, at.isoformat(timespec="seconds"), st)
            have = self._sql(
                f"SELECT COUNT(*) FROM {st['CatalogStagePart']} WHERE version = ?",
                (change.version,),
            )[0][0]
            if have < change.parts:
                return None
        try:
            with self.db.atomic():
                applied = self._apply_staged(change.version, st)
                self._forget(change.version, st)
            self._offers.forget()
            return applied
        except CatalogError:
            with self.db.atomic():
                self._forget(change.version, st)
            raise

    def _temp_stage(self) -> dict[str, str]:
        """The temp schema's staging tables, made on this connection's first use."""
        conn = self.db.connection()
        st = self._stages["temp"]
        for name in STAGE_TABLES:
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self._t[name]} AS "
                f"SELECT * FROM {self._stages['main'][name]} WHERE 0"
            )
        return st

    # --- staging -------------------------------------------------------------------------

    def _stage(self, change: CatalogChange, received_at: str, st: dict[str, str]) -> None:
        conn, v, p = self.db.connection(), change.version, change.part
        for table in ("CatalogStageItem", "CatalogStageCode", "CatalogStageRemoved"):
            conn.execute(f"DELETE FROM {st[table]} WHERE version = ? AND part = ?", (v, p))
        conn.execute(
            f"INSERT OR REPLACE INTO {st['CatalogStagePart']} "
            "(version, part, parts, base_version, received_at, "
            "promotions, removed_promotions, loyalty) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (v, p, change.parts, change.base_version, received_at, *offers.staged(change)),
        )
        conn.executemany(
            f"INSERT INTO {st['CatalogStageItem']} (version, part, pos, {ITEM_COLUMNS}) "
            f"VALUES (?, ?, ?, {', '.join('?' * len(ITEM_COLUMNS.split(',')))})",
            (
                (v, p, pos, i.sku, i.name, i.unit.value, i.price, str(i.tax_rate), i.plu,
                 i.age_restricted, i.active, *_restriction_values(i))
                for pos, i in enumerate(change.items)
            ),
        )  # fmt: skip
        conn.executemany(
            f"INSERT INTO {st['CatalogStageCode']} (version, part, code, sku) VALUES (?, ?, ?, ?)",
            ((v, p, key, sku) for key, sku in change.codes),
        )
        conn.executemany(
            f"INSERT INTO {st['CatalogStageRemoved']} (version, part, sku) VALUES (?, ?, ?)",
            ((v, p, sku) for sku in change.removed),
        )

    def _forget(self, upto: int, st: dict[str, str]) -> None:
        """Drop staged parts of every version up to ``upto``."""
        conn = self.db.connection()
        for name in STAGE_TABLES:
            later = conn.execute(f"SELECT 1 FROM {st[name]} WHERE version > ? LIMIT 1", (upto,))
            if later.fetchone() is None:
                # Nearly always: no later version waits. A DELETE without WHERE is
                # SQLite's truncation, far cheaper than 100,000 row deletions.
                conn.execute(f"DELETE FROM {st[name]}")
            else:
                conn.execute(f"DELETE FROM {st[name]} WHERE version <= ?", (upto,))

    def _apply_staged(
        self, version: int, st: dict[str, str], *, allow_older: bool = False
    ) -> Applied:
        """Check the staged parts of ``version`` as one change and apply it; inside the
        caller's transaction (an error rolls everything back)."""
        t = self._t
        base = self._base_version(version, st)
        current = self.version()
        if base is None and version < current and not allow_older:
            # Messages may come late or twice (a snapshot answered to an old request,
            # a retained or re-published one): going back would sell at old prices.
            raise CatalogOlder(
                f"snapshot version {version} is older than the lane's catalog version {current}"
            )
        if base is not None and base != current:
            raise CatalogGap(
                f"base_version {base} does not match the lane's catalog version {current}"
            )
        if base is not None and version <= current:
            raise CatalogError(f"version {version} is not newer than {current}")
        self._unique_across_parts(version, st)
        conn = self.db.connection()
        if base is None:
            conn.execute(f"DELETE FROM {t['ItemCode']}")
            conn.execute(f"DELETE FROM {t['CatalogItem']}")
        else:
            touched = (
                f"SELECT sku FROM {st['CatalogStageItem']} WHERE version = ?1 UNION "
                f"SELECT sku FROM {st['CatalogStageRemoved']} WHERE version = ?1"
            )
            conn.execute(f"DELETE FROM {t['ItemCode']} WHERE sku IN ({touched})", (version,))
            conn.execute(f"DELETE FROM {t['CatalogItem']} WHERE sku IN ({touched})", (version,))
            self._check_kept(version, st)
        items = conn.execute(
            f"INSERT INTO {t['CatalogItem']} ({ITEM_COLUMNS}) SELECT {ITEM_COLUMNS} "
            f"FROM {st['CatalogStageItem']} WHERE version = ? ORDER BY part, pos",
            (version,),
        ).rowcount
        conn.execute(
            f"INSERT INTO {t['ItemCode']} (code, sku) SELECT code, sku "
            f"FROM {st['CatalogStageCode']} WHERE version = ?",
            (version,),
        )
        removed = conn.execute(
            f"SELECT COUNT(*) FROM {st['CatalogStageRemoved']} WHERE version = ?", (version,)
        ).fetchone()[0]
        offers.apply_offers(conn, t, st["CatalogStagePart"], version, snapshot=base is None)
        conn.execute(
            f"INSERT OR REPLACE INTO {t['Meta']} (key, value) VALUES (?, ?)",
            (VERSION, str(version)),
        )
        return Applied(version, int(items), int(removed))

    def _base_version(self, version: int, st: dict[str, str]) -> int | None:
        """The staged parts' common ``base_version``; ``CatalogError`` when they differ."""
        rows = self._sql(
            f"SELECT part, parts, base_version FROM {st['CatalogStagePart']} "
            "WHERE version = ? ORDER BY part",
            (version,),
        )
        first = rows[0]
        for part, parts, base in rows[1:]:
            if (parts, base) != first[1:]:
                raise CatalogError(f"version {version}: part {part} does not match part 1")
        return None if first[2] is None else int(first[2])

    def _unique_across_parts(self, version: int, st: dict[str, str]) -> None:
        """A sku, a code and a PLU each belong to one item of the change, whatever part
        they came in (each part was checked on its own when it was parsed)."""
        for what, table, column in (
            ("sku", "CatalogStageItem", "sku"),
            ("code", "CatalogStageCode", "code"),
            ("PLU", "CatalogStageItem", "plu"),
        ):
            rows = self._sql(
                f"SELECT {column} FROM {st[table]} WHERE version = ? AND {column} IS NOT NULL "
                f"GROUP BY {column} HAVING COUNT(*) > 1 LIMIT 1",
                (version,),
            )
            if rows:
                raise CatalogError(
                    f"version {version} (all parts): {what} {rows[0][0]} is in two parts"
                )

    def _check_kept(self, version: int, st: dict[str, str]) -> None:
        """Of a delta, after the items it replaces or removes are gone: no code or PLU
        of the change may belong to an item it keeps (the lane would sell the wrong one)."""
        t = self._t
        clash = self._sql(
            f"SELECT s.code, c.sku FROM {st['CatalogStageCode']} s "
            f"JOIN {t['ItemCode']} c ON c.code = s.code WHERE s.version = ? LIMIT 1",
            (version,),
        )
        if clash:
            raise CatalogError(
                f"code {clash[0][0]} (sku {clash[0][1]}) already belongs to another item"
            )
        clash = self._sql(
            f"SELECT s.pos, s.sku, s.plu, i.sku FROM {st['CatalogStageItem']} s "
            f"JOIN {t['CatalogItem']} i ON i.plu = s.plu WHERE s.version = ? LIMIT 1",
            (version,),
        )
        if clash:
            pos, own, plu, sku = clash[0]
            raise CatalogError(
                f"items[{pos}] (sku {own}).plu: {plu} is also the PLU of sku {sku}, "
                "which this change keeps"
            )


def _prefixed(prefix: str, columns: str) -> str:
    return ", ".join(prefix + c.strip() for c in columns.split(","))


def _restriction_values(item: Item) -> tuple[Any, ...]:
    """department, min_age, sale_from, sale_until ("HH:MM"), member_price."""
    start, end = item.sale_hours or (None, None)
    return (
        item.department,
        item.min_age,
        start.strftime("%H:%M") if start else None,
        end.strftime("%H:%M") if end else None,
        item.member_price,
    )


def _item(row: tuple[Any, ...]) -> Item:
    sku, name, unit, price, tax_rate, plu, age_restricted, active = row[:8]
    department, min_age, sale_from, sale_until, member_price = row[8:]
    hours = None
    if sale_from is not None and sale_until is not None:
        hours = (time.fromisoformat(sale_from), time.fromisoformat(sale_until))
    return Item(
        sku=sku,
        name=name,
        unit=Unit(unit),
        price=price,
        tax_rate=Decimal(tax_rate),
        plu=plu,
        age_restricted=bool(age_restricted),
        active=bool(active),
        department=department,
        min_age=min_age,
        sale_hours=hours,
        member_price=member_price,
    )
