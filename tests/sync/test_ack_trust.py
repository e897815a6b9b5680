"""Acks the lane cannot trust: beyond what it has published, beyond every seq it has
assigned, past every integer bound. None may mark a row that was not published, none
may stop the uplink, and a store server acking too far is told in the lane's status."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_app.sync.contract import ack_message, encode
from hw_sim.broker import MosquittoBroker
from tests.conftest import LaneMessages
from tests.sync.test_service import TOPICS, Rig, now, retained_status
from tests.waiting import wait_until


@pytest.fixture
def rig(mosquitto: MosquittoBroker, tmp_path: Path, lane_messages: LaneMessages) -> Iterator[Rig]:
    r = Rig(mosquitto, tmp_path, lane_messages)
    try:
        yield r
    finally:
        r.close()


def outbox_word(rig: Rig) -> str:
    return str(retained_status(rig.broker.url)["devices"]["outbox"])


def test_an_ack_beyond_every_assigned_seq_is_refused_logged_and_shown(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """3,000 rows waiting, 900 published, one ack upto 3,500: nothing is marked."""
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    rig.add_sales(1500)
    svc = rig.service(ack_timeout_s=60.0, service_kw={"max_unacked": 1000})
    wait_until(lambda: svc.counters.published == 900, "900 rows published")
    watcher = rig.watcher()
    watcher.publish(TOPICS.ack, encode(ack_message(3500, at=now())))
    # Then the store server comes to its senses: a true ack counts, up to itself only.
    watcher.publish(TOPICS.ack, encode(ack_message(900, at=now())))
    wait_until(lambda: rig.outbox.stats().acked_upto >= 900, "the valid ack written")
    assert rig.outbox.stats().acked_upto == 900
    assert rig.pending() == 2100
    assert svc.counters.acks_ahead == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("3500" in w and "3000" in w for w in warnings), warnings
    wait_until(lambda: svc.counters.published >= 1800, "the window moved on")
    rig.add_sales(1)
    svc.wake()
    wait_until(lambda: svc.counters.published >= 1802, "the new rows published")
    assert rig.pending() == 2102  # new rows are never marked by the refused ack


def test_an_ack_for_rows_this_run_has_not_published_covers_only_what_it_has(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """After a restart the store server may hold more than the lane's stored mark (an
    ack lost to the crash): its ack then covers what this run published, quietly."""
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    rig.add_sales(1500)
    svc = rig.service(ack_timeout_s=60.0, service_kw={"max_unacked": 1000})
    wait_until(lambda: svc.counters.published == 900, "900 rows published")
    watcher = rig.watcher()
    watcher.publish(TOPICS.ack, encode(ack_message(2000, at=now())))
    wait_until(lambda: rig.outbox.stats().acked_upto > 0, "the ack written")
    assert rig.outbox.stats().acked_upto == 900
    assert rig.pending() == 2100
    assert svc.counters.acks_ahead == 0
    assert not [r for r in caplog.records if "ack" in r.getMessage()]
    wait_until(lambda: svc.counters.published == 1800, "the window moved on")
    assert outbox_word(rig) == "ok"


def test_a_restarted_lane_drains_when_the_store_server_holds_more_than_its_mark(
    rig: Rig,
) -> None:
    """The store server acks its own contiguous mark, far above what the lane's first
    window republishes: each ack covers that window, and the lane gets through."""
    rig.add_sales(300)
    server = rig.server()
    first = rig.service()
    wait_until(lambda: rig.pending() == 0, "everything acked once")
    first.close()
    # The acks are lost (as to a crash before they were written): all 600 rows again.
    rig.db.execute_sql("UPDATE outboxmessage SET acked_at = NULL")
    rig.db.execute_sql("UPDATE meta SET value = '0' WHERE key = 'outbox.acked_upto'")
    again = rig.service(ack_timeout_s=60.0, service_kw={"max_unacked": 50})
    wait_until(lambda: rig.pending() == 0, "every row acked again", timeout=20.0)
    assert server.acked_upto("S001", "01") == 600
    assert again.counters.acks_ahead == 0


def test_an_ack_past_every_integer_bound_is_rejected_and_the_uplink_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firmware_app.sync")
    rig.add_sales(1)
    svc = rig.service(ack_timeout_s=60.0)
    wait_until(lambda: svc.counters.published == 2, "rows published")
    watcher = rig.watcher()
    for upto in (2**63, 2**63 - 1, 2**64 + 5, 2**53):
        watcher.publish(TOPICS.ack, encode(ack_message(upto, at=now())))
    rig.add_sales(1)
    svc.wake()
    wait_until(lambda: svc.counters.published == 4, "new rows still published")
    watcher.publish(TOPICS.ack, encode(ack_message(4, at=now())))
    wait_until(lambda: rig.pending() == 0, "a valid ack still applies")
    assert svc.counters.rejected_acks == 4
    assert rig.outbox.stats().acked_upto == 4
    assert not [r for r in caplog.records if r.exc_info]  # nothing blew up on the way


def test_a_database_refusing_ack_writes_starves_nothing_and_is_not_retried_forever(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="firmware_app.sync")
    rig.add_sales(1)
    watcher = rig.watcher(TOPICS.status)
    svc = rig.service(ack_timeout_s=60.0, service_kw={"status_interval_s": 0.05})
    wait_until(lambda: svc.counters.published == 2, "rows published")
    rig.db.execute_sql(
        "CREATE TRIGGER no_acks BEFORE UPDATE ON outboxmessage "
        "BEGIN SELECT RAISE(ABORT, 'the disk says no'); END"
    )
    watcher.publish(TOPICS.ack, encode(ack_message(2, at=now())))
    wait_until(
        lambda: any("acks dropped" in r.getMessage() for r in caplog.records),
        "the unwritable acks given up",
        timeout=10.0,
    )
    failures = sum(1 for r in caplog.records if "not written" in r.getMessage())
    assert failures >= 2
    # Everything else went on meanwhile and goes on: new rows, the status.
    rig.add_sales(1)
    svc.wake()
    wait_until(lambda: svc.counters.published == 4, "new rows published")
    seen = len(watcher.messages(TOPICS.status))
    svc.status_changed()
    wait_until(lambda: len(watcher.messages(TOPICS.status)) > seen, "a new status")
    # Not tried forever, and nothing else failed.
    assert sum(1 for r in caplog.records if "not written" in r.getMessage()) == failures
    assert not [r for r in caplog.records if r.exc_info]
    rig.db.execute_sql("DROP TRIGGER no_acks")
    watcher.publish(TOPICS.ack, encode(ack_message(4, at=now())))
    wait_until(lambda: rig.pending() == 0, "acks written again")


def test_the_status_says_ack_ahead_until_a_true_ack_comes(rig: Rig) -> None:
    rig.add_sales(1)
    svc = rig.service(ack_timeout_s=60.0)
    wait_until(lambda: svc.counters.published == 2, "rows published")
    watcher = rig.watcher()
    watcher.publish(TOPICS.ack, encode(ack_message(7, at=now())))
    wait_until(lambda: outbox_word(rig) == "ack_ahead", "the status telling it")
    assert rig.pending() == 2
    watcher.publish(TOPICS.ack, encode(ack_message(2, at=now())))
    wait_until(lambda: outbox_word(rig) == "ok", "the status back to ok")
    assert rig.pending() == 0
