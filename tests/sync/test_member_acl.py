"""Members through a store's broker set up as docs/mosquitto says: a lane asks on its
own ``member/request`` and hears its own ``member`` answers; the store server hears
every lane's questions and answers each; no lane asks for or hears another."""

from __future__ import annotations

from tests.sync.test_broker_config import (  # noqa: F401 - fixtures used by name
    LANE1,
    LANE2,
    NOT_AUTHORIZED,
    Peer,
    StoreBroker,
    login,
    peers,
    store_broker,
    tools,
)
from tests.waiting import wait_until


def test_a_lane_asks_and_hears_about_members_on_its_own_topics_only(
    store_broker: StoreBroker,  # noqa: F811
    peers: list[Peer],  # noqa: F811
) -> None:
    server = login(peers, store_broker, "store-server")
    server.subscribe("pos/S001/lanes/+/member/request")
    lane = login(peers, store_broker, "lane-S001-01")
    lane.subscribe(*LANE1.downlink, LANE2.member)
    assert not lane.publish(LANE1.member_request, b"{}").is_failure
    assert lane.publish(LANE2.member_request, b"{}").value == NOT_AUTHORIZED
    assert lane.publish(LANE2.member, b"{}").value == NOT_AUTHORIZED
    wait_until(lambda: (LANE1.member_request, b"{}") in server.heard, "the question")
    assert server.topics_heard() == {LANE1.member_request}

    for topic in (LANE2.member, LANE1.member):
        assert not server.publish(topic, b"{}").is_failure, topic
    wait_until(lambda: (LANE1.member, b"{}") in lane.heard, "the answer")
    assert lane.topics_heard() == {LANE1.member}
