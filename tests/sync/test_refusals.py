"""The broker's ACL refusals on their own: the ``not_authorized`` word, said once, and back
to ``online`` when every refused row has been taken or acknowledged."""

from __future__ import annotations

import logging

import pytest

from firmware_app.store.outbox import OutboxRow
from firmware_app.sync.refusals import Refusals
from firmware_app.sync.states import BROKER, ONLINE, SyncStates

NOT_AUTHORIZED = "Not authorized (135)"
SALES = "pos/S001/lanes/01/sales"


def row(seq: int) -> OutboxRow:
    return OutboxRow(seq, SALES, b"{}", "2026-11-28T09:00:00.000+08:00")


class Rig:
    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []
        self.states = SyncStates(lambda name, state, detail: self.heard.append((name, state)))
        self.states.set(BROKER, ONLINE)
        self.refusals = Refusals(self.states, where="127.0.0.1:1883", login="lane-S001-01")


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_refused_rows_make_the_broker_not_authorized_once_until_each_is_taken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="firmware_app.sync")
    rig = Rig()
    changes = [
        rig.refusals.settled(row(1), NOT_AUTHORIZED),
        rig.refusals.settled(row(2), NOT_AUTHORIZED),
        rig.refusals.settled(row(1), ""),  # taken on a later try; 2 is still refused
        rig.refusals.settled(row(3), ""),  # never refused: nothing to say
        rig.refusals.settled(row(2), ""),
    ]
    assert changes == [True, False, False, False, True]
    assert rig.heard == [("broker", "online"), ("broker", "not_authorized"), ("broker", "online")]
    (warning,) = warnings(caplog)
    assert f"seq 1: {NOT_AUTHORIZED} on {SALES}" in warning and "lane-S001-01" in warning


def test_an_ack_covering_the_refused_rows_ends_the_refusal() -> None:
    rig = Rig()
    rig.refusals.settled(row(4), NOT_AUTHORIZED)
    rig.refusals.settled(row(6), NOT_AUTHORIZED)
    assert not rig.refusals.acked(5)  # 6 is still refused
    assert rig.refusals.refused == {6}
    assert rig.refusals.acked(6)
    assert rig.states.get(BROKER) == ONLINE and not rig.refusals.refused


def test_a_refused_status_is_logged_once_per_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    rig = Rig()
    for _ in range(3):
        assert not rig.refusals.settled(None, NOT_AUTHORIZED)
    rig.refusals.reset()  # a new connection
    rig.refusals.settled(None, NOT_AUTHORIZED)
    assert (
        warnings(caplog)
        == [f"broker 127.0.0.1:1883 refused the lane's status: {NOT_AUTHORIZED}"] * 2
    )
    assert rig.heard == [("broker", "online")]  # the word is the rows' only
