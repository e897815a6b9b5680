"""Parsing the ``promotions``, ``removed_promotions`` and ``loyalty`` of a ``store.catalog/1``
document into the core's ``Promotion`` and ``Loyalty`` (docs/mqtt.md, "Promotions").

Every field is checked here, so that the pricing engine can trust what it gets; the
one check left for later is that each promotion's ``items`` name skus of the catalog
the change leaves behind (``store.promotions``), which only the applied catalog knows.
Errors name the promotion by its place and id, the field and the reason:
``promotions[2] (P7).percent: expected a decimal string above 0 and at most 100 …``.

As for items, a field the lane does not know is ignored (a newer store server may send
more); a field of another promotion type is refused unless it is null, since a
``fixed_price`` carrying a ``percent`` says the store server meant something the lane
would not do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from firmware_app.errors import CatalogError
from firmware_app.lane.promotions import Loyalty, Promotion, PromoType
from firmware_app.store.catalog_doc import (
    MAX_DEPARTMENT,
    MAX_PRICE,
    MAX_SKU,
    MAX_TEXT,
    SHOWN,
    _good_sku,
    _show,
    id_list,
    parse_hours,
)

MAX_ID = 64  # characters of a promotion id
MAX_GROUP = 999  # units in a multi_buy group, or bought or got in a buy_get
MAX_POINTS = 1_000_000  # loyalty points for each ``per``
LOYALTY = "catalog.loyalty"  # the Meta key of the loyalty rule, as canonical JSON

# The fields each type takes (``repeat`` is optional: false when absent).
TYPE_FIELDS: dict[PromoType, tuple[str, ...]] = {
    PromoType.PERCENT_OFF: ("percent",),
    PromoType.AMOUNT_OFF: ("amount",),
    PromoType.FIXED_PRICE: ("price",),
    PromoType.MULTI_BUY: ("qty", "price"),
    PromoType.BUY_GET: ("buy", "get", "percent"),
    PromoType.THRESHOLD: ("min", "off", "repeat"),
}
ALL_TYPE_FIELDS = ("percent", "amount", "price", "qty", "buy", "get", "min", "off", "repeat")
TYPES: dict[str, PromoType] = {t.value: t for t in PromoType}
# Bounds of each integer field, in minor units or units.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "amount": (1, MAX_PRICE),
    "price": (0, MAX_PRICE),
    "qty": (1, MAX_GROUP),
    "buy": (1, MAX_GROUP),
    "get": (1, MAX_GROUP),
    "min": (1, MAX_PRICE),
    "off": (1, MAX_PRICE),
}
PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")
# RFC 3339 with an offset, as the contract's ``timestamp`` (sync/schemas).
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_promotions(value: Any, where: str = "promotions") -> tuple[Promotion, ...]:
    """The promotions of one document (or part), each checked, ids unique among them."""
    if not isinstance(value, list):
        raise CatalogError(f"{where}: expected a list, got {_show(value)}")
    seen: set[str] = set()
    promotions = []
    for i, raw in enumerate(value):
        promotion = parse_promotion(raw, f"{where}[{i}]")
        if promotion.id in seen:
            raise CatalogError(f"{where}[{i}].id: duplicate promotion id {promotion.id!r}")
        seen.add(promotion.id)
        promotions.append(promotion)
    return tuple(promotions)


def parse_removed_promotions(value: Any) -> tuple[str, ...]:
    what = f"a promotion id (a non-empty string of up to {MAX_ID} printable characters)"
    return id_list(value, "removed_promotions", "ids", _good_id, what)


def parse_loyalty(value: Any) -> Loyalty | None:
    """``{"per": 100, "points": 1}``, or None for null (no points earned)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CatalogError(
            f'loyalty: expected {{"per": …, "points": …}} or null, got {_show(value)}'
        )
    per = _int(value, "per", "loyalty", 1, MAX_PRICE)
    points = _int(value, "points", "loyalty", 1, MAX_POINTS)
    return Loyalty(per=per, points=points)


def parse_promotion(raw: Any, where: str) -> Promotion:
    """One promotion object; ``where`` is its place (``promotions[2]``) for errors."""
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected an object, got {_show(raw)}")
    pid = raw.get("id")
    if not _good_id(pid):
        raise CatalogError(
            f"{where}.id: expected a non-empty string of up to {MAX_ID} printable "
            f"characters, got {_show(pid)}"
        )
    at = f"{where} ({pid})"
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
        raise CatalogError(
            f"{at}.name: expected a non-empty string of up to {MAX_TEXT}, got {_show(name)}"
        )
    if not name.isprintable():
        raise CatalogError(f"{at}.name: contains control characters")
    kind = TYPES.get(raw["type"]) if isinstance(raw.get("type"), str) else None
    if kind is None:
        raise CatalogError(
            f"{at}.type: expected one of {', '.join(TYPES)}, got {_show(raw.get('type'))}"
        )
    fields = _type_fields(raw, kind, at)
    items = _skus(raw.get("items"), at)
    departments = _departments(raw.get("departments"), at)
    if not items and not departments:
        raise CatalogError(f"{at}: names no items and no departments: it would apply to nothing")
    starts = _time(raw.get("starts"), f"{at}.starts")
    ends = _time(raw.get("ends"), f"{at}.ends")
    if starts is not None and ends is not None and not starts < ends:
        raise CatalogError(f"{at}.ends: {raw['ends']!r} is not after starts {raw['starts']!r}")
    hours = raw.get("hours")
    members_only = raw.get("members_only", False)
    if members_only is not True and members_only is not False:
        raise CatalogError(f"{at}.members_only: expected true or false, got {_show(members_only)}")
    return Promotion(
        id=pid,
        name=name,
        type=kind,
        items=items,
        departments=departments,
        members_only=members_only,
        starts=starts,
        ends=ends,
        hours=None if hours is None else parse_hours(hours, f"{at}.hours"),
        **fields,
    )


