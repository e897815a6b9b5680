"""The journal's hash chain: verified from genesis or the pruning checkpoint; a changed,
deleted or unjournalled row is found and named."""

from __future__ import annotations

import json
import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_app.store import journal
from firmware_app.store.backup import backup
from firmware_app.store.db import open_database
from firmware_app.store.journal import GENESIS_HASH
from firmware_app.store.outbox import Outbox
from firmware_app.store.sales import SalesStore
from firmware_app.sync.contract import LaneUplink, Topics
from tests.store.backup_lane import NOW, Cashdesk, Writer, execute, lane_config, query
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
        sales = SalesStore(db, messages=LaneUplink(Topics("pos", "S001", "01")))
        assert sales.prune(T0 + timedelta(days=1)) == 2
    finally:
        db.close()
    report = journal.verify_file(lane.database)
    assert report.ok and report.records == 2
    assert report.checkpoint is not None and report.checkpoint.no == 2
    assert str(report).endswith("(from the checkpoint after entry 2)")


# --- the checkpoint and the outbox: what pruning may do, and nothing else --------------


def delete_sales(path: Path, *receipts: int) -> None:
    """What someone editing the database does: sales, lines, tenders, journal entries."""
    for receipt in receipts:
        sale = sale_id_of(path, receipt)
        for table in ("transactionline", "transactiontender", '"transaction"', "journalentry"):
            execute(path, f"DELETE FROM {table} WHERE sale_id = ?", sale)


def journal_hash(path: Path, receipt: int) -> str:
    sale = sale_id_of(path, receipt)
    return query(path, "SELECT hash FROM journalentry WHERE sale_id = ?", sale)[0][0]


def entry_no(path: Path, receipt: int) -> int:
    sale = sale_id_of(path, receipt)
    return query(path, "SELECT no FROM journalentry WHERE sale_id = ?", sale)[0][0]


def forge_checkpoint(path: Path, no: int, digest: str, **extra: str) -> None:
    value = json.dumps({"no": no, "hash": digest, **extra})
    execute(
        path, "INSERT OR REPLACE INTO meta (key, value) VALUES ('journal.checkpoint', ?)", value
    )


def prune_acknowledged(config, upto_seq: int, before: timedelta = timedelta(days=1)) -> int:
    """The store server acknowledges up to ``upto_seq``; sales closed before T0 +
    ``before`` (they are an hour apart from T0) and acknowledged are pruned."""
    db = open_database(config.database)
    try:
        Outbox(db).ack_upto(upto_seq, T0)
        sales = SalesStore(db, messages=LaneUplink(Topics("pos", "S001", "01")))
        return sales.prune(T0 + before)
    finally:
        db.close()


def test_deleting_the_oldest_sales_with_a_forged_checkpoint_is_found(lane) -> None:
    no, digest = entry_no(lane.database, 2), journal_hash(lane.database, 2)
    delete_sales(lane.database, 1, 2)
    forge_checkpoint(lane.database, no, digest)
    report = journal.verify_file(lane.database)
    assert not report.ok
    assert str(report).startswith("journal broken at the checkpoint: checkpoint seal: ")


def test_a_checkpoint_sealed_with_another_key_is_found(tmp_path: Path) -> None:
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    assert prune_acknowledged(lane, 4) == 2  # a true checkpoint: the key file exists now
    no, digest = entry_no(lane.database, 3), journal_hash(lane.database, 3)
    delete_sales(lane.database, 3)
    other = journal.seal(bytes(32), no, digest)
    forge_checkpoint(lane.database, no, digest, seal=other)
    report = journal.verify_file(lane.database)
    assert report.broken is not None and report.broken.what == "checkpoint seal"
    assert "another seal" in str(report)


def test_a_checkpoint_without_its_key_file_cannot_be_trusted(tmp_path: Path) -> None:
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    assert prune_acknowledged(lane, 4) == 2
    assert journal.verify_file(lane.database).ok
    key = journal.key_path(lane.database)
    key.unlink()
    report = journal.verify_file(lane.database)
    assert str(report) == (
        "journal broken at the checkpoint: checkpoint seal: expected checked with "
        f"{key}, stored the key file is missing"
    )


def test_with_the_key_a_forged_checkpoint_is_still_caught_by_the_outbox(tmp_path: Path) -> None:
    """Someone holding the key too: the outbox says the store server never had these
    sales, so pruning cannot have removed them."""
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    no, digest = entry_no(lane.database, 2), journal_hash(lane.database, 2)
    delete_sales(lane.database, 1, 2)
    key = journal.lane_key(journal.key_path(lane.database))
    forge_checkpoint(lane.database, no, digest, seal=journal.seal(key, no, digest))
    report = journal.verify_file(lane.database)
    assert report.broken is not None
    assert (report.broken.what, report.broken.seq, report.broken.receipt_no) == (
        "journal entry",
        1,
        1,
    )
    assert "the store server has not acknowledged" in str(report)


