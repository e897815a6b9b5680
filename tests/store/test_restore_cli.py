"""``firmware-lane backup``, ``restore`` and ``journal verify`` as a technician runs them:
a refused restore says why and leaves the lane's database exactly as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from firmware_app.app.cli import main
from firmware_app.config import Config
from firmware_app.store import journal
from firmware_app.store.lock import LaneLock
from firmware_app.store.restore import restore
from firmware_app.sync.contract import LaneUplink
from tests.store.backup_lane import (
    NOW,
    Cashdesk,
    execute,
    lane_config,
    meta,
    query,
    write_config_file,
)


class Lane:
    """A lane with a config file, a few sales and one backup on the stick."""

    def __init__(self, tmp_path: Path, lane: str = "01") -> None:
        self.root = tmp_path / lane
        self.stick = tmp_path / "stick"
        self.stick.mkdir(exist_ok=True)
        self.root.mkdir()
        self.config: Config = lane_config(self.root, lane=lane, backup_dir=self.stick)
        self.config_file = write_config_file(self.root, self.config)
        self.desk = Cashdesk(self.config)
        self.desk.sell(3)

    def run(self, *args: str) -> int:
        return main([*args, "--config", str(self.config_file)])

    def take_backup(self) -> Path:
        assert self.run("backup") == 0
        return sorted(self.stick.glob(f"S001-{self.config.lane}-*.lane.db"))[-1]

    def fingerprint(self) -> tuple[str, list[str]]:
        """lane.db's bytes and the data dir's file names: unchanged means untouched."""
        data = Path(self.config.data_dir)
        names = sorted(p.name for p in data.iterdir() if not p.name.endswith(".lock"))
        return hashlib.sha256(self.config.database.read_bytes()).hexdigest(), names


@pytest.fixture
def lane(tmp_path: Path) -> Lane:
    return Lane(tmp_path)


def test_backup_then_restore(lane: Lane, capsys: pytest.CaptureFixture[str]) -> None:
    backup_file = lane.take_backup()
    out = capsys.readouterr().out
    assert f"backup {backup_file.with_suffix('').with_suffix('')}" in out
    assert "seqs up to 6 (acknowledged up to 0); journal ok: 3 records" in out
    lane.desk.sell(2)  # sales after the backup: seqs 7..10, receipts 4..5
    assert lane.run("restore", str(backup_file)) == 0
    out = capsys.readouterr().out
    assert f"restored {lane.config.database} from {backup_file}" in out
    assert "journal ok: 3 records" in out
    assert "LOST from this lane: seqs 7..10 (receipts 4..5) were written after the backup" in out
    assert "4 unacknowledged messages were carried over" in out
    assert "the outbox continues at seq 11" in out
    assert lane.run("journal", "verify") == 0
    assert capsys.readouterr().out.startswith("journal ok: 3 records, head ")


def test_journal_verify_names_a_tampered_line(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    sale = query(lane.config.database, 'SELECT sale_id FROM "transaction" WHERE receipt_no = 2')
    execute(
        lane.config.database, "UPDATE transactionline SET amount = 1 WHERE sale_id = ?", sale[0][0]
    )
    assert lane.run("journal", "verify") == 1
    assert capsys.readouterr().out == (
        f"journal broken at receipt 2 (sale id {sale[0][0]}): line 1 amount: "
        "expected 350, stored 1\n"
    )


def test_restore_is_refused_while_the_lane_runs(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    lane.desk.sell(1)
    before = lane.fingerprint()
    with LaneLock.for_lane(lane.config.data_dir, "the lane daemon"):
        assert lane.run("restore", str(backup_file)) == 1
    err = capsys.readouterr().err
    assert "the lane is running" in err and "(the lane daemon)" in err
    assert "systemctl stop firmware-lane" in err
    assert lane.fingerprint() == before


def test_the_daemon_holds_the_lane_lock(lane: Lane, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` takes the same lock a restore needs: a second daemon, or a daemon started
    during a restore, is refused with the holder's name and changes nothing."""
    before = lane.fingerprint()
    with LaneLock.for_lane(lane.config.data_dir, "a restore"):
        assert lane.run("run") == 1
    err = capsys.readouterr().err
    assert "lane.lock" in err and "(a restore)" in err
    assert lane.fingerprint() == before


