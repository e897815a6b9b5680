"""Online backups: consistent while the lane sells, checked, kept to N generations,
never on the lane's own filesystem; a restored lane continues its chain and seqs."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from firmware_app.store import journal
from firmware_app.store.backup import BackupError, backup
from firmware_app.store.restore import restore
from firmware_app.sync.contract import LaneUplink
from tests.store.backup_lane import (
    NOW,
    Cashdesk,
    Writer,
    lane_config,
    make_catalog,
    meta,
    query,
)
from tests.waiting import wait_until


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    path = tmp_path / "stick"
    path.mkdir()
    return path


def seqs(path: Path) -> list[int]:
    return [r[0] for r in query(path, "SELECT seq FROM outboxmessage ORDER BY seq")]


def assert_consistent(path: Path) -> journal.JournalReport:
    """What a half-copied sale would break: integrity, the chain against the sale
    tables, gapless receipts and a gapless outbox ending at next_seq."""
    assert query(path, "PRAGMA integrity_check") == [("ok",)]
    report = journal.verify_file(path)
    assert report.ok, report
    receipts = [r[0] for r in query(path, 'SELECT receipt_no FROM "transaction" ORDER BY 1')]
    assert receipts == list(range(1, report.records + 1))
    next_seq = int(meta(path, "outbox.next_seq") or 1)
    assert seqs(path) == list(range(1, next_seq))
    assert next_seq - 1 == 2 * report.records  # a sales and a stock message per sale
    return report


def test_backup_while_the_lane_sells_then_restore_continues_chain_and_seq(
    tmp_path: Path, stick: Path
) -> None:
    config = lane_config(tmp_path, backup_dir=stick)
    Cashdesk(config).sell(1)
    make_catalog(config)
    writer = Writer(config)
    writer.start()
    results = []
    try:
        for minute in range(3):
            wait_until(lambda n=writer.sold: writer.sold >= n + 5, "more sales")
            results.append(backup(config, NOW + timedelta(minutes=minute)))
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    sold = 1 + writer.sold
    for result in results:
        lane_copy = result.files[0].path
        assert [f.kind for f in result.files] == ["lane", "catalog"]
        report = assert_consistent(lane_copy)
        assert report == result.journal
        assert query(lane_copy, "PRAGMA journal_mode") == [("delete",)]
        assert not Path(f"{lane_copy}-wal").exists()
        manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
        assert manifest["outbox"]["next_seq"] == result.next_seq == 2 * report.records + 1
        assert manifest["journal"] == {
            "ok": True,
            "records": report.records,
            "head": report.head,
            "checkpoint": None,
            "problem": None,
        }
        for f in result.files:
            entry = manifest["files"][f.kind]
            assert entry["size"] == f.path.stat().st_size
            assert entry["sha256"] == hashlib.sha256(f.path.read_bytes()).hexdigest()
    assert results[0].journal.records < results[-1].journal.records < sold

    # The lane is stopped; the newest backup goes back in place of lane.db.
    newest = results[-1]
    restored = restore(
        config, newest.files[0].path, messages=LaneUplink.of(config), now=NOW + timedelta(hours=1)
    )
    assert restored.saved_as is not None and restored.saved_as.exists()
    lost = restored.plan.lost
    assert lost == (newest.next_seq, 2 * sold)
    assert len(restored.plan.carried) == 2 * sold - newest.next_seq + 1
    report = journal.verify_file(config.database)
    assert report.ok and report.head == newest.journal.head

    # The lane sells on: the chain continues from the backup's head, seqs after the
    # lost ones (carried over), with the lane_restored event in between; receipt
    # numbers after the lost ones (the store server has them).
    Cashdesk(config).sell(2)
    new_receipts = query(config.database, 'SELECT receipt_no FROM "transaction" ORDER BY 1')
    assert [r[0] for r in new_receipts[-2:]] == [sold + 1, sold + 2]
    after = journal.verify_file(config.database)
    assert after.ok and after.records == newest.journal.records + 2
    first_new = query(config.database, "SELECT prev_hash FROM journalentry ORDER BY no")[
        newest.journal.records
    ][0]
    assert first_new == newest.journal.head
    all_seqs = seqs(config.database)
    assert all_seqs == list(range(1, 2 * sold + 1 + 1 + 4))  # carried, event, 2 new sales
    event = query(config.database, "SELECT payload FROM outboxmessage WHERE seq = ?", 2 * sold + 1)
    body = json.loads(event[0][0])
    assert body["event"] == "lane_restored"
    assert body["details"]["lost_seqs"] == f"{lost[0]}-{lost[1]}"
    assert body["details"]["journal_head"] == newest.journal.head


def test_generations_are_pruned_to_n_and_only_ours(tmp_path: Path, stick: Path) -> None:
    config = lane_config(tmp_path, backup_dir=stick, generations=3)
    Cashdesk(config).sell(1)
    other = stick / "S001-02-20261128T090000Z.lane.db"  # another lane's backup
    other.write_bytes(b"theirs")
    note = stick / "README.txt"
    note.write_text("the store's own file")
    results = [backup(config, NOW + timedelta(hours=h)) for h in range(5)]
    kept = sorted(p.name for p in stick.iterdir())
    stamps = ["20261128T114200Z", "20261128T124200Z", "20261128T134200Z"]
    ours = [f"S001-01-{s}.{kind}" for s in stamps for kind in ("json", "lane.db")]
    assert kept == sorted([*ours, other.name, note.name])
    assert sorted(p.name for p in results[-1].pruned) == [
        "S001-01-20261128T104200Z.json",
        "S001-01-20261128T104200Z.lane.db",
    ]


def test_a_dir_on_the_lanes_own_filesystem_is_refused(tmp_path: Path, stick: Path) -> None:
    config = lane_config(tmp_path, backup_dir=stick, require_mount=True)
    Cashdesk(config).sell(1)
    with pytest.raises(BackupError) as refused:
        backup(config, NOW)
    message = str(refused.value)
    assert f"backup.dir {stick} is not on a medium of its own" in message
    assert "own SD card is lost with it" in message
    assert "backup.require_mount = false" in message
    assert list(stick.iterdir()) == []


def test_no_dir_configured_or_no_medium(tmp_path: Path) -> None:
    config = lane_config(tmp_path)
    Cashdesk(config).sell(1)
    with pytest.raises(BackupError, match=r"backup.dir is not set: backups are off"):
        backup(config, NOW)
    missing = lane_config(tmp_path, backup_dir=tmp_path / "usb")
    with pytest.raises(BackupError, match=r"usb: no such directory \(is the backup medium"):
        backup(missing, NOW)


def test_a_damaged_database_fails_the_backup_and_keeps_the_old_ones(
    tmp_path: Path, stick: Path
) -> None:
    config = lane_config(tmp_path, backup_dir=stick, generations=1)
    Cashdesk(config).sell(30)
    good = backup(config, NOW)
    before = sorted(stick.iterdir())
    with closing(sqlite3.connect(config.database)) as conn:
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'transactionline'"
        ).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with config.database.open("r+b") as f:  # garbage over a table's page
        f.seek((root - 1) * page_size + 8)
        f.write(b"\xff" * 64)
    with pytest.raises(BackupError, match=r"fails SQLite's integrity check.*itself may be"):
        backup(config, NOW + timedelta(hours=1))
    assert sorted(stick.iterdir()) == before
    assert good.manifest.exists()
