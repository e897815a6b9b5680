"""Parsing a ``store.catalog/1`` document (a downlink message or a technician's file).

Everything is checked before anything is applied: a document with one bad
item changes nothing, and the error names the item and field
(``items[3] (sku 100234).price: must be a non-negative integer, got -5``).
A document of any shape (nested a hundred thousand deep, integers of thousands
of digits, a list where a string belongs) gets ``CatalogError`` and nothing
else; values are quoted in errors only as far as a reader needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from firmware_app.errors import CatalogError
from firmware_app.lane.barcodes import gtin_key, is_gtin_shaped
from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.promotions import Loyalty, Promotion
from firmware_app.lane.restrictions import hours_of

SCHEMA = "store.catalog/1"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # a 100,000-item snapshot is about 20 MB
MAX_TEXT = 200
MAX_PARTS = 1000
MAX_SKU = 64  # characters
MAX_DEPTH = 16  # levels of arrays and objects in a promotion (a real one has about 4)
SHOWN = 40  # characters of a bad value quoted in an error
# A price this lane sells at, in minor units (99,999,999.99 yuan): times a quantity and
# summed over a basket it stays far inside SQLite's integers, which the contract's
# MAX_INT alone would not.
MAX_PRICE = 10**10 - 1
MAX_INT = 2**53 - 1  # the contract's largest integer (the schemas' maximum, sync.contract)


@dataclass(frozen=True)
class CatalogChange:
    """A parsed catalog document: ``base_version`` None means a full snapshot."""

    version: int
    base_version: int | None
    items: tuple[Item, ...]
    codes: tuple[tuple[str, str], ...]  # (lookup key, sku)
    removed: tuple[str, ...]
    promotions: tuple[Promotion, ...] = ()
    part: int = 1  # a change too big for one message comes in parts 1..parts
    parts: int = 1
    # Promotions and loyalty (docs/mqtt.md, "Promotions"): of a change, ``promotions``
    # are added or replaced by id and ``removed_promotions`` taken away; ``loyalty`` is
    # left as it is unless ``loyalty_sent`` (None then means no loyalty rule).
    removed_promotions: tuple[str, ...] = ()
    loyalty: Loyalty | None = None
    loyalty_sent: bool = False

    @property
    def is_snapshot(self) -> bool:
        return self.base_version is None


def parse_catalog(raw: bytes) -> CatalogChange:
    """Parse and validate; raises ``CatalogError`` naming the field and the reason."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise CatalogError(f"document of {len(raw)} bytes is over {MAX_DOCUMENT_BYTES}")
    doc = _decode(raw)
    if not isinstance(doc, dict):
        raise CatalogError("document: expected a JSON object")
    if doc.get("schema") != SCHEMA:
        raise CatalogError(f"schema: expected {SCHEMA!r}, got {_show(doc.get('schema'))}")
    version = _int(doc, "version", "", lo=1)
    base = doc.get("base_version")
    if base is not None:
        base = _int(doc, "base_version", "", lo=0)
        if base >= version:
            raise CatalogError(f"base_version: {base} is not below version {version}")
    raw_items = doc.get("items", [])
    if not isinstance(raw_items, list):
        raise CatalogError("items: expected a list")
    items, codes = _items(raw_items)
    removed = _removed(doc.get("removed", []))
    promotions = doc.get("promotions", [])
    if not isinstance(promotions, list):
        raise CatalogError(f"promotions: expected a list, got {_show(promotions)}")
    if _depth(promotions) > MAX_DEPTH:
        raise CatalogError(f"promotions: nested more than {MAX_DEPTH} levels deep")
    parts = _int(doc, "parts", "", lo=1, hi=MAX_PARTS) if "parts" in doc else 1
    part = _int(doc, "part", "", lo=1, hi=parts) if "part" in doc else 1
    return CatalogChange(
        version, base, items, codes, removed, part=part, parts=parts, **_offers(doc)
    )


def _offers(doc: dict[str, Any]) -> dict[str, Any]:
    """Promotions and loyalty: ``CatalogChange``'s fields of them, every field checked."""
    # Imported here: the promotions parser builds on this module's field checks.
    from firmware_app.store import promotions_doc as pd

    return {
        "promotions": pd.parse_promotions(doc.get("promotions", [])),
        "removed_promotions": pd.parse_removed_promotions(doc.get("removed_promotions", [])),
        "loyalty": pd.parse_loyalty(doc.get("loyalty")),
        "loyalty_sent": "loyalty" in doc,
    }