def test_a_corrupt_backup_is_refused(lane: Lane, capsys: pytest.CaptureFixture[str]) -> None:
    backup_file = lane.take_backup()
    broken = lane.root / "broken.lane.db"
    shutil.copyfile(backup_file, broken)
    with closing(sqlite3.connect(broken)) as conn:  # the pages of a table, not the schema's
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        sql = "SELECT rootpage FROM sqlite_master WHERE name = 'journalentry'"
        root = conn.execute(sql).fetchone()[0]
    with broken.open("r+b") as f:  # garbage over the second half of the journal's page
        f.seek(root * page_size - page_size // 2)
        f.write(b"\xa5" * (page_size // 2))
    before = lane.fingerprint()
    assert lane.run("restore", str(broken)) == 1
    err = capsys.readouterr().err
    assert f"{broken}: fails SQLite's integrity check: " in err and f"page {root} " in err
    assert err.rstrip().endswith("try an older backup")
    assert lane.fingerprint() == before


def test_a_file_that_is_no_database_is_refused(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = lane.root / "notes.lane.db"
    junk.write_text("not a database\n" * 100)
    before = lane.fingerprint()
    assert lane.run("restore", str(junk)) == 1
    assert f"{junk}: not a SQLite database" in capsys.readouterr().err
    assert lane.run("restore", str(lane.root / "missing.lane.db")) == 1
    assert "missing.lane.db: no such file" in capsys.readouterr().err
    assert lane.fingerprint() == before


def test_a_backup_changed_after_it_was_taken_is_refused(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    execute(backup_file, "UPDATE transactionline SET amount = 1")
    before = lane.fingerprint()
    assert lane.run("restore", str(backup_file)) == 1
    assert "SHA-256 differs" in capsys.readouterr().err
    assert lane.fingerprint() == before


def test_a_backup_with_a_broken_journal_is_refused(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = lane.root / "copy.lane.db"  # no manifest beside it: the journal decides
    shutil.copyfile(lane.take_backup(), copy)
    execute(copy, "DELETE FROM journalentry WHERE no = 2")
    before = lane.fingerprint()
    assert lane.run("restore", str(copy)) == 1
    err = capsys.readouterr().err
    assert "journal broken at receipt 3" in err and "restore an older backup" in err
    assert lane.fingerprint() == before


def test_another_lanes_backup_is_refused_unless_forced(
    tmp_path: Path, lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Lane(tmp_path, lane="02")
    theirs = other.take_backup()
    capsys.readouterr()
    before = lane.fingerprint()
    assert lane.run("restore", str(theirs)) == 1
    err = capsys.readouterr().err
    assert "it is a backup of lane S001/02, not of this lane S001/01" in err
    assert "--force restores it anyway" in err
    assert lane.fingerprint() == before
    assert lane.run("restore", str(theirs), "--force") == 0
    assert "forced: it is a backup of lane S001/02" in capsys.readouterr().out


def test_without_the_old_database_the_store_servers_seq_is_needed(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    shutil.rmtree(lane.stick.parent / "01" / "data")  # the SD card died; a fresh one
    assert lane.run("restore", str(backup_file)) == 1
    err = capsys.readouterr().err
    assert "cannot tell which seqs the store server already holds" in err
    assert "--store-seq N" in err
    assert not lane.config.database.exists()
    assert lane.run("restore", str(backup_file), "--store-seq", "9") == 0
    out = capsys.readouterr().out
    assert "LOST from this lane: seqs 7..9 were written after the backup" in out
    assert "the outbox continues at seq 10" in out
    assert meta(lane.config.database, "outbox.next_seq") == "11"
    assert meta(lane.config.database, "outbox.acked_upto") == "9"
    unacked = query(lane.config.database, "SELECT seq FROM outboxmessage WHERE acked_at IS NULL")
    assert unacked == [(10,)]  # the store server has 1..9; only the event is to send
    assert journal.verify_file(lane.config.database).ok


def receipts(lane: Lane) -> list[int]:
    return [r[0] for r in query(lane.config.database, 'SELECT receipt_no FROM "transaction"')]


def restored_details(lane: Lane) -> dict[str, str]:
    """The details of the lane_restored event the restore queued for the store server."""
    rows = query(lane.config.database, "SELECT payload FROM outboxmessage ORDER BY seq DESC")
    body = json.loads(rows[0][0])
    assert body["event"] == "lane_restored"
    return body["details"]


def test_receipts_lost_with_the_newer_sales_are_never_given_again(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()  # receipts 1..3
    lane.desk.sell(2)  # receipts 4 and 5: the store server gets them, the restore loses them
    assert lane.run("restore", str(backup_file)) == 0
    out = capsys.readouterr().out
    assert "receipts continue at 6: receipts 4..5 were issued after the backup" in out
    assert restored_details(lane)["next_receipt_no"] == "6"
    Cashdesk(lane.config).sell(2)
    assert receipts(lane) == [1, 2, 3, 6, 7]
    assert journal.verify_file(lane.config.database).ok


def test_without_the_old_database_no_receipt_the_store_server_may_hold_is_reused(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()  # receipts 1..3, seqs 1..6
    lane.desk.sell(2)  # receipts 4, 5 in seqs 7..10; the store server acknowledged up to 9
    shutil.rmtree(lane.stick.parent / "01" / "data")  # the SD card died
    assert lane.run("restore", str(backup_file), "--store-seq", "9") == 0
    out = capsys.readouterr().out
    # Seqs 7..9 reached the store server: at most three sales, receipts 4..6 at most.
    assert "receipts continue at 7: receipts 4..6 may have been issued after the backup" in out
    assert "--store-receipt N" in out
    Cashdesk(lane.config).sell(1)
    assert receipts(lane) == [1, 2, 3, 7]


def test_the_store_servers_receipt_number_is_taken_when_given(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    lane.desk.sell(2)
    shutil.rmtree(lane.stick.parent / "01" / "data")
    args = ("restore", str(backup_file), "--store-seq", "9", "--store-receipt", "5")
    assert lane.run(*args) == 0
    assert "receipts continue at 6: receipts 4..5 were issued after the backup" in (
        capsys.readouterr().out
    )
    Cashdesk(lane.config).sell(1)
    assert receipts(lane) == [1, 2, 3, 6]


def test_a_negative_store_receipt_is_bad_usage(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    before = lane.fingerprint()
    assert lane.run("restore", str(backup_file), "--store-receipt", "-1") == 2
    assert "--store-receipt: expected 0 or more" in capsys.readouterr().err
    assert lane.fingerprint() == before


def test_a_second_restore_keeps_the_receipts_the_first_one_skipped(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    lane.desk.sell(2)  # receipts 4, 5
    assert lane.run("restore", str(backup_file)) == 0  # continues at 6, no sale since
    again = restore(
        lane.config, backup_file, messages=LaneUplink.of(lane.config), now=NOW
    )  # a stamp of its own
    assert "receipts continue at 6: receipts 4..5 were issued after the backup" in "\n".join(
        again.summary()
    )
    Cashdesk(lane.config).sell(1)
    assert receipts(lane) == [1, 2, 3, 6]


def test_the_open_sale_of_backup_time_is_dropped(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    lane.desk.sell(0, open_sale=True)
    backup_file = lane.take_backup()
    assert lane.run("restore", str(backup_file)) == 0
    assert "the sale open at backup time" in capsys.readouterr().out
    assert query(lane.config.database, "SELECT COUNT(*) FROM opensale") == [(0,)]
    assert meta(lane.config.database, "lane.session") is None
    restored = json.loads(meta(lane.config.database, "restore.last") or "{}")
    assert restored["backup"] == backup_file.name


def test_backup_without_a_dir_says_backups_are_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = lane_config(tmp_path)
    path = tmp_path / "lane.toml"
    path.write_text(
        f'[lane]\nstore = "S001"\nlane = "01"\ndata_dir = "{config.data_dir}"\n', encoding="utf-8"
    )
    assert main(["backup", "--config", str(path)]) == 1
    assert "backup.dir is not set: backups are off" in capsys.readouterr().err


def test_messages_carried_by_two_restores_never_break_the_journal(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    """A restore carries the replaced database's unacknowledged sale messages, whose
    sales it no longer has; a backup taken after it, restored again, still has them."""
    first_backup = lane.take_backup()  # sales 1..3
    lane.desk.sell(2)  # 4, 5: their messages are carried by the first restore
    assert lane.run("restore", str(first_backup)) == 0
    Cashdesk(lane.config).sell(1)
    second_backup = lane.take_backup()  # holds the carried messages of the first restore
    Cashdesk(lane.config).sell(1)
    assert lane.run("restore", str(second_backup)) == 0
    assert "restored" in capsys.readouterr().out
    report = journal.verify_file(lane.config.database)
    assert report.ok, report
    assert lane.run("journal", "verify") == 0


def test_two_restores_within_a_second_keep_both_replaced_databases(
    lane: Lane, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_file = lane.take_backup()
    assert lane.run("restore", str(backup_file)) == 0
    for _ in range(2):
        restore(lane.config, backup_file, messages=LaneUplink.of(lane.config), now=NOW)
    kept = sorted(p.name for p in Path(lane.config.data_dir).glob("lane.db.before-restore-*"))
    assert len([name for name in kept if not name.endswith(("-wal", "-shm"))]) >= 2
