"""Every downlink message under fuzzing: acks, catalog documents (the store's and the
lane's topic), member answers (``store.member/1``) and commands, through the lane's own
dispatcher (``SyncService`` on a real mosquitto, then ``LaneApp.on_downlink``, the catalog
thread and the lane loop).

The lane is mid-sale with a member question open and six sales published but not
acknowledged: the state where an answer, an ack or a catalog change matters most. Each
payload is a mutation of a valid message for its topic or random JSON or bytes. What its
parser refuses (``ContractError``, ``CatalogError``) the lane refuses too: the handler
counts the refusal, and every row of lane.db and catalog.db, the lane's state and its
inbox are as before. A command (``store.cmd/1``, not yet in use) is never acted on.

The parsers alone, without the broker, get many more examples after that; and every
member answer the parser takes is stepped into a lane with its question open, the lane
loop and both screens taking it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp, screen_setup
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.errors import CatalogError
from firmware_app.lane.events import DeviceState, Event, KeyPressed, MemberAnswer
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import Mode
from firmware_app.lane.view import customer_view, screen_view
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.sync.contract import parse_ack
from firmware_app.sync.errors import ContractError
from firmware_app.sync.members import parse_member_answer
from hw_sim.broker import MosquittoBroker
from tests.fuzz.test_fuzz_data_catalog import SAMPLE, change_on, everything, snapshot_on
from tests.fuzz.test_fuzz_data_mutations import (
    Deep,
    Huge,
    Pairs,
    fuzz_settings,
    json_values,
    mutated,
    to_json,
)
from tests.headless import headless_config
from tests.sync.lanes import fill_outbox
from tests.waiting import wait_until

CARD = "6901234567892"  # a 13-digit member card, GS1 check digit
PUBLISHED = 6  # outbox rows the lane has published and the store has not acknowledged
AT = "2026-12-03T09:00:00+08:00"


def ack(upto: int) -> dict[str, Any]:
    return {"schema": "store.ack/1", "at": AT, "upto": upto}


def answer(request_id: str, **fields: Any) -> dict[str, Any]:
    return {"schema": "store.member/1", "at": AT, "request_id": request_id, "member": CARD,
            "status": "active", "name": "王芳", "points": 120, **fields}  # fmt: skip


COMMAND = {"schema": "store.cmd/1", "at": AT, "cmd": "reboot", "args": {"now": True}}


def payloads(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Mutations of a valid message (mostly), random JSON, random bytes."""
    return st.one_of(
        valid.flatmap(mutated).map(to_json),
        valid.flatmap(mutated).map(to_json),
        json_values.map(to_json),
        st.binary(max_size=64),
    )


# --- a lane mid-sale, on a real broker ------------------------------------------------------


