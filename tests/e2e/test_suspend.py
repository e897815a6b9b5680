"""Suspend and resume at the simulated lane, with SIGKILL in between: a parked sale is
never lost, never doubled, and comes back after a restart; its slip, as the simulated
printer decoded it, shows the suspend number and its barcode."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from firmware_app.sync.validation import validate
from tests.e2e.sim import OFFLINE, ROOT, run_sim, sim_command
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

SIGN_ON = """\
type 1001
key SIGNON
type 1234
key ENTER
"""

PARK = (
    SIGN_ON
    + """\
scan 6954767410388
scan ]E496385074
key SUSPEND
wait idle
sleep 600
"""
)

# Each round adds a line, parks the sale and brings it back: the same sale throughout.
ROUNDS = 40


def park_and_resume(rounds: int) -> str:
    steps = [SIGN_ON]
    for no in range(1, rounds + 1):
        steps.append(f"scan 6954767410388\nkey SUSPEND\ntype {no}\nkey RESUME\n")
    steps.append("sleep 600\n")
    return "".join(steps)


def query(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # the lane has not created its tables yet
    finally:
        connection.close()


def kill_when(tmp_path: Path, script: str, name: str, ready, what: str) -> None:
    lane = subprocess.Popen(
        sim_command(tmp_path, script, "--broker", OFFLINE, name=name),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(ready, what, 60)
    finally:
        lane.send_signal(signal.SIGKILL)
        lane.wait(timeout=10)
    assert lane.returncode == -signal.SIGKILL


def test_a_parked_sale_survives_sigkill_and_its_slip_shows_number_and_barcode(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "lane.db"
    slip = tmp_path / "out" / "receipt-0001.txt"
    kill_when(
        tmp_path,
        PARK,
        "park.txt",
        lambda: db.exists() and bool(query(db, "select no from parkedsale")) and slip.exists(),
        "a parked sale and its slip",
    )
    text = slip.read_text(encoding="utf-8")
    assert "[BARCODE CODE128 SUSP-S001-01-1]" in text
    assert "挂单号 Suspend no." in text and "13.50" in text
    [(sale_id,)] = query(db, "select sale_id from parkedsale")
    assert query(db, "select count(*) from opensale") == [(0,)]

    resume = "scan SUSP-S001-01-1\nkey SUBTOTAL\nkey CASH\nwait idle\n"
    result = run_sim(tmp_path, resume, "--broker", OFFLINE, name="resume.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Parked sale 1 resumed (2 lines)" in result.stdout
    assert query(db, "select sale_id, total from 'transaction'") == [(sale_id, 1350)]
    assert query(db, "select count(*) from parkedsale") == [(0,)]
    messages = [json.loads(row[0]) for row in query(db, "select payload from outboxmessage")]
    for message in messages:
        validate(message)  # the contract's lane.event/1, as the store server checks it
    events = {m["event"]: m for m in messages if m["schema"] == "lane.event/1"}
    assert events["suspend"]["sale_id"] == events["resume"]["sale_id"] == sale_id
    assert events["suspend"]["details"] == {"no": "1", "lines": "2", "total": "1350"}
    assert events["resume"]["details"] == {
        "no": "1", "parked_by": "1001", "lines": "2", "repriced": "0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("seen", "lines"), [("open", 3), ("parked", 5), ("open", 12), ("parked", 20)]
)
def test_sigkill_amid_parks_and_resumes_leaves_the_sale_parked_or_open_never_both(
    tmp_path: Path, seen: str, lines: int
) -> None:
    """The kill follows the moment the sale was seen (open or parked) with ``lines``
    lines: the lane runs on meanwhile, so it lands anywhere in a later step."""
    db = tmp_path / "data" / "lane.db"

    def progressed() -> bool:
        if not db.exists():
            return False
        if seen == "open":
            return (query(db, "select count(*) from openline") or [(0,)])[0][0] >= lines
        parked = query(db, "select sale from parkedsale")
        return any(p[0].count('"sku"') >= lines for p in parked)

    kill_when(tmp_path, park_and_resume(ROUNDS), "rounds.txt", progressed, f"{lines} lines")
    open_ids = {row[0] for row in query(db, "select id from opensale")}
    parked_ids = {row[0] for row in query(db, "select sale_id from parkedsale")}
    assert len(open_ids | parked_ids) == 1, (open_ids, parked_ids)  # never gone
    assert not open_ids & parked_ids  # never both
    sale_id = next(iter(open_ids | parked_ids))

    # Restarted: whichever it is, the sale is finished once.
    finish = "key CASH\nwait idle\n"
    if parked_ids:
        [(no,)] = query(db, "select no from parkedsale")
        finish = f"type {no}\nkey RESUME\nkey CASH\nwait idle\n"
    result = run_sim(tmp_path, finish, "--broker", OFFLINE, name="finish.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    [(done, total)] = query(db, "select sale_id, total from 'transaction'")
    [(count,)] = query(db, "select count(*) from transactionline")
    assert done == sale_id and total == 350 * count and count >= lines
    assert query(db, "select count(*) from parkedsale") == [(0,)]
    assert query(db, "select count(*) from opensale") == [(0,)]
