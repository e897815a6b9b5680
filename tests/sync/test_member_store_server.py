"""The simulated store server's members: answers to member requests from its members
file, balances kept from the sale stream (each sale's points once, duplicates and
training aside), and no answers at all without a members file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_app.sync.contract import Topics, encode, validate
from hw_sim.broker import MosquittoBroker
from hw_sim.store_server import StoreServer, StoreServerError, main
from hw_sim.store_server.members import Member, load_members
from tests.conftest import LaneMessages
from tests.sync.test_store_server import Lane
from tests.waiting import wait_until

TOPICS = Topics("pos", "S001", "01")
WANG, LI, ZHANG = "6901234567892", "6901234567885", "6901234567878"
MEMBERS = {
    WANG: Member(WANG, "王芳", "active", 120),
    ZHANG: Member(ZHANG, "张敏", "blocked", 35),
}


@pytest.fixture
def server(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[StoreServer]:
    with StoreServer(mosquitto.url, tmp_path / "store.db", members=MEMBERS) as s:
        yield s


@pytest.fixture
def lane(mosquitto: MosquittoBroker) -> Iterator[Lane]:
    client = Lane(mosquitto.url, TOPICS.member)
    yield client
    client.close()


def request(member: str, request_id: str) -> dict[str, Any]:
    return {
        "schema": "lane.member-request/1",
        "at": "2026-11-28T09:00:00+08:00",
        "store": "S001",
        "lane": "01",
        "member": member,
        "request_id": request_id,
    }


def answers(lane: Lane) -> dict[str, dict[str, Any]]:
    found = [json.loads(p) for t, p in list(lane.received) if t == TOPICS.member]
    return {a["request_id"]: a for a in found}


def member_sale(
    lane_messages: LaneMessages, seq: int, member: str, points: int, **kw: Any
) -> dict[str, Any]:
    fields = {"member": member, "member_verified": True, "points": points, **kw}
    return {**lane_messages.sale(seq), **fields}


def test_requests_are_answered_from_the_members_file_and_the_sales_received(
    server: StoreServer, lane: Lane, lane_messages: LaneMessages
) -> None:
    sale = member_sale(lane_messages, 1, WANG, 7)
    validate(sale)
    lane.send(sale)
    lane.send(sale)  # a duplicate: counted once
    lane.send(member_sale(lane_messages, 2, WANG, 50, training=True))  # kept apart
    lane.send(member_sale(lane_messages, 3, WANG, -2, kind="return"))
    wait_until(lambda: server.received == 4, "four sales received")
    for i, member in enumerate((WANG, ZHANG, LI), 1):
        lane.send(request(member, f"r{i}"), topic=TOPICS.member_request)
    wait_until(lambda: len(answers(lane)) == 3, "three answers")
    got = answers(lane)
    for answer in got.values():
        validate(answer)
    said = {k: (a["member"], a["status"], a.get("name"), a.get("points")) for k, a in got.items()}
    assert said == {
        "r1": (WANG, "active", "王芳", 125),
        "r2": (ZHANG, "blocked", None, None),
        "r3": (LI, "unknown", None, None),
    }  # fmt: skip
    assert server.points(WANG, "S001") == 125
    assert server.ledger.points_by_member("S001") == server.ledger.recount_points("S001")
    assert server.ledger.points_by_member("S001") == {WANG: 5}


def test_a_bad_request_is_rejected_and_unanswered(
    server: StoreServer, lane: Lane, caplog: pytest.LogCaptureFixture
) -> None:
    lane.client.publish(TOPICS.member_request, b"{oops", qos=1).wait_for_publish(5)
    lane.send({**request(WANG, "r1"), "member": "12ab"}, topic=TOPICS.member_request)
    lane.send(request(WANG, "r2"), topic=TOPICS.member_request)
    wait_until(lambda: "r2" in answers(lane), "the good request's answer")
    assert list(answers(lane)) == ["r2"]
    assert server.rejected == 2
    assert "member/request: rejected" in caplog.text


def test_without_a_members_file_nothing_is_answered(
    mosquitto: MosquittoBroker, tmp_path: Path, lane: Lane, lane_messages: LaneMessages
) -> None:
    with StoreServer(mosquitto.url, tmp_path / "plain.db") as plain:
        lane.send(request(WANG, "r1"), topic=TOPICS.member_request)
        lane.send(member_sale(lane_messages, 1, WANG, 7))
        wait_until(lambda: plain.received == 1, "the sale")
        assert plain.member_answers == 0 and answers(lane) == {}
        assert plain.points(WANG) == 7  # balances are kept all the same


def test_the_sample_members_file_loads() -> None:
    members = load_members(Path(__file__).resolve().parents[2] / "hw_sim/samples/members.json")
    assert members[WANG] == Member(WANG, "王芳", "active", 120)
    assert members[ZHANG].status == "blocked"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "--members"),
        ('{"number": "1"}', "expected a JSON list"),
        ('[{"number": 1}]', r"\[0\]\.number: expected digits"),
        ('[{"number": "1", "status": "gold"}]', r"\[0\]\.status"),
        ('[{"number": "1", "points": 1.5}]', r"\[0\]\.points"),
        ('[{"number": "1"}, {"number": "1"}]', r"\[1\]\.number: 1 twice"),
    ],
)
def test_a_bad_members_file_is_refused_by_entry_and_field(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "members.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StoreServerError, match=reason):
        load_members(path)


def test_the_command_line_refuses_a_bad_members_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "members.json"
    path.write_text("[1]", encoding="utf-8")
    args = ["--broker", "mqtt://127.0.0.1:1", "--db", str(tmp_path / "s.db")]
    assert main([*args, "--members", str(path)]) == 2
    assert "[0]: expected an object" in capsys.readouterr().err


def test_encode_of_a_request_validates() -> None:
    validate(json.loads(encode(request(WANG, "r1"))))