def _decode(raw: bytes) -> Any:
    """The JSON value of ``raw``; ``CatalogError`` for anything Python's decoder refuses,
    including nesting deeper than its recursion limit and integers of over 4,300 digits
    (both raise outside ``JSONDecodeError``)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError as e:
        raise CatalogError("not JSON the lane can read: nested too deeply") from e
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise CatalogError(f"not JSON: {str(e)[:200]}") from e


def _removed(removed: Any) -> tuple[str, ...]:
    what = f"a SKU (a non-empty string of up to {MAX_SKU} printable characters)"
    return id_list(removed, "removed", "SKU strings", _good_sku, what)


def id_list(
    value: Any, field: str, plural: str, good: Callable[[Any], bool], what: str
) -> tuple[str, ...]:
    """A JSON list of ids each ``good``; ``CatalogError`` naming ``field``, the place
    of the first bad one and ``what`` it should be."""
    if not isinstance(value, list):
        raise CatalogError(f"{field}: expected a list of {plural}, got {_show(value)}")
    for i, one in enumerate(value):
        if not good(one):
            raise CatalogError(f"{field}[{i}]: expected {what}, got {_show(one)}")
    return tuple(value)


def _items(raw_items: list[Any]) -> tuple[tuple[Item, ...], tuple[tuple[str, str], ...]]:
    items: list[Item] = []
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for i, raw in enumerate(raw_items):
        where = f"items[{i}]"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: expected an object")
        item, item_codes = _item(raw, where)
        if item.sku in seen:
            raise CatalogError(f"{where}.sku: duplicate sku {item.sku!r}")
        seen.add(item.sku)
        for code, key in item_codes:
            if key in owner and owner[key] != item.sku:
                raise CatalogError(
                    f"{where} (sku {item.sku}).codes: {code!r} is also a code of sku {owner[key]}"
                )
            owner[key] = item.sku
        items.append(item)
    _unique_plus(items, "items")
    return tuple(items), tuple(owner.items())


def _unique_plus(items: list[Item], where: str) -> None:
    """A PLU names one item: the lane sells by it (keyed, and on in-store labels)."""
    holder: dict[int, str] = {}
    for i, item in enumerate(items):
        if item.plu is None:
            continue
        if item.plu in holder:
            raise CatalogError(
                f"{where}[{i}] (sku {item.sku}).plu: {item.plu} is also the PLU of sku "
                f"{holder[item.plu]}"
            )
        holder[item.plu] = item.sku


def _item(raw: dict[str, Any], where: str) -> tuple[Item, list[tuple[str, str]]]:
    """The item and its codes, each with its lookup key (``barcodes.catalog_key``).

    Run 100,000 times for a snapshot: error texts are only put together for an error.
    """
    sku = raw.get("sku")
    if not _good_sku(sku):
        raise CatalogError(
            f"{where}.sku: expected a non-empty string of up to {MAX_SKU} printable "
            f"characters, got {_show(sku)}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
        raise CatalogError(
            f"{where} (sku {sku}).name: expected a non-empty string of up to {MAX_TEXT}, "
            f"got {_show(name)}"
        )
    if not name.isprintable():
        raise CatalogError(f"{where} (sku {sku}).name: contains control characters")
    unit = UNITS.get(raw.get("unit")) if isinstance(raw.get("unit"), str) else None
    if unit is None:
        raise CatalogError(
            f"{where} (sku {sku}).unit: expected 'each' or 'kg', got {_show(raw.get('unit'))}"
        )
    price = _int(raw, "price", where, sku, lo=0, hi=MAX_PRICE)
    plu = raw.get("plu")
    if plu is not None:
        plu = _int(raw, "plu", where, sku, lo=0, hi=99_999_999)
    codes = raw.get("codes", [])
    if not isinstance(codes, list) or not all(_good_code(c) for c in codes):
        raise CatalogError(
            f"{where} (sku {sku}).codes: expected a list of barcodes (printable, ≤ 64 chars)"
        )
    keyed = []
    for code in codes:
        key = gtin_key(code) if is_gtin_shaped(code) else code
        if key is None:
            raise CatalogError(f"{where} (sku {sku}).codes: {code!r} has a wrong check digit")
        keyed.append((code, key))
    return (
        Item(
            sku=sku,
            name=name,
            unit=unit,
            price=price,
            tax_rate=_rate(raw.get("tax_rate"), where, sku),
            plu=plu,
            age_restricted=_bool(raw, "age_restricted", where, sku, False),
            active=_bool(raw, "active", where, sku, True),
            **_restrictions(raw, where, sku),
        ),
        keyed,
    )


# --- restrictions (age checks, sale hours) and the member price ------------------------

MAX_DEPARTMENT = 32  # characters of a department id
MAX_AGE = 150  # years


def _restrictions(raw: dict[str, Any], where: str, sku: str) -> dict[str, Any]:
    """``department``, ``min_age``, ``sale_hours`` and ``member_price`` of an item, each
    optional (absent or null: none)."""
    fields: dict[str, Any] = {}
    department = raw.get("department")
    if department is not None:
        if (
            not isinstance(department, str)
            or not 0 < len(department) <= MAX_DEPARTMENT
            or not department.isprintable()
            or department.strip() != department
        ):
            raise CatalogError(
                f"{_field(where, sku, 'department')}: expected a short id (1 to "
                f"{MAX_DEPARTMENT} printable characters), got {_show(department)}"
            )
        fields["department"] = department
    if raw.get("min_age") is not None:
        fields["min_age"] = _int(raw, "min_age", where, sku, lo=1, hi=MAX_AGE)
    if raw.get("member_price") is not None:
        fields["member_price"] = _int(raw, "member_price", where, sku, lo=0, hi=MAX_PRICE)
    hours = raw.get("sale_hours")
    if hours is not None:
        fields["sale_hours"] = parse_hours(hours, _field(where, sku, "sale_hours"))
    return fields


def parse_hours(value: Any, field: str) -> tuple[time, time]:
    """``["08:00", "22:00"]`` as (start, end) local times; an end before the start runs
    over midnight (``["22:00", "06:00"]``). ``CatalogError`` naming ``field`` otherwise."""
    try:
        return hours_of(value)
    except ValueError as e:
        short = isinstance(value, list) and all(isinstance(v, str) and len(v) < 9 for v in value)
        shown = repr(value) if short and len(value) <= 2 else _show(value)
        raise CatalogError(f"{field}: {e}, got {shown}") from e


def _good_code(code: Any) -> bool:
    return isinstance(code, str) and 0 < len(code) <= 64 and code.isprintable()


def _good_sku(sku: Any) -> TypeGuard[str]:
    return isinstance(sku, str) and 0 < len(sku) <= MAX_SKU and sku.isprintable()


def _int(
    obj: dict[str, Any], key: str, where: str, sku: str = "", *, lo: int, hi: int = MAX_INT
) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CatalogError(
            f"{_field(where, sku, key)}: expected an integer from {lo} to {hi}, got {_show(value)}"
        )
    return value


def _bool(obj: dict[str, Any], key: str, where: str, sku: str, default: bool) -> bool:
    value = obj.get(key, default)
    if value is not True and value is not False:
        raise CatalogError(f"{_field(where, sku, key)}: expected true or false, got {_show(value)}")
    return bool(value)


def _field(where: str, sku: str, key: str) -> str:
    """``items[3] (sku 100234).price``, or ``version`` at the document's top."""
    if not where:
        return key
    return f"{where} (sku {sku}).{key}" if sku else f"{where}.{key}"


def _rate(value: Any, where: str, sku: str) -> Decimal:
    known = _RATES.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    field = _field(where, sku, "tax_rate")
    if not isinstance(value, str) or len(value) > SHOWN:
        raise CatalogError(f'{field}: expected a decimal string like "13", got {_show(value)}')
    try:
        rate = Decimal(value)
    except InvalidOperation as e:
        raise CatalogError(f"{field}: {value!r} is not a number") from e
    if not rate.is_finite() or not 0 <= rate < 100:
        raise CatalogError(f"{field}: {value!r} is not a percentage from 0 to below 100")
    if len(_RATES) < 64:  # a store has a handful of rates: each is worked out once
        _RATES[value] = rate
    return rate


_RATES: dict[str, Decimal] = {}
UNITS: dict[str, Unit] = {u.value: u for u in Unit}


def _show(value: Any) -> str:
    """A bad value as an error quotes it: scalars in short, containers by their kind
    (a document may hold a 20 MB string or a list nested a thousand deep)."""
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**SHOWN:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _depth(value: Any) -> int:
    """Levels of arrays and objects in ``value``, counted without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in node)
    return deepest
