"""Everything the store server can send, at and past every bound, through every downlink
handler and parser: acks, catalog documents and parts, commands, any other topic.

Whatever arrives, nothing raises but the module's own errors (the handlers raise
nothing at all), and whatever is refused changes nothing: the outbox's rows and marks,
the send window, the catalog and its staged parts are the same before and after.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.app.catalog_updates import CatalogUpdates
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.errors import CatalogError
from firmware_app.lane.rules import LaneSetup
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.acks import Acks, AckVerdict
from firmware_app.sync.contract import MAX_ACK_BYTES, MAX_INT, ContractError, Topics, parse_ack
from firmware_app.sync.window import SendWindow
from tests.headless import headless_config
from tests.sync.lanes import fill_outbox

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=CST)
TOPICS = Topics("pos", "S001", "01")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what a store server might send ---------------------------------------------------

EDGES = [0, 1, -1, MAX_INT - 1, MAX_INT, MAX_INT + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]
edge_ints = st.sampled_from(EDGES) | st.integers()
leaves = (
    st.none()
    | st.booleans()
    | edge_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.0, 0.5, 1e300, -0.0, 9007199254740993.0])
    | st.text(max_size=20)
    | st.sampled_from(["", "13", "-1", "1e999999", "NaN", "each", "kg", "0" * 300])
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Byte strings no JSON encoder writes: a lone surrogate, an integer past what Python
# parses, nesting past the recursion limit, a size past the limit, not UTF-8.
RAW = [
    b'{"schema":"store.catalog/1","version":2,"base_version":null,"removed":["\\ud800"]}',
    b'{"schema":"store.catalog/1","version":' + b"9" * 5000 + b',"base_version":null}',
    b'{"schema":"store.ack/1","at":"2026-11-28T09:00:00+08:00","upto":' + b"9" * 5000 + b"}",
    b"[" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\xff\xfe{}",
    b'{"schema":"store.ack/1","pad":"' + b"x" * MAX_ACK_BYTES + b'"}',
    b"NaN",
    b'{"schema":"store.catalog/1","version":Infinity}',
]


def at_values() -> st.SearchStrategy[Any]:
    return st.sampled_from(["2026-11-28T09:00:00+08:00", "2026-02-30T09:00:00Z", ""]) | json_values


def ack_documents() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"schema": st.sampled_from(["store.ack/1"]) | json_values, "upto": edge_ints | json_values},
        optional={"at": at_values(), "extra": json_values},
    )


GOOD_ITEM = {"sku": "100234", "name": "可口可乐 330ml", "codes": ["6954767410388"], "plu": None,
             "unit": "each", "price": 350, "tax_rate": "13"}  # fmt: skip


@st.composite
def items(draw: st.DrawFn) -> Any:
    item: dict[str, Any] = dict(GOOD_ITEM)
    item["sku"] = draw(st.sampled_from(["100234", "200001", "300002"]))
    item["codes"] = draw(st.sampled_from([[], ["6954767410388"], ["96385074"], ["12"]]))
    for key in draw(st.sets(st.sampled_from([*GOOD_ITEM, "active", "age_restricted"]))):
        item[key] = draw(edge_ints | json_values)
    if draw(st.booleans()):
        return draw(json_values)
    return item


def catalog_documents() -> st.SearchStrategy[dict[str, Any]]:
    versions = st.integers(0, 4) | edge_ints | json_values
    return st.fixed_dictionaries(
        {
            "schema": st.sampled_from(["store.catalog/1"]) | json_values,
            "version": versions,
            "base_version": st.none() | versions,
        },
        optional={
            "at": at_values(),
            "items": st.lists(items(), max_size=3) | json_values,
            "removed": st.lists(st.sampled_from(["100234", "x", ""]), max_size=2) | json_values,
            "promotions": st.just([]) | json_values,
            "part": st.integers(1, 3) | edge_ints | json_values,
            "parts": st.integers(1, 3) | edge_ints | json_values,
        },
    )


def encoded(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    as_json = documents.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8"))
    return as_json | st.sampled_from(RAW) | st.binary(max_size=64)


# --- state, before and after ------------------------------------------------------------


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def outbox_state(path: Path) -> Any:
    return (
        rows(path, "SELECT seq, acked_at FROM outboxmessage ORDER BY seq"),
        rows(path, "SELECT key, value FROM meta WHERE key LIKE 'outbox.%' ORDER BY key"),
    )


def catalog_state(path: Path) -> Any:
    return (
        rows(path, "SELECT * FROM catalogitem ORDER BY sku"),
        rows(path, "SELECT * FROM itemcode ORDER BY code"),
        rows(path, "SELECT key, value FROM meta ORDER BY key"),
    )


def staged_state(path: Path) -> Any:
    return (
        rows(path, "SELECT * FROM catalogstagepart ORDER BY version, part"),
        rows(path, "SELECT * FROM catalogstageitem ORDER BY version, part, pos"),
        rows(path, "SELECT * FROM catalogstagecode ORDER BY version, part, code"),
        rows(path, "SELECT * FROM catalogstageremoved ORDER BY version, part, sku"),
    )


# --- acks ------------------------------------------------------------------------------


class AckRig:
    """A real outbox of 40 rows; this run has published 1..25; 50 is beyond them all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_database(path)
        fill_outbox(self.db, 40, created_at=T0)
        self.outbox = Outbox(self.db)
        self.window = SendWindow(ack_timeout_s=30.0, max_unacked=100)
        self.window.restart(0, 40)
        for seq in range(1, 26):
            self.window.published(seq, 0.0)
        self.acks = Acks(self.outbox, self.window)


