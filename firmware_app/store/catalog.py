"""The catalog in SQLite: applying versioned changes, and lookups by index.

Nothing is loaded whole at start-up (Odoo #65376: 300k products took minutes
to open a session); every lookup is one indexed query.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import peewee

from firmware_app.errors import CatalogError, CatalogGap, CatalogOlder
from firmware_app.lane.catalog import Item, Unit
from firmware_app.store.catalog_doc import CatalogChange
from firmware_app.store.db import models_of

VERSION = "catalog.version"
BATCH = 500  # rows per INSERT: well under SQLite's variable limit


class StoreCatalog:
    """The catalog port of the lane core (``by_code``, ``by_plu``) plus applying changes."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        """``db``: the catalog database (``store.db.open_catalog``)."""
        self.db = db
        self.m = models_of(db)

    def version(self) -> int:
        row = self.m.Meta.get_or_none(self.m.Meta.key == VERSION)
        return int(row.value) if row else 0

    def by_code(self, key: str) -> Item | None:
        item, code = self.m.CatalogItem, self.m.ItemCode
        row = item.select().join(code, on=(code.sku == item.sku)).where(code.code == key).first()
        return _item(row) if row else None

    def by_plu(self, plu: int) -> Item | None:
        row = (
            self.m.CatalogItem.select()
            .where(self.m.CatalogItem.plu == plu)
            .order_by(self.m.CatalogItem.sku)
            .first()
        )
        return _item(row) if row else None

    def count(self) -> int:
        return int(self.m.CatalogItem.select().count())

    def apply(self, change: CatalogChange, *, allow_older: bool = False) -> None:
        """Apply a snapshot or a delta atomically; raises ``CatalogError`` and changes nothing
        when the delta's ``base_version`` is not this lane's version (``CatalogGap``), a
        snapshot is older than this lane's version (``CatalogOlder``; ``allow_older`` takes
        it all the same), or a code or PLU would belong to two items.

        A snapshot of the lane's own version is taken again: it goes back nowhere.
        """
        with self.db.atomic():
            current = self.version()
            if change.is_snapshot and change.version < current and not allow_older:
                # Messages may come late or twice (a snapshot answered to an old request,
                # a retained or re-published one): going back would sell at old prices.
                raise CatalogOlder(
                    f"snapshot version {change.version} is older than the lane's catalog "
                    f"version {current}"
                )
            if change.is_snapshot:
                self.m.ItemCode.delete().execute()
                self.m.CatalogItem.delete().execute()
            elif change.base_version != current:
                raise CatalogGap(
                    f"base_version {change.base_version} does not match the lane's "
                    f"catalog version {current}"
                )
            elif change.version <= current:
                raise CatalogError(f"version {change.version} is not newer than {current}")
            self._upsert(change)
            self.m.Meta.insert(
                key=VERSION, value=str(change.version)
            ).on_conflict_replace().execute()

    def stage(self, change: CatalogChange, payload: bytes, at: datetime) -> list[bytes] | None:
        """Keep one part of a change sent in parts. When every part of its version has
        come, return their payloads (and forget them); until then, None."""
        part = self.m.CatalogPart
        with self.db.atomic():
            part.insert(
                version=change.version,
                part=change.part,
                parts=change.parts,
                payload=payload,
                received_at=at.isoformat(timespec="seconds"),
            ).on_conflict_replace().execute()
            rows = list(
                part.select().where(part.version == change.version, part.parts == change.parts)
            )
            if len(rows) < change.parts:
                return None
            part.delete().where(part.version <= change.version).execute()
        return [bytes(row.payload) for row in rows]

    def _upsert(self, change: CatalogChange) -> None:
        skus = [item.sku for item in change.items] + list(change.removed)
        for i in range(0, len(skus), BATCH):
            chunk = skus[i : i + BATCH]
            self.m.ItemCode.delete().where(self.m.ItemCode.sku.in_(chunk)).execute()
            self.m.CatalogItem.delete().where(self.m.CatalogItem.sku.in_(chunk)).execute()
        rows = [_row(item) for item in change.items]
        for i in range(0, len(rows), BATCH):
            self.m.CatalogItem.insert_many(rows[i : i + BATCH]).execute()
        codes = [{"code": key, "sku": sku} for key, sku in change.codes]
        for i in range(0, len(codes), BATCH):
            try:
                self.m.ItemCode.insert_many(codes[i : i + BATCH]).execute()
            except peewee.IntegrityError as e:
                clash = _clashing(self.m.ItemCode, codes[i : i + BATCH])
                raise CatalogError(f"code {clash} already belongs to another item") from e
        self._check_plus(change)

    def _check_plus(self, change: CatalogChange) -> None:
        """Refuse a PLU of the change that an item it keeps (neither replaced nor
        removed) already has: by PLU and by label the lane would sell the wrong one."""
        item = self.m.CatalogItem
        new = {it.plu: (i, it.sku) for i, it in enumerate(change.items) if it.plu is not None}
        plus = list(new)
        for start in range(0, len(plus), BATCH):
            chunk = plus[start : start + BATCH]
            rows = item.select(item.plu, item.sku).where(item.plu.in_(chunk)).tuples()
            for plu, sku in rows:
                index, own = new[plu]
                if sku != own:
                    raise CatalogError(
                        f"items[{index}] (sku {own}).plu: {plu} is also the PLU of sku {sku}, "
                        "which this change keeps"
                    )


def _clashing(item_code: type, codes: list[dict[str, str]]) -> str:
    keys = [c["code"] for c in codes]
    row = item_code.select().where(item_code.code.in_(keys)).first()
    return f"{row.code} (sku {row.sku})" if row else "?"


def _row(item: Item) -> dict[str, object]:
    return {
        "sku": item.sku,
        "name": item.name,
        "unit": item.unit.value,
        "price": item.price,
        "tax_rate": str(item.tax_rate),
        "plu": item.plu,
        "age_restricted": item.age_restricted,
        "active": item.active,
    }


def _item(row: peewee.Model) -> Item:
    return Item(
        sku=row.sku,
        name=row.name,
        unit=Unit(row.unit),
        price=row.price,
        tax_rate=Decimal(row.tax_rate),
        plu=row.plu,
        age_restricted=bool(row.age_restricted),
        active=bool(row.active),
    )
