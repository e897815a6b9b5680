"""Checking messages against the contract's JSON Schemas (``schemas/*.json``).

The schemas are draft 2020-12 and are the published form of the contract, so
other teams can validate with any JSON Schema library. Three places where a
Python reading of them would be looser than the contract are tightened here:

- ``integer`` excludes floats with a zero fraction (``700.0``): money is never
  a float, not even a whole one.
- ``pattern`` anchors ``$`` at the very end of the string; Python's ``$`` would
  also match before a trailing newline (``"2\\n"``).
- ``format: date-time`` is checked (the timestamp must exist on a calendar).

Two validators, one verdict: ``jsonschema`` is the reference and names the
field and the reason of a rejection, but takes about 0.6 ms for a sale, which
caps a store server at some 1,500 messages a second and makes a 100,000-item
catalog snapshot slow to check. ``fastjsonschema`` compiles the same schemas
to Python code (about ten times faster) and answers first; only a message it
does not accept goes to ``jsonschema``, whose verdict stands. The fast path may
only accept what the reference accepts: messages with a float anywhere skip it
(it would take ``700.0`` for an integer), and the two share the end-of-string
reading of ``$`` and the date-time check. tests/sync/test_contract.py runs
every rejected example through both.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

from firmware_app.sync.errors import ContractError

MAX_ERROR_TEXT = 200  # a huge value must not turn into a huge log line


def _is_integer(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_datetime(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    at = datetime.fromisoformat(instance.upper())  # ValueError: not a date-time
    return at.tzinfo is not None


_ContractValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_is_datetime)
    return checker


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one message schema (``"lane.sale/1"``)."""
    path = resources.files("firmware_app.sync") / "schemas" / (name.replace("/", "-") + ".json")
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ContractError(f"schema: unknown {name!r}") from e
    return schema


SCHEMA_NAMES = (
    "lane.sale/1",
    "lane.stock/1",
    "lane.event/1",
    "lane.status/1",
    "lane.catalog-request/1",
    "store.ack/1",
    "store.catalog/1",
    "lane.member-request/1",  # members
    "store.member/1",
)


@functools.cache
def _validator(name: str) -> Any:
    if name not in SCHEMA_NAMES:
        raise ContractError(f"schema: unknown {name!r}")
    schema = load_schema(name)
    _ContractValidator.check_schema(schema)
    return _ContractValidator(schema, format_checker=_format_checker())


@functools.cache
def _fast_validator(name: str) -> Any:
    return fastjsonschema.compile(load_schema(name), formats={"date-time": _is_fast_datetime})


def _is_fast_datetime(instance: object) -> bool:
    try:
        return _is_datetime(instance)
    except ValueError:
        return False


def _fast_accepts(name: str, message: dict[str, Any]) -> bool:
    """True when the compiled validator accepts a float-free ``message``; False means
    "ask jsonschema", never "invalid"."""
    if _has_float(message):
        return False
    try:
        _fast_validator(name)(message)
    except Exception:  # JsonSchemaException, RecursionError on absurd nesting…
        return False
    return True


def _has_float(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _where(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"{_where([*path, missing[0]])}: required"
    text = error.message
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 1] + "…"
    return f"{_where(path) or 'message'}: {text}"


def validate(message: object) -> None:
    """Check a decoded message against the schema its ``schema`` field names.

    Raises ``ContractError`` naming the schema, the field and the reason
    (``lane.sale/1: lines[0].amount: 7.5 is not of type 'integer'``).
    """
    if not isinstance(message, dict):
        raise ContractError("message: expected a JSON object")
    name = message.get("schema")
    if not isinstance(name, str) or name not in SCHEMA_NAMES:
        raise ContractError(f"schema: unknown {str(name)[:MAX_ERROR_TEXT]!r}")
    if _fast_accepts(name, message):
        return
    try:
        error = best_match(_validator(name).iter_errors(message))
    except (jsonschema.SchemaError, RecursionError) as e:
        raise ContractError(f"{name}: cannot be checked: {type(e).__name__}") from e
    if error is not None:
        raise ContractError(f"{name}: {_describe(error)}")