def _type_fields(raw: dict[str, Any], kind: PromoType, at: str) -> dict[str, Any]:
    own = TYPE_FIELDS[kind]
    for key in ALL_TYPE_FIELDS:
        if key not in own and raw.get(key) is not None:
            raise CatalogError(
                f"{at}.{key}: a {kind.value} promotion takes {', '.join(own)}, not {key}"
            )
    fields: dict[str, Any] = {}
    for key in own:
        if key == "percent":
            fields[key] = _percent(raw.get(key), f"{at}.percent")
        elif key == "repeat":
            repeat = raw.get("repeat", False)
            if repeat is not True and repeat is not False:
                raise CatalogError(f"{at}.repeat: expected true or false, got {_show(repeat)}")
            fields[key] = repeat
        else:
            fields[key] = _int(raw, key, at, *INT_BOUNDS[key])
    if kind is PromoType.THRESHOLD and fields["off"] > fields["min"]:
        raise CatalogError(f"{at}.off: {fields['off']} is more than min {fields['min']}")
    return fields


def _percent(value: Any, field: str) -> Decimal:
    if isinstance(value, str) and PERCENT.fullmatch(value):
        percent = Decimal(value)
        if 0 < percent <= 100:
            return percent
    raise CatalogError(
        f"{field}: expected a decimal string above 0 and at most 100, with at most 2 "
        f'decimals (like "12.5"), got {_show(value)}'
    )


def _int(obj: dict[str, Any], key: str, at: str, lo: int, hi: int) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CatalogError(f"{at}.{key}: expected an integer from {lo} to {hi}, got {_show(value)}")
    return value


def _skus(value: Any, at: str) -> frozenset[str]:
    what = f"skus (non-empty strings of up to {MAX_SKU} printable characters)"
    return _names(value, f"{at}.items", _good_sku, what)


def _departments(value: Any, at: str) -> frozenset[str]:
    what = f"department ids (1 to {MAX_DEPARTMENT} printable characters)"
    return _names(value, f"{at}.departments", _good_department, what)


def _names(value: Any, field: str, good: Callable[[Any], bool], what: str) -> frozenset[str]:
    """A list of names each ``good`` (None: none); ``CatalogError`` naming ``field``."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(good(name) for name in value):
        raise CatalogError(f"{field}: expected a list of {what}, got {_show(value)}")
    return frozenset(value)


def _time(value: Any, field: str) -> datetime | None:
    """An RFC 3339 timestamp with its offset, as an aware datetime; None for null."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= SHOWN and TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            pass  # a 13th month, a 30th of February: refused below
    raise CatalogError(
        f"{field}: expected an RFC 3339 time with its offset "
        f'(like "2026-12-01T00:00:00+08:00"), got {_show(value)}'
    )


def _good_id(pid: Any) -> bool:
    return isinstance(pid, str) and 0 < len(pid) <= MAX_ID and pid.isprintable()


def _good_department(department: Any) -> bool:
    return (
        isinstance(department, str)
        and 0 < len(department) <= MAX_DEPARTMENT
        and department.isprintable()
        and department.strip() == department
    )


# --- the canonical form, as the lane keeps it ---------------------------------------------


def promotion_json(p: Promotion) -> dict[str, Any]:
    """``p`` as a ``store.catalog/1`` promotion object, which ``parse_promotion`` reads back
    to the same ``Promotion`` (skus and departments sorted; absent fields left out)."""
    obj: dict[str, Any] = {"id": p.id, "name": p.name, "type": p.type.value}
    if p.items:
        obj["items"] = sorted(p.items)
    if p.departments:
        obj["departments"] = sorted(p.departments)
    if p.members_only:
        obj["members_only"] = True
    if p.starts is not None:
        obj["starts"] = p.starts.isoformat()
    if p.ends is not None:
        obj["ends"] = p.ends.isoformat()
    if p.hours is not None:
        obj["hours"] = [t.strftime("%H:%M") for t in p.hours]
    for key in TYPE_FIELDS[p.type]:
        value = getattr(p, key)
        obj[key] = str(value) if isinstance(value, Decimal) else value
    return obj


def loyalty_json(loyalty: Loyalty | None) -> str:
    """The loyalty rule as compact JSON (``null`` for none): equal rules, equal texts."""
    if loyalty is None:
        return "null"
    return json.dumps({"per": loyalty.per, "points": loyalty.points}, sort_keys=True)
