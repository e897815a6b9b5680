"""Catalog documents of every shape, for property tests of the catalog parser and of
catalog messages: sensible ones, ones with any field of any JSON type, nesting up to
100,000 deep, integers of 5,000 digits, and bytes that are not JSON at all."""

from __future__ import annotations

import json

from hypothesis import strategies as st

SCHEMA = "store.catalog/1"
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53 - 2, max_value=2**80)
    | st.floats()
    | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def maybe(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a sensible value, sometimes anything at all."""
    return st.one_of(good, good, ANY_JSON)


ITEMS = st.fixed_dictionaries(
    {
        "sku": maybe(st.sampled_from(["A", "B", "C", "é" * 65, "\ud800"])),
        "name": maybe(st.text(max_size=12)),
        "codes": maybe(st.lists(st.sampled_from(["6954767410388", "036000291452", "X 1"]))),
        "plu": maybe(st.none() | st.integers(0, 3)),
        "unit": maybe(st.sampled_from(["each", "kg"])),
        "price": maybe(st.integers(0, 10_000)),
        "tax_rate": maybe(st.sampled_from(["13", "9", "0", "1e999", "NaN"])),
        "age_restricted": maybe(st.booleans()),
        "active": maybe(st.booleans()),
    }
)
DOCUMENTS = st.fixed_dictionaries(
    {
        "schema": maybe(st.just(SCHEMA)),
        "version": maybe(st.integers(1, 4)),
        "base_version": maybe(st.none() | st.integers(0, 3)),
        "items": maybe(st.lists(maybe(ITEMS), max_size=4)),
        "removed": maybe(st.lists(st.sampled_from(["A", "B", "Z", "\ud800"]), max_size=2)),
        "promotions": maybe(st.just([])),
    },
    optional={"part": maybe(st.integers(1, 3)), "parts": maybe(st.integers(1, 3))},
).map(lambda d: json.dumps(d).encode())


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    """Arrays or objects nested up to 100,000 deep, alone or as a field of a catalog."""
    depth = draw(st.integers(1, 100_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    value = opener * depth + b"1" + closer * depth
    field = draw(st.sampled_from(["", "schema", "version", "items", "promotions", "removed"]))
    if not field:
        return value
    if field == "items":
        value = b'[{"sku": "A", "name": "x", "unit": ' + value + b"}]"
    return b'{"schema": "store.catalog/1", "version": 2, "%s": %s}' % (field.encode(), value)


HUGE_INTS = st.sampled_from(["version", "price", "plu"]).map(
    lambda field: (
        b'{"schema": "store.catalog/1", "version": 2, "items": [{"sku": "A", "name": "x", '
        b'"unit": "each", "tax_rate": "13", "price": 1, "%s": 1%s}]}'
        % (field.encode(), b"0" * 5000)
    )
)
RAW = DOCUMENTS | nested() | HUGE_INTS | st.binary(max_size=64)