class Lane:
    """A lane built as ``run`` builds it, its sync thread and catalog thread running; the
    lane loop is stepped here, by the test, so that its state is compared at rest."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        cfg = config_mod.parse(
            headless_config(
                tmp_path,
                url,
                ui={"enabled": False},
                mqtt={"ack_timeout_s": 3600},
                members={"lengths": [13], "check_digit": "mod10-gs1", "answer_timeout": 10},
            )
        )
        self.app = LaneApp(
            cfg, hardware=Hardware(display=TextDisplay(io.StringIO(), setup=LaneSetup()))
        )
        self.app.catalog.apply(parse_catalog(json.dumps(SAMPLE).encode()))
        fill_outbox(self.app.db, PUBLISHED, created_at=self.app.clock())
        self.app.catalog_updates.start()
        self.app.sync.start()
        wait_until(lambda: self.app.sync.connected, "the lane to connect")
        wait_until(lambda: self.app.sync.counters.published >= PUBLISHED, "the outbox sent")
        # Signed on, a member card keyed: the sale waits for the store server's answer.
        self.app.loop.state = replace(
            self.app.loop.state, mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER)
        )
        for key in [*CARD, "MEMBER"]:
            self.app.loop.step(KeyPressed(key))
        self.pump()
        sale = self.app.loop.state.sale
        assert sale is not None and sale.member_check is not None
        self.request_id = sale.member_check.request_id
        self.topics = self.app.topics
        self.store = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="store-side")
        host, port = url.removeprefix("mqtt://").split(":")
        self.store.connect(host, int(port))
        self.store.loop_start()
        wait_until(self.store.is_connected, "the store side to connect")

    def pump(self) -> list[Event]:
        """Step the lane loop through everything posted, each state shown on the screens as
        the screen server would; what was not a device's state."""
        taken = []
        while (item := self.app.inbox.take(0)) is not None:
            self.app.loop.step(item)
            self.app.inbox.done()
            state, now = self.app.loop.state, self.app.clock()
            screen = screen_setup(self.app.config)
            orjson.dumps(screen_view(state, self.app.setup, screen, now))
            orjson.dumps(customer_view(state, self.app.setup, screen, now))
            if not isinstance(item, DeviceState):
                taken.append(item)
        return taken

    def snapshot(self) -> Any:
        """The lane's databases, its state (device words aside: the broker's own
        comings and goings) and the handlers' refusal counts."""
        app = self.app
        return (
            everything(app.config.database),
            everything(app.config.catalog_database),
            replace(app.loop.state, devices=()),
        )

    def handled(self) -> tuple[int, int]:
        counters = self.app.sync.counters
        return counters.downlink, counters.rejected_acks

    def send(self, topic: str, payload: bytes, *, refused: bool) -> None:
        """Publish ``payload`` then an empty marker on ``topic``: once the marker is
        counted, the payload was handled (one topic keeps its order; the sync thread
        handles one message at a time). ``refused``: its parser refuses the payload."""
        before = self.handled()
        for body in (payload, b""):
            self.store.publish(topic, body, qos=1).wait_for_publish(5)
        if topic == self.topics.ack:  # acks are counted apart, refused or written
            marked = before[1] + 1 + refused
            wait_until(lambda: self.app.sync.counters.rejected_acks >= marked, "the acks")
        else:
            wait_until(lambda: self.app.sync.counters.downlink >= before[0] + 2)
        wait_until(self.app.catalog_updates.idle, "the catalog thread")

    def close(self) -> None:
        self.store.loop_stop()
        self.store.disconnect()
        self.app.close()


@pytest.fixture
def lane(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Lane]:
    rig = Lane(tmp_path, mosquitto.url)
    yield rig
    rig.close()


def _refused(parse: Any, error: type[Exception], payload: bytes) -> bool:
    try:
        parse(payload)
    except error:
        return True
    return False


def check_refusal(lane: Lane, topic: str, payload: bytes) -> None:
    """Send ``payload`` on ``topic``; if its parser refuses it, the lane changes nothing."""
    topics = lane.topics
    if topic == topics.ack:
        refused = _refused(parse_ack, ContractError, payload)
        count = lambda: lane.app.sync.counters.rejected_acks  # noqa: E731
    elif topic == topics.member:
        refused = _refused(parse_member_answer, ContractError, payload)
        count = lambda: lane.app.member_answers.rejected  # noqa: E731
    elif topic in (topics.store_catalog, topics.lane_catalog):
        refused = _refused(parse_catalog, CatalogError, payload)
        count = lambda: lane.app.catalog_updates.rejected  # noqa: E731
    else:
        refused = True  # a command: nothing acts on one yet
        count = lambda: 0  # noqa: E731
    before, rejected = lane.snapshot(), count()
    lane.send(topic, payload, refused=refused)
    if topic != topics.cmd:  # the marker counted by its handler too: both were handled
        wait_until(lambda: count() >= rejected + 1 + refused, "the refusals counted")
    posted = lane.pump()
    if currently_in_test_context():
        event(f"{topic.rsplit('/', 1)[-1]}: {'refused' if refused else 'taken'}")
    if not refused:
        return
    assert posted == [], posted
    after = lane.snapshot()
    assert after[0] == before[0], "lane.db changed"
    assert after[1] == before[1], "catalog.db changed"
    assert after[2] == before[2], "the lane's state changed"
    if topic != topics.cmd:
        assert count() == rejected + 2  # the payload and the marker, each counted


def messages(lane_request_id: str) -> st.SearchStrategy[tuple[str, bytes]]:
    prefix = "pos/S001/lanes/01"
    return st.one_of(
        st.tuples(st.just(f"{prefix}/ack"), payloads(st.sampled_from([ack(3), ack(0)]))),
        st.tuples(
            st.sampled_from([f"{prefix}/catalog", "pos/S001/catalog"]),
            payloads(st.sampled_from([change_on(), snapshot_on()])),
        ),
        st.tuples(
            st.just(f"{prefix}/member"),
            payloads(st.just(answer(lane_request_id))),
        ),
        st.tuples(st.just(f"{prefix}/cmd"), payloads(st.just(COMMAND))),
    )


