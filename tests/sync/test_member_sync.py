"""Members over a real broker: the lane's question goes out live on
``…/member/request``, the store server's answer on ``…/member`` reaches the lane's
inbox and verifies the member; a malformed answer is logged and dropped and changes
nothing; with no broker nothing is asked and the member stays unverified."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.lane.events import Event, KeyPressed, MemberAnswer
from firmware_app.lane.member_check import CheckState, MemberStatus
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import Mode
from firmware_app.sync.contract import validate
from firmware_app.sync.members import parse_member_answer
from hw_sim.broker import MosquittoBroker
from tests.headless import headless_config
from tests.waiting import wait_until

CARD = "6901234567892"
REQUESTS = "pos/S001/lanes/01/member/request"
ANSWERS = "pos/S001/lanes/01/member"


@pytest.fixture
def app(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[LaneApp]:
    cfg = config_mod.parse(
        headless_config(
            tmp_path,
            mosquitto.url,
            members={"lengths": [13], "check_digit": "mod10-gs1", "answer_timeout": 5},
        )
    )
    lane_app = LaneApp(
        cfg, hardware=Hardware(display=TextDisplay(io.StringIO(), setup=LaneSetup()))
    )
    lane_app.start()
    wait_until(lambda: lane_app.sync.connected)
    # Signed on, as a cashier would be (the core's sign-on is tested elsewhere).
    lane_app.loop.state = replace(
        lane_app.loop.state, mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER)
    )
    yield lane_app
    lane_app.close()


class StoreSide:
    """The store server's end: takes the lane's questions, answers what it is told."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.requests: list[dict[str, Any]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="store-side")
        self.client.on_message = lambda c, u, m: self.requests.append(json.loads(m.payload))
        self.client.connect(host, int(port))
        self.client.subscribe(REQUESTS, qos=1)
        self.client.loop_start()
        wait_until(lambda: self.client.is_connected())

    def answer(self, message: dict[str, Any] | bytes) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False)
        self.client.publish(ANSWERS, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def answer_to(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "schema": "store.member/1",
        "at": "2026-11-28T09:00:00+08:00",
        "request_id": request["request_id"],
        "member": request["member"],
        "status": "active",
        "name": "王芳",
        "points": 120,
        **fields,
    }


def member_answers(app: LaneApp, timeout_s: float = 5.0) -> list[Event]:
    """Take events off the lane's inbox (as the loop would) until a ``MemberAnswer``."""
    taken: list[Event] = []
    while not any(isinstance(e, MemberAnswer) for e in taken):
        event = app.inbox.take(timeout_s)
        assert event is not None, f"no member answer came; took {taken}"
        app.inbox.done()
        taken.append(event)
    return [e for e in taken if isinstance(e, MemberAnswer)]


def key_member(app: LaneApp, number: str) -> None:
    for key in [*number, "MEMBER"]:
        app.loop.step(KeyPressed(key))


def test_the_question_goes_out_and_the_answer_verifies_the_member(
    app: LaneApp, mosquitto: MosquittoBroker
) -> None:
    store = StoreSide(mosquitto.url)
    try:
        key_member(app, CARD)
        sale = app.loop.state.sale
        assert sale is not None and sale.member == CARD
        wait_until(lambda: bool(store.requests))
        request = store.requests[0]
        validate(request)
        assert request["schema"] == "lane.member-request/1"
        assert (request["member"], request["store"], request["lane"]) == (CARD, "S001", "01")
        assert sale.member_check is not None
        assert request["request_id"] == sale.member_check.request_id
        assert app.outbox.stats().pending == 0  # live: never through the outbox

        reply = answer_to(request)
        validate(reply)
        store.answer(reply)
        (answer,) = member_answers(app)
        assert answer == MemberAnswer(request["request_id"], CARD, MemberStatus.ACTIVE, "王芳", 120)
        app.loop.step(answer)
        check = app.loop.state.sale.member_check if app.loop.state.sale else None
        assert check is not None and check.state is CheckState.VERIFIED
        assert check.name == "王芳" and check.balance == 120
    finally:
        store.close()


BAD_ANSWERS: list[Any] = [
    b"{oops",
    b"\xff\xfe",
    b"[]",
    {"status": "gold"},
    {"points": 1.5},
    {"points": 2**60},
    {"member": "12ab"},
    {"request_id": "a/b"},
    {"schema": "store.member/2"},
    {"name": "x" * 65},
]


def test_a_bad_answer_is_dropped_and_changes_nothing(
    app: LaneApp, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    store = StoreSide(mosquitto.url)
    try:
        key_member(app, CARD)
        wait_until(lambda: bool(store.requests))
        request = store.requests[0]
        for bad in BAD_ANSWERS:
            store.answer(bad if isinstance(bad, bytes) else answer_to(request, **bad))
        store.answer(answer_to(request, status="blocked"))  # a good one after them
        (answer,) = member_answers(app)
        assert answer.status is MemberStatus.BLOCKED
        assert app.member_answers.rejected == len(BAD_ANSWERS)
        assert "member answer on pos/S001/lanes/01/member dropped" in caplog.text
        app.loop.step(answer)
        sale = app.loop.state.sale
        assert sale is None  # the sale was opened for the member alone
    finally:
        store.close()


def test_without_a_broker_nothing_is_asked_and_the_member_stays_unverified(
    app: LaneApp, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    mosquitto.stop()
    wait_until(lambda: not app.sync.connected)
    key_member(app, CARD)
    wait_until(lambda: "not asked (no broker)" in caplog.text)
    assert CARD not in caplog.text  # the number is personal: logs show its end only
    sale = app.loop.state.sale
    assert sale is not None and sale.member == CARD


@pytest.mark.parametrize("payload", [b"", b"null", b'{"schema":"store.member/1"}', b"1e999"])
def test_the_parser_refuses_with_a_contract_error(payload: bytes) -> None:
    from firmware_app.sync.errors import ContractError

    with pytest.raises(ContractError):
        parse_member_answer(payload)
