"""The contract: topics, schemas, the validator and the ack parser."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.exceptions import best_match

from firmware_app.store.outbox import OutboxStats
from firmware_app.sync.contract import (
    MAX_INT,
    SCHEMA_NAMES,
    ContractError,
    Topics,
    ack_message,
    catalog_request_message,
    decode,
    encode,
    load_schema,
    parse_ack,
    parse_uplink_topic,
    sale_message,
    sale_payload,
    status_message,
    validate,
)
from firmware_app.sync.validation import _fast_accepts, _validator
from tests.conftest import LaneMessages

AT = datetime(2026, 11, 28, 13, 20, 1, 250000, tzinfo=timezone(timedelta(hours=8)))
STATS = OutboxStats(pending=2, oldest_at="2026-11-28T13:19:00.000+08:00", next_seq=9, acked_upto=6)
ids = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def status(state: str = "online", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "at": AT,
        "version": "0.1.0",
        "catalog_version": 58,
        "outbox": STATS,
        "devices": {"scanner": "ok", "scale": "ok", "printer": "paper_out", "drawer": "closed"},
    }
    args.update(kw)
    return status_message(state, **args)


def fails(message: dict[str, Any]) -> str:
    with pytest.raises(ContractError) as info:
        validate(message)
    # The compiled fast path must never accept what the reference validator rejects.
    name = message.get("schema")
    if name in SCHEMA_NAMES:
        assert not _fast_accepts(name, message)
    return str(info.value)


# --- topics ------------------------------------------------------------------------------


def test_topics_of_one_lane() -> None:
    t = Topics("pos", "S001", "01")
    assert t.sales == "pos/S001/lanes/01/sales"
    assert t.uplink("stock") == "pos/S001/lanes/01/stock"
    assert t.events == "pos/S001/lanes/01/events"
    assert t.status == "pos/S001/lanes/01/status"
    assert t.catalog_request == "pos/S001/lanes/01/catalog/request"
    assert t.downlink == (
        "pos/S001/lanes/01/ack",
        "pos/S001/catalog",
        "pos/S001/lanes/01/catalog",
        "pos/S001/lanes/01/cmd",
        "pos/S001/lanes/01/member",  # members: the store server's answers
    )


@pytest.mark.parametrize(
    ("root", "store", "lane"),
    [
        ("pos", "S/1", "01"),
        ("pos", "S1", "+"),
        ("pos", "", "01"),
        ("p#", "S1", "01"),
        ("pos/", "S1", "01"),
        ("pos", "S1", "x" * 33),
        ("pos", "S1", "01\n"),
    ],
)
def test_topics_refuse_ids_outside_the_contract(root: str, store: str, lane: str) -> None:
    with pytest.raises(ContractError):
        Topics(root, store, lane)


def test_uplink_kind_must_be_known() -> None:
    with pytest.raises(ContractError, match="uplink kind"):
        Topics("pos", "S1", "01").uplink("status")


@given(ids, ids, st.sampled_from(["sales", "stock", "events"]))
def test_uplink_topics_parse_back(store: str, lane: str, kind: str) -> None:
    where = parse_uplink_topic(Topics("pos", store, lane).uplink(kind))
    assert (where.store, where.lane, where.kind) == (store, lane, kind)


@given(st.text(max_size=80))
def test_uplink_topic_parser_only_raises_contract_errors(topic: str) -> None:
    try:
        where = parse_uplink_topic(topic)
    except ContractError:
        return
    assert topic == Topics("pos", where.store, where.lane).uplink(where.kind)


# --- schemas -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_schema_is_draft_2020_12_and_names_itself(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"] == {"const": name}
    assert {"schema", "at"} <= set(schema["required"])
    assert schema.get("additionalProperties", True) is True  # readers ignore unknown fields


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_reference_in_a_schema_resolves(name: str) -> None:
    schema = load_schema(name)
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert set(refs) <= set(schema.get("$defs", {}))


def test_the_spec_example_sale_validates(lane_messages: LaneMessages) -> None:
    validate(lane_messages.sale(1))


def test_stock_and_event_examples_validate(lane_messages: LaneMessages) -> None:
    validate(lane_messages.stock(2, [("100234", "-2", "each"), ("200001", "-0.532", "kg")]))
    validate(lane_messages.event(3))


def test_unknown_fields_are_allowed(lane_messages: LaneMessages) -> None:
    validate({**lane_messages.sale(1), "loyalty": {"points": 7}})


@pytest.mark.parametrize(
    "path",
    [
        ("change",),
        ("totals", "total"),
        ("lines", 0, "amount"),
        ("tenders", 0, "amount"),
        ("taxes", 0, "tax"),
    ],
)
@pytest.mark.parametrize("value", [7.5, 700.0])
def test_money_as_a_float_fails_naming_the_field(
    lane_messages: LaneMessages, path: tuple[Any, ...], value: float
) -> None:
    message = lane_messages.sale(1)
    target: Any = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    where = ".".join(str(p) for p in path).replace(".0.", "[0].")
    assert f"lane.sale/1: {where}: {value}" in fails(message)


def test_missing_seq_fails_naming_the_field(lane_messages: LaneMessages) -> None:
    message = lane_messages.sale(1)
    del message["seq"]
    assert fails(message) == "lane.sale/1: seq: required"


def test_missing_nested_field_is_named(lane_messages: LaneMessages) -> None:
    message = lane_messages.sale(1)
    del message["lines"][0]["qty"]
    assert fails(message) == "lane.sale/1: lines[0].qty: required"


@pytest.mark.parametrize("seq", [0, -1, "1", True, 1.0])
def test_seq_is_an_integer_from_one(lane_messages: LaneMessages, seq: object) -> None:
    assert "seq" in fails({**lane_messages.sale(1), "seq": seq})


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-28T13:20:01",
        "2026-11-28 13:20:01+08:00",
        "2026-13-28T13:20:01+08:00",
        "2026-11-28T13:20:01+08:00\n",
        "yesterday",
        1764307201,
    ],
)
def test_at_is_rfc3339_with_offset(lane_messages: LaneMessages, at: object) -> None:
    assert "at" in fails(lane_messages.sale(1, at=at))


@pytest.mark.parametrize("at", ["2026-11-28T05:20:01Z", "2026-11-28T13:20:01.250+08:00"])
def test_utc_and_offset_timestamps_pass(lane_messages: LaneMessages, at: str) -> None:
    validate(lane_messages.sale(1, at=at))


@pytest.mark.parametrize("qty", ["1e3", "+2", " 2", "2.", ".5", "2\n", "٢", "", "NaN", 2])
def test_quantities_are_plain_decimal_strings(lane_messages: LaneMessages, qty: object) -> None:
    message = lane_messages.stock(1)
    message["deltas"][0]["qty"] = qty
    assert "deltas[0].qty" in fails(message)


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    )
)
def test_any_decimal_quantity_written_plainly_passes(qty: Decimal) -> None:
    message = LaneMessages().stock(1)
    message["deltas"][0]["qty"] = format(qty, "f")
    validate(message)


def test_unknown_or_missing_schema_is_refused() -> None:
    assert fails({"schema": "lane.sale/9", "at": "x"}) == "schema: unknown 'lane.sale/9'"
    assert "schema: unknown" in fails({"at": "x"})
    with pytest.raises(ContractError, match="JSON object"):
        validate([1, 2])  # type: ignore[arg-type]


@given(
    st.dictionaries(st.text(max_size=12), json_values, max_size=6), st.sampled_from(SCHEMA_NAMES)
)
def test_validate_only_ever_raises_contract_errors(body: dict[str, Any], name: str) -> None:
    try:
        validate({**body, "schema": name})
    except ContractError as e:
        assert str(e).startswith(name)


@given(st.sampled_from(["sale", "stock", "event"]), st.data())
def test_the_fast_path_accepts_nothing_the_reference_rejects(
    kind: str, data: st.DataObject
) -> None:
    """Any field of a valid message replaced by any JSON value: when the compiled
    validator accepts the result, jsonschema accepts it too."""
    message = getattr(LaneMessages(), kind)(1)
    paths = list(_paths(message))
    path = data.draw(st.sampled_from(paths))
    _put(message, path, data.draw(json_values))
    if _fast_accepts(message["schema"], message):
        assert best_match(_validator(message["schema"]).iter_errors(message)) is None


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Any:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _put(message: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        message = message[key]
    message[path[-1]] = value


# --- status, catalog request, ack --------------------------------------------------------


def test_status_message_validates_and_carries_its_times() -> None:
    message = status(connected_at=AT - timedelta(minutes=5))
    validate(message)
    assert message["state"] == "online"
    assert message["at"] == "2026-11-28T13:20:01.250+08:00"
    assert message["connected_at"] == "2026-11-28T13:15:01.250+08:00"
    assert message["outbox"] == {"pending": 2, "oldest_at": "2026-11-28T13:19:00.000+08:00"}


def test_offline_status_with_empty_outbox_validates() -> None:
    empty = OutboxStats(pending=0, oldest_at=None, next_seq=1, acked_upto=0)
    validate(status(state="offline", outbox=empty, catalog_version=None, devices={}))


def test_status_needs_an_offset_and_a_known_state() -> None:
    with pytest.raises(ValueError, match="offset"):
        status(at=datetime(2026, 11, 28, 13, 0))
    with pytest.raises(ContractError, match="state"):
        status(state="sleeping")


@given(
    st.datetimes(
        timezones=st.timezones(), min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)
    )
)
def test_status_timestamps_always_validate(at: datetime) -> None:
    if at.utcoffset() is None:
        return
    validate(status(at=at, connected_at=at))


def test_catalog_request_validates() -> None:
    message = catalog_request_message(57, at=AT, store="S001", lane="01")
    validate(message)
    assert message["have"] == 57
    validate(catalog_request_message(None, at=AT, store="S001", lane="01"))


def test_ack_round_trip() -> None:
    payload = encode(ack_message(42, at=AT))
    assert parse_ack(payload) == 42
    assert parse_ack(encode({**ack_message(0, at=AT), "server": "hq-7"})) == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"NaN",
        b'{"upto": 3}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":-1}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":3.0}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":"3"}',
        b'{"schema":"store.ack/1","at":"2026-11-28T13:20:01+08:00","upto":true}',
        b'{"schema":"store.ack/1","upto":3}',
        b'{"schema":"lane.sale/1","at":"2026-11-28T13:20:01+08:00","upto":3}',
        b"[" * 100_000,
        b'{"schema":"store.ack/1","pad":"' + b"x" * 10_000 + b'"}',
    ],
)
def test_anything_but_an_ack_is_refused(payload: bytes) -> None:
    with pytest.raises(ContractError):
        parse_ack(payload)


@given(st.binary(max_size=200))
def test_ack_parser_only_raises_contract_errors_on_bytes(payload: bytes) -> None:
    with contextlib.suppress(ContractError):
        assert parse_ack(payload) >= 0


@given(json_values)
def test_ack_parser_only_raises_contract_errors_on_json(value: object) -> None:
    with contextlib.suppress(ContractError):
        assert parse_ack(json.dumps(value).encode()) >= 0


@given(
    st.integers(min_value=0, max_value=MAX_INT),
    st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)),
)
def test_every_valid_ack_parses_back(upto: int, at: datetime) -> None:
    assert parse_ack(encode(ack_message(upto, at=at))) == upto


@given(json_values)
def test_decode_returns_objects_and_refuses_the_rest(value: object) -> None:
    payload = json.dumps(value, ensure_ascii=False).encode()
    if isinstance(value, dict):
        assert decode(payload) == value
    else:
        with pytest.raises(ContractError):
            decode(payload)


def test_a_sale_payload_around_the_journals_text_is_the_sale_message() -> None:
    """The lane encodes a sale's body once (for the journal) and wraps the message around
    that text: readers get the very object ``sale_message`` builds."""
    from firmware_app.store.journal import canonical

    body = {k: v for k, v in LaneMessages().sale(7).items() if k not in ("schema", "at", "seq")}
    body.pop("journal_hash")
    expected = sale_message(body, seq=7, journal_hash="ab" * 32)
    payload = sale_payload(canonical(body), at=body["closed_at"], seq=7, journal_hash="ab" * 32)
    assert json.loads(payload) == expected
    validate(json.loads(payload))