@fuzz_settings(40)
@given(data=st.data())
def test_a_refused_downlink_message_changes_nothing_in_the_lane(
    lane: Lane, data: st.DataObject
) -> None:
    topic, payload = data.draw(messages(lane.request_id))
    check_refusal(lane, topic, payload)


def test_refusals_on_every_topic_at_the_edges(lane: Lane) -> None:
    """Payloads at every limit, once each, on the real dispatcher."""
    prefix = "pos/S001/lanes/01"
    edges = [
        (f"{prefix}/ack", to_json({**ack(3), "upto": Huge(5000)})),
        (f"{prefix}/ack", to_json(Pairs((("schema", "store.ack/1"), ("upto", 3), ("upto", -1))))),
        (f"{prefix}/ack", to_json({**ack(3), "at": "\ud800"})),
        (f"{prefix}/member", to_json({**answer(lane.request_id), "status": Deep(50_000)})),
        (f"{prefix}/member", to_json({**answer(lane.request_id), "member": "\u202e" + CARD})),
        (f"{prefix}/member", to_json({**answer(lane.request_id), "points": 2**63})),
        (f"{prefix}/member", to_json({**answer(lane.request_id), "name": "x" * 5000})),
        (f"{prefix}/catalog", to_json({**change_on(), "loyalty": {"per": Huge(400), "points": 1}})),
        ("pos/S001/catalog", to_json({**snapshot_on(), "promotions": [Deep(17, objects=True)]})),
        (f"{prefix}/cmd", b"\xff" * 70_000),
    ]
    for topic, payload in edges:
        check_refusal(lane, topic, payload)


# --- the parsers alone, many more examples ---------------------------------------------------


@fuzz_settings(150)
@given(payloads(st.just(answer("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"))))
@example(to_json({**answer("r"), "status": "\x00"}))
@example(to_json({**answer("r"), "request_id": Deep(900)}))
def test_the_member_answer_parser_raises_only_contract_errors(payload: bytes) -> None:
    try:
        got = parse_member_answer(payload)
    except ContractError as e:
        assert str(e)
        return
    assert isinstance(got, MemberAnswer) and got.member and got.request_id


@fuzz_settings(150)
@given(payloads(st.sampled_from([ack(3), ack(0), ack(2**53 - 1)])))
def test_the_ack_parser_raises_only_contract_errors(payload: bytes) -> None:
    try:
        upto = parse_ack(payload)
    except ContractError as e:
        assert str(e)
        return
    assert 0 <= upto <= 2**53 - 1


# --- accepted answers, each to the open question ----------------------------------------------


@pytest.fixture
def asking(tmp_path: Path) -> Iterator[tuple[LaneApp, Any]]:
    """A lane without a broker, its member question open; and that state, to go back to."""
    cfg = config_mod.parse(
        headless_config(
            tmp_path,
            "mqtt://127.0.0.1:9",
            ui={"enabled": False},
            members={"lengths": [13], "check_digit": "mod10-gs1", "answer_timeout": 10},
        )
    )
    app = LaneApp(cfg, hardware=Hardware(display=TextDisplay(io.StringIO(), setup=LaneSetup())))
    app.loop.state = replace(app.loop.state, mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER))
    for key in [*CARD, "MEMBER"]:
        app.loop.step(KeyPressed(key))
    yield app, app.loop.state
    app.close()


@fuzz_settings(60)
@given(data=st.data())
def test_an_answer_the_parser_takes_is_one_the_lane_and_its_screens_take(
    asking: tuple[LaneApp, Any], data: st.DataObject
) -> None:
    """Whatever the parser lets through (a name of any letters, points at their bound, an
    unknown status refused) the lane loop takes as the answer to its question, and both
    screens show the result."""
    app, open_question = asking
    app.loop.state = open_question
    sale = open_question.sale
    assert sale is not None and sale.member_check is not None
    payload = to_json(data.draw(mutated(answer(sale.member_check.request_id))))
    try:
        got = parse_member_answer(payload)
    except ContractError:
        event("refused by the parser")
        return
    event(f"taken: {got.status.value}")
    app.loop.step(got)
    screen = screen_setup(app.config)
    orjson.dumps(screen_view(app.loop.state, app.setup, screen, app.clock()))
    orjson.dumps(customer_view(app.loop.state, app.setup, screen, app.clock()))
