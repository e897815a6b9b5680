"""The journal's hash chain: verified from genesis or the pruning checkpoint; a changed,
deleted or unjournalled row is found and named."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_app.store import journal
from firmware_app.store.db import open_database
from firmware_app.store.outbox import Outbox
from firmware_app.store.sales import SalesStore
from firmware_app.uplink import GENESIS_HASH
from tests.store.backup_lane import Cashdesk, Writer, execute, lane_config, query
from tests.unit.till import T0
from tests.waiting import wait_until


@pytest.fixture
def lane(tmp_path: Path):
    config = lane_config(tmp_path)
    Cashdesk(config).sell(4)
    return config


def sale_id_of(path: Path, receipt_no: int) -> str:
    return query(path, 'SELECT sale_id FROM "transaction" WHERE receipt_no = ?', receipt_no)[0][0]


def test_an_untouched_journal_verifies(lane) -> None:
    report = journal.verify_file(lane.database)
    head = query(lane.database, "SELECT hash FROM journalentry ORDER BY no DESC LIMIT 1")[0][0]
    assert report.ok and report.records == 4 and report.head == head
    assert str(report) == f"journal ok: 4 records, head {head}"


def test_an_empty_journal_is_the_genesis(tmp_path: Path) -> None:
    config = lane_config(tmp_path)
    open_database(config.database).close()
    assert str(journal.verify_file(config.database)) == (
        f"journal ok: 0 records, head {GENESIS_HASH}"
    )


def test_a_changed_line_amount_in_the_sales_table_is_found(lane) -> None:
    sale = sale_id_of(lane.database, 2)
    execute(lane.database, "UPDATE transactionline SET amount = 1 WHERE sale_id = ?", sale)
    report = journal.verify_file(lane.database)
    assert not report.ok and report.records == 1
    assert str(report) == (
        f"journal broken at receipt 2 (sale id {sale}): line 1 amount: expected 350, stored 1"
    )


def test_a_changed_journal_record_breaks_its_hash(lane) -> None:
    sale = sale_id_of(lane.database, 3)
    record = query(lane.database, "SELECT record FROM journalentry WHERE sale_id = ?", sale)[0][0]
    data = json.loads(record)
    data["lines"][0]["amount"] = 1
    changed = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    execute(lane.database, "UPDATE journalentry SET record = ? WHERE sale_id = ?", changed, sale)
    report = journal.verify_file(lane.database)
    assert report.broken is not None
    assert (report.broken.receipt_no, report.broken.what) == (3, "hash")
    stored = query(lane.database, "SELECT hash FROM journalentry WHERE sale_id = ?", sale)[0][0]
    assert report.broken.stored == stored and report.broken.expected != stored
    assert str(report).startswith(f"journal broken at receipt 3 (sale id {sale}): hash: expected ")


def test_a_deleted_journal_row_breaks_the_link_of_the_next(lane) -> None:
    execute(lane.database, "DELETE FROM journalentry WHERE no = 2")
    report = journal.verify_file(lane.database)
    assert report.broken is not None
    assert (report.broken.receipt_no, report.broken.what) == (3, "prev_hash")
    assert report.records == 1


def test_a_deleted_sale_is_found(lane) -> None:
    sale = sale_id_of(lane.database, 2)
    for table in ("transactionline", "transactiontender", '"transaction"'):
        execute(lane.database, f"DELETE FROM {table} WHERE sale_id = ?", sale)
    assert str(journal.verify_file(lane.database)) == (
        f"journal broken at receipt 2 (sale id {sale}): transaction row: "
        "expected present, stored missing"
    )


def test_a_sale_whose_last_journal_entry_was_deleted_is_found(lane) -> None:
    sale = sale_id_of(lane.database, 4)
    execute(lane.database, "DELETE FROM journalentry WHERE sale_id = ?", sale)
    assert str(journal.verify_file(lane.database)) == (
        f"journal broken at receipt 4 (sale id {sale}): journal entry: "
        "expected one per transaction, stored none"
    )


def test_after_pruning_the_chain_starts_at_the_checkpoint(tmp_path: Path) -> None:
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    db = open_database(lane.database)
    try:
        Outbox(db).ack_upto(4, T0)  # the store server has the first two sales
        sales = SalesStore(db, store_id="S001", lane_id="01", topic_for=lambda k: k)
        assert sales.prune(T0 + timedelta(days=1)) == 2
    finally:
        db.close()
    report = journal.verify_file(lane.database)
    assert report.ok and report.records == 2
    assert report.checkpoint is not None and report.checkpoint.no == 2
    assert str(report).endswith("(from the checkpoint after entry 2)")


def test_verify_reads_one_snapshot_while_the_lane_sells(tmp_path: Path) -> None:
    config = lane_config(tmp_path)
    Cashdesk(config).sell(1)
    writer = Writer(config)
    writer.start()
    try:
        seen = []
        for _ in range(10):
            wait_until(lambda n=writer.sold: writer.sold > n, "another sale")
            report = journal.verify_file(config.database)
            assert report.ok, report
            seen.append(report.records)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    assert seen == sorted(seen) and seen[-1] > seen[0]


# --- the pure function --------------------------------------------------------------


def test_entry_numbers_must_rise_past_the_checkpoint() -> None:
    from firmware_app.uplink import canonical, chain_hash

    record = {"sale_id": "a", "receipt_no": 7}
    text = canonical(record)
    start = journal.Checkpoint(10, "f" * 64)
    entry = journal.Entry(3, "a", start.hash, chain_hash(start.hash, record), text)
    report = journal.verify([entry], start)
    assert str(report) == (
        "journal broken at receipt 7 (sale id a): entry number: expected more than 10, stored 3"
    )
    entry = journal.Entry(11, "a", start.hash, chain_hash(start.hash, record), text)
    assert journal.verify([entry], start).ok


def test_a_record_that_is_not_json_is_a_break() -> None:
    entry = journal.Entry(1, "a", GENESIS_HASH, "0" * 64, "{not json")
    assert str(journal.verify([entry])) == (
        "journal broken at entry 1 (sale id a): record: expected JSON, stored '{not json'"
    )
