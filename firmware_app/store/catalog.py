"""The catalog in SQLite: applying versioned changes, and lookups by index.

Nothing is loaded whole at start-up (Odoo #65376: 300k products took minutes
to open a session); every lookup is one indexed query.
"""

from __future__ import annotations

from decimal import Decimal

import peewee

from firmware_app.errors import CatalogError, CatalogGap
from firmware_app.lane.catalog import Item, Unit
from firmware_app.store.catalog_doc import CatalogChange
from firmware_app.store.models import CatalogItem, ItemCode, Meta

VERSION = "catalog.version"
BATCH = 500  # rows per INSERT: well under SQLite's variable limit


class StoreCatalog:
    """The catalog port of the lane core (``by_code``, ``by_plu``) plus applying changes."""

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self.db = db

    def version(self) -> int:
        row = Meta.get_or_none(Meta.key == VERSION)
        return int(row.value) if row else 0

    def by_code(self, key: str) -> Item | None:
        row = (
            CatalogItem.select()
            .join(ItemCode, on=(ItemCode.sku == CatalogItem.sku))
            .where(ItemCode.code == key)
            .first()
        )
        return _item(row) if row else None

    def by_plu(self, plu: int) -> Item | None:
        row = CatalogItem.select().where(CatalogItem.plu == plu).order_by(CatalogItem.sku).first()
        return _item(row) if row else None

    def count(self) -> int:
        return int(CatalogItem.select().count())

    def apply(self, change: CatalogChange) -> None:
        """Apply a snapshot or a delta atomically; raises ``CatalogError`` and changes nothing
        when the delta's ``base_version`` is not this lane's version or a code would clash."""
        with self.db.atomic():
            current = self.version()
            if change.is_snapshot:
                ItemCode.delete().execute()
                CatalogItem.delete().execute()
            elif change.base_version != current:
                raise CatalogGap(
                    f"base_version {change.base_version} does not match the lane's "
                    f"catalog version {current}"
                )
            elif change.version <= current:
                raise CatalogError(f"version {change.version} is not newer than {current}")
            self._upsert(change)
            Meta.insert(key=VERSION, value=str(change.version)).on_conflict_replace().execute()

    def _upsert(self, change: CatalogChange) -> None:
        skus = [item.sku for item in change.items] + list(change.removed)
        for i in range(0, len(skus), BATCH):
            chunk = skus[i : i + BATCH]
            ItemCode.delete().where(ItemCode.sku.in_(chunk)).execute()
            CatalogItem.delete().where(CatalogItem.sku.in_(chunk)).execute()
        rows = [_row(item) for item in change.items]
        for i in range(0, len(rows), BATCH):
            CatalogItem.insert_many(rows[i : i + BATCH]).execute()
        codes = [{"code": key, "sku": sku} for key, sku in change.codes]
        for i in range(0, len(codes), BATCH):
            try:
                ItemCode.insert_many(codes[i : i + BATCH]).execute()
            except peewee.IntegrityError as e:
                clash = _clashing(codes[i : i + BATCH])
                raise CatalogError(f"code {clash} already belongs to another item") from e


def _clashing(codes: list[dict[str, str]]) -> str:
    keys = [c["code"] for c in codes]
    row = ItemCode.select().where(ItemCode.code.in_(keys)).first()
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


def _item(row: CatalogItem) -> Item:
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
