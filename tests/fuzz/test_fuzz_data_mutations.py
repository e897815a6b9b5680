"""Mutations of valid documents, for the data-side fuzz tests (test_fuzz_data_*.py).

A parser meets most of its bugs one small step from a valid document, not in random
JSON: a field dropped, a type changed, an integer past every bound, nesting past the
recursion limit, odd unicode, a key given twice. ``mutated(doc)`` draws one to four
such steps; ``to_json`` writes the result, including what ``json.dumps`` cannot write
(a duplicated key, an integer of 5,000 digits, 50,000 levels of nesting, a lone
surrogate). ``json_values`` are plain random JSON values, for comparison.

The tests at the end check the mutations themselves: the bytes they give are what
they say, and every mutated document can be written.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The default run is quick and the same every time (derandomized: it never fails on
# an example no run has met before); FUZZ_DATA_SCALE=20 runs twenty times as many
# examples, fresh ones each time, to look for new faults.
SCALE = max(1, int(os.environ.get("FUZZ_DATA_SCALE", "1")))


def fuzz_settings(examples: int) -> settings:
    """This module family's hypothesis settings: no deadline (a shared, slow machine),
    ``examples`` times ``FUZZ_DATA_SCALE``."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=SCALE == 1,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- values no JSON encoder writes ------------------------------------------------------


@dataclass(frozen=True)
class Huge:
    """An integer of ``digits`` nines (over 4,300: Python's parser refuses it)."""

    digits: int
    negative: bool = False


@dataclass(frozen=True)
class Deep:
    """``levels`` of nested arrays (or objects) around ``1``."""

    levels: int
    objects: bool = False


@dataclass(frozen=True)
class Pairs:
    """An object whose keys may repeat: JSON allows it, the last one wins."""

    items: tuple[tuple[str, Any], ...]


def to_json(value: Any) -> bytes:
    """``value`` as JSON bytes; ``Huge``, ``Deep`` and ``Pairs`` as they say, strings
    with ``\\u`` escapes for anything outside ASCII (so a lone surrogate gets through)."""
    return _write(value).encode("ascii")


