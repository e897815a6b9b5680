"""The soak's short mode end to end: 20 SIGKILLs of the simulated lane while a cashier
works it, a broker and a store server killed and started again, then every check; and
the checks themselves, shown to fail on books that are wrong.

It runs ``python -m bench.soak --short`` as a process, as a technician would, and
asserts on what it prints: each check PASS, exit 0. No check depends on timing (the
kills land wherever they land; the checks compare what each side recorded), and the
waits inside are generous, so a loaded machine makes it slower, not red.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.soak_checks import (
    check_exactly_once,
    check_journal,
    check_receipts,
    check_seqs,
    check_stock,
    check_z,
    cli_config,
)
from bench.soak_lane import Durable, compare
from hw_sim.broker import mosquitto_path

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHECKS = (
    "kills",
    "no-crash",
    "baskets-across-kills",
    "exactly-once",
    "seq-gapless",
    "receipt-numbers-unique",
    "stock",
    "receipts",
    "journal-verify",
    "z-report",
    "store-server",
)


@dataclass(frozen=True)
class SoakRun:
    result: subprocess.CompletedProcess[str]
    folder: Path

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoakRun]:
    try:
        mosquitto_path()
    except Exception as e:  # no mosquitto on this machine
        pytest.skip(str(e))
    folder = tmp_path_factory.mktemp("soak")
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--short", "--seed", "3", "--dir", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    yield SoakRun(result, folder)


def test_short_soak_passes_every_check(soak: SoakRun) -> None:
    stdout = soak.result.stdout
    found = re.findall(r"^(PASS|FAIL) ([a-z-]+):", stdout, re.M)
    verdicts = {name: verdict for verdict, name in found}
    assert set(verdicts) == set(CHECKS), soak.output
    assert all(v == "PASS" for v in verdicts.values()), soak.output
    assert soak.result.returncode == 0, soak.output
    kills = re.search(r"^kills: (\d+) \(lane\); restarts: lane (\d+), broker (\d+), "
                      r"store server (\d+)$", stdout, re.M)  # fmt: skip
    assert kills is not None, soak.output
    assert int(kills[1]) == 20 and int(kills[2]) == 20, soak.output
    assert int(kills[3]) >= 1 and int(kills[4]) >= 1, soak.output
    assert re.search(r"^store server: \d+ messages received, \d+ duplicates", stdout, re.M)
    assert re.search(r"^recovery \(kill -> lane ready\): longest \d+\.\d\d s", stdout, re.M)


# --- the checks fail on wrong books --------------------------------------------------------


def _copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file that may still have its WAL beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@pytest.fixture
def books(soak: SoakRun, tmp_path: Path) -> Path:
    """A copy of the soak's lane database (with its journal key, if it has one), store
    database and printed receipts, to spoil."""
    if soak.result.returncode != 0:
        pytest.skip("the soak itself failed")
    _copy_db(soak.folder / "lane" / "lane.db", tmp_path / "lane" / "lane.db")
    key = soak.folder / "lane" / "journal.key"  # made when the journal is first pruned
    if key.exists():
        shutil.copy(key, tmp_path / "lane" / "journal.key")
    _copy_db(soak.folder / "store.db", tmp_path / "store.db")
    shutil.copytree(soak.folder / "runs", tmp_path / "runs")
    return tmp_path


def _write(db: Path, sql: str) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql)


def test_checks_pass_on_the_copy(books: Path) -> None:
    lane, store = books / "lane" / "lane.db", books / "store.db"
    assert check_exactly_once(lane, store).ok
    assert check_seqs(lane, store).ok
    assert check_stock(lane, store).ok
    assert check_receipts(lane, books / "runs")[0].ok


def test_a_sale_missing_at_the_store_fails(books: Path) -> None:
    lane, store = books / "lane" / "lane.db", books / "store.db"
    _write(store, "DELETE FROM message WHERE seq = (SELECT max(seq) FROM message "
                  "WHERE schema = 'lane.sale/1')")  # fmt: skip
    assert not check_exactly_once(lane, store).ok


def test_a_message_changed_at_the_store_fails(books: Path) -> None:
    lane, store = books / "lane" / "lane.db", books / "store.db"
    _write(store, "UPDATE message SET body = replace(body, '\"lane\":\"01\"', '\"lane\":\"1\"') "
                  "WHERE seq = 1")  # fmt: skip
    assert not check_exactly_once(lane, store).ok


def test_a_gap_in_the_lanes_seqs_fails(books: Path) -> None:
    lane, store = books / "lane" / "lane.db", books / "store.db"
    _write(lane, "DELETE FROM outboxmessage WHERE seq = 2")
    assert not check_seqs(lane, store).ok


def test_stock_off_by_one_at_the_store_fails(books: Path) -> None:
    lane, store = books / "lane" / "lane.db", books / "store.db"
    _write(store, "UPDATE stock SET qty = qty || '1' WHERE sku = (SELECT min(sku) FROM stock)")
    assert not check_stock(lane, store).ok


def test_a_receipt_printed_twice_unmarked_fails(books: Path) -> None:
    lane, runs = books / "lane" / "lane.db", books / "runs"
    first = next(p for p in sorted(runs.glob("*/receipt-*.txt")) if "Receipt: " in p.read_text())
    again = runs / "9999"
    again.mkdir()
    for suffix in (".txt", ".bin"):
        shutil.copy(first.with_suffix(suffix), again / f"receipt-0001{suffix}")
    assert not check_receipts(lane, runs)[0].ok


def test_a_transaction_changed_fails_the_journal_and_the_z(books: Path) -> None:
    lane = books / "lane" / "lane.db"
    config = cli_config(books, books / "lane")
    assert check_journal(config).ok
    assert check_z(lane, config).ok
    _write(lane, 'UPDATE "transaction" SET total = total + 100 WHERE receipt_no = 1')
    assert not check_journal(config).ok
    assert not check_z(lane, config).ok


def test_a_basket_that_lost_or_gained_a_line_across_a_kill_is_told() -> None:
    line = (1, "100234", 1000, 350, 350, 0)
    before = Durable(open={"s1": (line,)}, parked={1: ("s2", "{}")})
    assert compare(before, before) == []
    assert compare(before, Durable(open={"s1": ()}, parked={1: ("s2", "{}")}))
    gained = Durable(open={"s1": (line, (2, *line[1:]))}, parked={1: ("s2", "{}")})
    assert compare(before, gained)
    assert compare(before, Durable(open={"s1": (line,)}))  # the parked sale lost