@pytest.fixture
def ack_rig(tmp_path: Path) -> Iterator[AckRig]:
    rig = AckRig(tmp_path / "lane.db")
    yield rig
    rig.db.close()


def ack_payload(upto: int) -> str:
    return json.dumps({"schema": "store.ack/1", "at": "2026-11-28T09:00:00+08:00", "upto": upto})


@FUZZ
@given(
    st.lists(
        encoded(ack_documents()) | st.integers(-5, 60).map(ack_payload).map(str.encode),
        min_size=1,
        max_size=6,
    )
)
def test_acks_move_nothing_but_what_was_published(ack_rig: AckRig, payloads: list[bytes]) -> None:
    for payload in payloads:
        before = outbox_state(ack_rig.path), ack_rig.window.acked
        try:
            result = ack_rig.acks.receive(payload)
        except ContractError:
            result = None
        ack_rig.acks.write(T0)
        after = outbox_state(ack_rig.path), ack_rig.window.acked
        if result is None or not result.moved:
            assert after == before, result
            continue
        assert result.applied <= ack_rig.window.highest == 25
        if result.verdict is AckVerdict.CAPPED:
            assert result.upto > 25 and result.applied == 25
        marked = [seq for seq, acked_at in after[0][0] if acked_at is not None]
        assert marked == list(range(1, ack_rig.window.acked + 1))
        assert ack_rig.outbox.stats().acked_upto == ack_rig.window.acked <= 25


@pytest.mark.parametrize("upto", [41, 50, MAX_INT])
def test_an_ack_beyond_every_assigned_seq_is_refused(ack_rig: AckRig, upto: int) -> None:
    before = outbox_state(ack_rig.path)
    result = ack_rig.acks.apply(upto)
    assert (result.verdict, result.last_seq) == (AckVerdict.AHEAD, 40)
    assert ack_rig.acks.write(T0) == 0
    assert outbox_state(ack_rig.path) == before and ack_rig.window.acked == 0


def test_the_outbox_never_marks_past_its_last_seq(ack_rig: AckRig) -> None:
    from firmware_app.errors import StoreError

    before = outbox_state(ack_rig.path)
    for upto in (41, 2**63, 2**64):
        with pytest.raises(StoreError, match="beyond the last seq assigned"):
            ack_rig.outbox.ack_upto(upto, T0)
    assert outbox_state(ack_rig.path) == before


@FUZZ
@given(encoded(ack_documents()))
def test_the_ack_parser_raises_only_contract_errors(payload: bytes) -> None:
    with suppress(ContractError):
        assert 0 <= parse_ack(payload) <= MAX_INT


# --- catalog documents and parts --------------------------------------------------------


class CatalogRig:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_catalog(path)
        self.catalog = StoreCatalog(self.db)
        self.requests: list[int] = []
        self.updates = CatalogUpdates(
            self.catalog,
            request_snapshot=self.requests.append,
            on_applied=lambda version: None,
            clock=lambda: T0,
        )
        self.catalog.apply(parse_catalog(json.dumps(snapshot(1)).encode()))


def snapshot(version: int) -> dict[str, Any]:
    return {"schema": "store.catalog/1", "at": "2026-11-28T09:00:00+08:00", "version": version,
            "base_version": None, "items": [GOOD_ITEM]}  # fmt: skip


@pytest.fixture
def catalog_rig(tmp_path: Path) -> Iterator[CatalogRig]:
    rig = CatalogRig(tmp_path / "catalog.db")
    yield rig
    rig.db.close()


@FUZZ
@given(st.lists(encoded(catalog_documents()), min_size=1, max_size=4))
def test_catalog_messages_change_nothing_unless_applied_or_kept(
    catalog_rig: CatalogRig, payloads: list[bytes]
) -> None:
    for payload in payloads:
        for topic in (TOPICS.store_catalog, TOPICS.lane_catalog):
            before = catalog_state(catalog_rig.path), staged_state(catalog_rig.path)
            applied = catalog_rig.updates.applied
            try:
                parse_catalog(payload)
                parses = True
            except CatalogError:
                parses = False
            catalog_rig.updates.handle(topic, payload)  # raises nothing, whatever comes
            after = catalog_state(catalog_rig.path), staged_state(catalog_rig.path)
            if not parses:
                assert after == before  # nothing kept, nothing applied
            elif catalog_rig.updates.applied == applied:
                assert after[0] == before[0]  # staged at most: the catalog is as it was


@FUZZ
@given(encoded(catalog_documents()))
def test_the_catalog_parser_raises_only_catalog_errors(payload: bytes) -> None:
    with suppress(CatalogError):
        change = parse_catalog(payload)
        assert 1 <= change.version <= MAX_INT
        assert all(0 <= item.price <= MAX_INT for item in change.items)


# --- commands and any other downlink topic ---------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[LaneApp]:
    cfg = config_mod.parse(headless_config(tmp_path, "mqtt://127.0.0.1:9"))
    lane_app = LaneApp(
        cfg, hardware=Hardware(display=TextDisplay(io.StringIO(), setup=LaneSetup()))
    )
    yield lane_app
    lane_app.close()


@FUZZ
@given(
    st.sampled_from([TOPICS.cmd, f"{TOPICS.lane_prefix}/member", "pos/S001/lanes/01/x/y"]),
    encoded(json_values),
)
def test_commands_and_unknown_topics_change_nothing(
    app: LaneApp, topic: str, payload: bytes
) -> None:
    before = outbox_state(app.config.database), catalog_state(app.config.catalog_database)
    app.on_downlink(topic, payload)
    after = outbox_state(app.config.database), catalog_state(app.config.catalog_database)
    assert after == before