def _write(value: Any) -> str:
    if isinstance(value, Huge):
        return ("-" if value.negative else "") + "9" * value.digits
    if isinstance(value, Deep):
        opening, closing = ('{"a":', "}") if value.objects else ("[", "]")
        return opening * value.levels + "1" + closing * value.levels
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{_write(k)}:{_write(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_write(str(k))}:{_write(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_write(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii and allow_nan: NaN and Infinity are written too


def to_python(value: Any) -> Any:
    """``value`` as a Python value a decoder could give: ``Huge`` as an integer of at most
    4,000 digits (a TOML or JSON decoder refuses longer ones), ``Deep`` as at most 200
    levels, ``Pairs`` as a dict (the last key wins)."""
    if isinstance(value, Huge):
        n = int("9" * min(value.digits, 4000))
        return -n if value.negative else n
    if isinstance(value, Deep):
        inner: Any = 1
        for _ in range(min(value.levels, 200)):
            inner = {"a": inner} if value.objects else [inner]
        return inner
    if isinstance(value, Pairs):
        return {k: to_python(v) for k, v in value.items}
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(v) for v in value]
    return value


# --- random JSON --------------------------------------------------------------------------

EDGE_INTS = [0, 1, -1, 2**31, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid as a JSON escape, not as UTF-8
    "\udfff\ud800",
    "\u202eevil",  # right-to-left override
    "\ufeffS001",  # a byte order mark in front
    "e\u0301",  # combining accent
    "\U0001f6d2",  # an emoji outside the BMP
    "１２３",  # fullwidth digits
    "٣٤",  # Arabic-Indic digits: int() and Decimal() take them
    "²",  # str.isdigit() says yes, int() says no
    "1_000",  # int() and Decimal() take underscores
    " 12 ",
    "\n",
    "\x1b[2J",
    "NaN",
    "Infinity",
    "-0",
    "1e999999999",
    "0x10",
    "x" * 300,  # past every text limit (200 characters)
    "可口可乐",
]
leaves = (
    st.none()
    | st.booleans()
    | st.sampled_from(EDGE_INTS)
    | st.integers()
    | st.floats()
    | st.sampled_from(ODD_TEXT)
    | st.text(max_size=12)
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
odd_values = (
    st.sampled_from(
        [
            Huge(5000),
            Huge(5000, negative=True),
            Huge(400),
            Deep(17),
            Deep(17, objects=True),
            Deep(2_000),
            Deep(50_000),
            Deep(50_000, objects=True),
            float("nan"),
            float("inf"),
            -0.0,
            1e300,
            [],
            {},
        ]
    )
    | leaves
)


# --- mutations --------------------------------------------------------------------------

Path = tuple[str | int, ...]


def paths(value: Any, at: Path = ()) -> list[Path]:
    """Every place in ``value``, itself first."""
    found = [at]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*at, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += paths(inner, (*at, i))
    return found


def get(value: Any, at: Path) -> Any:
    for step in at:
        value = value[step]
    return value


def _set(doc: Any, at: Path, new: Any) -> Any:
    if not at:
        return new
    get(doc, at[:-1])[at[-1]] = new
    return doc


def _drop(doc: Any, at: Path) -> Any:
    if not at:
        return doc
    parent = get(doc, at[:-1])
    del parent[at[-1]]
    return doc


def _neighbours(value: Any) -> list[Any]:
    """Values one step from ``value``: its bounds' neighbours, its type changed."""
    if isinstance(value, bool):
        return [not value, int(value), str(value).lower(), None]
    if isinstance(value, int):
        return [
            value - 1,
            value + 1,
            -value,
            0,
            float(value),
            str(value),
            value * 10**6,
            Huge(5000),
        ]
    if isinstance(value, float):
        whole = [int(value)] if math.isfinite(value) else []
        return [*whole, str(value), float("nan"), float("inf"), -value]
    if isinstance(value, str):
        found: list[Any] = [value + value, value[:-1], value.upper(), " " + value, [value], None]
        if re.fullmatch(r"-?[0-9]+", value):
            found += [int(value), value + "0" * 30, "-" + value]
        return found
    if isinstance(value, list):
        return [value + value, value[:1], value[::-1], {}, "", Deep(2_000)]
    if isinstance(value, dict):
        return [list(value.values()), [], None, Deep(50_000, objects=True)]
    return [0, "", []]


@st.composite
def mutated(draw: st.DrawFn, doc: Any, *, steps: int = 4) -> Any:
    """``doc`` changed in one to ``steps`` places, each one of: drop, a neighbouring value
    (bounds, types), an odd value, a value copied from elsewhere in the document, a key
    added or duplicated, deep nesting around it."""
    doc = copy.deepcopy(doc)
    # Every value put in is a copy: a strategy's sampled values are shared between
    # examples, and one changed in place here would grow (or hold itself) in the next.
    fresh = odd_values.map(copy.deepcopy)
    for _ in range(draw(st.integers(1, steps))):
        places = paths(doc)
        at = draw(st.sampled_from(places))
        here = get(doc, at)
        how = draw(
            st.sampled_from(["drop", "neighbour", "odd", "copy", "add", "duplicate", "nest"])
        )
        if how == "drop":
            doc = _drop(doc, at)
        elif how == "neighbour":
            doc = _set(doc, at, copy.deepcopy(draw(st.sampled_from(_neighbours(here)))))
        elif how == "odd":
            doc = _set(doc, at, draw(fresh))
        elif how == "copy":
            doc = _set(doc, at, copy.deepcopy(get(doc, draw(st.sampled_from(places)))))
        elif how == "add" and isinstance(here, dict):
            here[draw(st.sampled_from([*here, "extra", ""]) | st.text(max_size=6))] = draw(fresh)
        elif how == "duplicate" and isinstance(here, dict) and here:
            key = draw(st.sampled_from(list(here)))
            pairs = [(k, v) for k, v in here.items()]
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(fresh)))
            doc = _set(doc, at, Pairs(tuple(pairs)))
            break  # a Pairs is not walked into: it ends the mutations
        elif how == "nest":
            doc = _set(doc, at, draw(st.sampled_from([[here], {"a": here}, [[[[here]]]]])))
    return doc


# --- the mutations' own tests ------------------------------------------------------------

SAMPLE = {"a": [1, "x", {"b": True}], "c": None}


def test_odd_values_are_written_as_they_say() -> None:
    assert json.loads(to_json(Pairs((("a", 1), ("a", 2))))) == {"a": 2}
    assert to_json(Huge(5000)) == b"9" * 5000
    assert to_json(Deep(3)) == b"[[[1]]]"
    assert to_json(Deep(2, objects=True)) == b'{"a":{"a":1}}'
    assert to_json("\ud800") == b'"\\ud800"'
    assert to_json(float("nan")) == b"NaN"
    assert json.loads(to_json(SAMPLE)) == SAMPLE
    assert to_python(Deep(2)) == [[1]]


@fuzz_settings(30)
@given(mutated(SAMPLE))
def test_a_mutated_document_can_always_be_written(doc: Any) -> None:
    assert to_json(doc)
    to_python(doc)