def test_an_older_sealed_checkpoint_put_back_is_found_by_the_outbox(tmp_path: Path) -> None:
    """A true checkpoint of an earlier prune (from a backup, say) put back after the
    last sales were deleted: its seal is good and the chain from it is empty and whole,
    but the outbox's newest sale message, gone from the journal, is not the one it names."""
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    assert prune_acknowledged(lane, 8, before=timedelta(hours=2, minutes=30)) == 3
    older = query(lane.database, "SELECT value FROM meta WHERE key = 'journal.checkpoint'")
    h4 = journal_hash(lane.database, 4)
    assert prune_acknowledged(lane, 8) == 1
    assert journal.verify_file(lane.database).ok
    execute(
        lane.database, "UPDATE meta SET value = ? WHERE key = 'journal.checkpoint'", older[0][0]
    )
    report = journal.verify_file(lane.database)
    assert report.broken is not None and report.records == 0
    assert report.broken.what == "checkpoint hash"
    assert report.broken.expected == f"{h4} (the last pruned sale, outbox seq 7)"
    assert report.checkpoint is not None and report.broken.stored == report.checkpoint.hash


def test_the_newest_sale_deleted_with_its_journal_entry_is_found_by_its_message(lane) -> None:
    sale = sale_id_of(lane.database, 4)
    delete_sales(lane.database, 4)
    report = journal.verify_file(lane.database)
    assert str(report) == (
        f"journal broken at receipt 4 (sale id {sale}, outbox seq 7): journal entry: "
        "expected present (the outbox holds its sale message), stored none"
    )


def test_a_sale_message_that_differs_from_its_journal_entry_is_found(lane) -> None:
    payload = query(lane.database, "SELECT payload FROM outboxmessage WHERE seq = 3")[0][0]
    message = json.loads(payload)
    message["totals"]["total"] = 1
    changed = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    execute(lane.database, "UPDATE outboxmessage SET payload = ? WHERE seq = 3", changed)
    report = journal.verify_file(lane.database)
    assert report.broken is not None
    assert (report.broken.receipt_no, report.broken.seq) == (2, 3)
    assert report.broken.what == "sale message"


def test_the_journal_key_is_made_private_on_the_first_prune_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lane = lane_config(tmp_path)
    Cashdesk(lane).sell(4, hours_apart=1)
    key = journal.key_path(lane.database)
    assert key == lane.database.parent / "journal.key" and not key.exists()
    assert prune_acknowledged(lane, 4) == 2
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert len(secret) == 64
    assert prune_acknowledged(lane, 6) == 1  # the same key, not a new one
    assert key.read_text().strip() == secret
    report = journal.verify_file(lane.database)
    assert report.ok, report
    assert secret not in caplog.text and secret not in repr(report)


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
    from firmware_app.store.journal import canonical, chain_hash

    record = {"sale_id": "a", "receipt_no": 7}
    text = canonical(record)
    key = bytes(range(32))
    start = journal.Checkpoint(10, "f" * 64, journal.seal(key, 10, "f" * 64))
    entry = journal.Entry(3, "a", start.hash, chain_hash(start.hash, record), text)
    report = journal.verify([entry], start, key=key)
    assert str(report) == (
        "journal broken at receipt 7 (sale id a): entry number: expected more than 10, stored 3"
    )
    entry = journal.Entry(11, "a", start.hash, chain_hash(start.hash, record), text)
    assert journal.verify([entry], start, key=key).ok
    assert not journal.verify([entry], start).ok  # without the key, nothing is vouched for


def test_a_record_that_is_not_json_is_a_break() -> None:
    entry = journal.Entry(1, "a", GENESIS_HASH, "0" * 64, "{not json")
    assert str(journal.verify([entry])) == (
        "journal broken at entry 1 (sale id a): record: expected JSON, stored '{not json'"
    )


def test_a_backup_after_pruning_vouches_for_its_checkpoint_with_the_lanes_key(
    tmp_path: Path,
) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    lane = lane_config(tmp_path, backup_dir=stick)
    Cashdesk(lane).sell(4, hours_apart=1)
    assert prune_acknowledged(lane, 4) == 2
    result = backup(lane, NOW)
    assert result.journal.ok, result.journal
    assert not (stick / journal.KEY_FILE).exists()  # the key never goes with a backup
    copy = result.files[0].path
    assert journal.verify_file(copy, key_file=journal.key_path(lane.database)).ok
    assert not journal.verify_file(copy).ok  # nothing beside the copy vouches for it
