"""End to end: ``python -m hw_sim`` runs a script against a real mosquitto while this test
subscribes as a store server, acknowledges, and checks what arrived."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hw_sim.broker import MosquittoBroker
from hw_sim.script import parse_script
from tests.e2e.sim import OFFLINE, ROOT, run_sim, run_to_store

pytestmark = pytest.mark.e2e

SCRIPT = """\
# sign on, two sales, a refusal in between
type 1001
key SIGNON
type 1234
key ENTER
type 2
key QTY
scan ]E06954767410388
scale 0.532
type 1
key PLU
scan 036000291452
key VOID
key SUBTOTAL
type 50
key CASH
drawer close
scan 2000101023906
scan 6954767410381
scan ]E496385074
terminal decline
key CARD
terminal approve
key MOBILE
wait idle
"""


def test_a_scripted_shift_reaches_the_store_server(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    result, received = run_to_store(tmp_path, SCRIPT, mosquitto.url)
    by_seq: dict[int, dict[str, Any]] = {}
    for topic, message in received:
        assert topic == f"pos/S001/lanes/01/{topic.rsplit('/', 1)[1]}"
        by_seq[message["seq"]] = message  # resends are allowed, duplicates are equal
    seqs = sorted(by_seq)
    assert seqs == list(range(1, len(seqs) + 1)), "seq must be gapless from 1"
    kinds = [by_seq[s]["schema"] for s in seqs]
    assert kinds == [
        "lane.event/1",
        "lane.event/1",
        "lane.sale/1",
        "lane.stock/1",
        "lane.sale/1",
        "lane.stock/1",
    ]
    sign_on, void, sale1, stock1, sale2, stock2 = (by_seq[s] for s in seqs)
    assert (sign_on["event"], void["event"]) == ("sign_on", "line_void")

    # sale 1: 2 × cola 3.50, 0.532 kg apples at 12.80, cookies voided; 50.00 cash
    assert [(ln["sku"], ln["qty"], ln["amount"], ln["voided"]) for ln in sale1["lines"]] == [
        ("100234", "2", 700, False),
        ("200001", "0.532", 681, False),
        ("300002", "1", 1590, True),
    ]
    assert sale1["totals"] == {
        "gross": 1381,
        "discount": 0,
        "rounding": 0,
        "total": 1381,
        "tax": 137,
    }
    assert sale1["taxes"] == [
        {"rate": "13", "gross": 700, "tax": 81},
        {"rate": "9", "gross": 681, "tax": 56},
    ]
    assert (sale1["tenders"], sale1["change"]) == ([{"type": "cash", "amount": 5000}], 3619)
    assert stock1["deltas"] == [
        {"sku": "100234", "qty": "-2", "unit": "each"},
        {"sku": "200001", "qty": "-0.532", "unit": "kg"},
    ]
    assert stock1["sale_id"] == sale1["sale_id"]

    # sale 2: pork price label 23.90 (0.668 kg at 35.80), bread; declined card, then mobile
    assert sale2["totals"]["total"] == 3390
    assert [t["type"] for t in sale2["tenders"]] == ["mobile"]
    assert stock2["deltas"] == [
        {"sku": "200003", "qty": "-0.668", "unit": "kg"},
        {"sku": "300001", "qty": "-1", "unit": "each"},
    ]
    assert sale2["receipt_no"] == sale1["receipt_no"] + 1

    receipt = (tmp_path / "out" / "receipt-0001.txt").read_text(encoding="utf-8")
    for text in (
        "超市 SUPERMARKET",
        "可口可乐 330ml",
        "2 × 3.50",
        "7.00",
        "富士苹果",
        "0.532 kg × 12.80/kg",
        "作废 VOID Oreo cookies 进口饼干",
        "(15.90)",
        "合计 TOTAL",
        "13.81",
        "含税 incl. tax 13%  7.00",
        "0.81",
        "现金 Cash",
        "50.00",
        "找零 Change",
        "36.19",
        "小票号 Receipt: 1",
        "收银员 Cashier: 1001",
    ):
        assert text in receipt, text
    receipt2 = (tmp_path / "out" / "receipt-0002.txt").read_text(encoding="utf-8")
    assert "移动支付 Mobile" in receipt2 and "33.90" in receipt2
    assert "Bad barcode" in result.stdout  # the misread scan was refused on screen


def test_a_bad_script_line_names_the_line(tmp_path: Path) -> None:
    result = run_sim(tmp_path, "type 1001\nkey SIGNON\nscale heavy\n")
    assert result.returncode == 2
    assert "script.txt:3: scale: expected KG" in result.stderr


# A refused PLU stays keyed: the cashier presses PLU again once the scale is right.
DEVICES = """\
type 1001
key SIGNON
type 1234
key ENTER
scale motion
type 1
key PLU
scale over
key PLU
scale under
key PLU
scale unplug
key PLU
scale plug
scale 0.25
key PLU
printer paper near-end
printer cover open
printer cover closed
printer paper ok
printer unplug
printer plug
drawer jam
key CASH
drawer close
key NOSALE
type 9001
key ENTER
type 9999
key ENTER
drawer close
sleep 0.1
wait idle
"""


def test_every_device_command_reaches_the_lane(tmp_path: Path) -> None:
    result = run_sim(tmp_path, DEVICES, "--broker", OFFLINE)
    assert result.returncode == 0, result.stdout + result.stderr
    screen = (tmp_path / "out" / "screen.log").read_text(encoding="utf-8")
    said = [
        "Scale moving, wait",
        "Scale over capacity",
        "Scale below zero, re-zero",
        "Scale not answering",
        "富士苹果  3.20",
        "Change 0.00",
        "Supervisor ID, then ENTER",
        "Drawer opened",
    ]
    positions = [screen.find(text) for text in said]
    assert all(p >= 0 for p in positions), (said, screen)
    assert positions == sorted(positions)
    receipt = (tmp_path / "out" / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "0.250 kg × 12.80/kg" in receipt
    assert "hw_sim: done" in result.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"schema": "store.catalog/1", "version": 1, "items": [', "not JSON: Expecting value"),
        (
            b'{"schema": "store.catalog/1", "version": 1, "items": [{"sku": "A", "name": "x", '
            b'"unit": "box", "price": 1, "tax_rate": "13"}]}',
            "items[0] (sku A).unit: expected 'each' or 'kg', got 'box'",
        ),
        (
            b'{"schema": "store.catalog/1", "version": 3, "base_version": 2, "items": []}',
            "base_version 2 does not match the lane's catalog version 0",
        ),
    ],
    ids=["not-json", "bad-unit", "delta-on-a-fresh-lane"],
)
def test_a_bad_catalog_file_gets_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(content)
    result = run_sim(tmp_path, "wait idle\n", "--catalog", str(catalog), "--broker", OFFLINE)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"hw_sim: --catalog {catalog}: ") and reason in line


def test_a_missing_catalog_file_gets_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = run_sim(tmp_path, "wait idle\n", "--catalog", str(missing), "--broker", OFFLINE)
    assert result.returncode == 2
    assert result.stderr == f"hw_sim: --catalog {missing}: no such file\n"


def test_trailing_comments_are_not_typed(tmp_path: Path) -> None:
    script = (
        "type 1001   # the cashier\n"
        "key SIGNON\t# then the PIN\n"
        "type 1234\n"
        "key ENTER\n"
        "scan 6921094000018  # water\n"
        "  # a comment line, indented\n"
        "wait idle # all handled\n"
    )
    result = run_sim(tmp_path, script, "--broker", OFFLINE)
    assert result.returncode == 0, result.stdout + result.stderr
    screen = (tmp_path / "out" / "screen.log").read_text(encoding="utf-8")
    assert "农夫山泉 550ml" in screen
    assert "Unknown" not in screen and "Bad barcode" not in screen


def test_a_bad_line_with_a_comment_names_the_line_without_the_comment(tmp_path: Path) -> None:
    script = "type 1001\n# sign on first\nscale heavy   # too much\n"
    result = run_sim(tmp_path, script)
    assert result.returncode == 2
    assert result.stderr == (
        f"hw_sim: {tmp_path / 'script.txt'}:3: scale: expected KG (0 to 99.999, 3 decimals), "
        "motion, over, under, unplug, plug, pull, replug, got 'heavy'\n"
    )


@pytest.mark.parametrize(
    ("line", "verb", "args", "text"),
    [
        ("scan 6921094000018  # water", "scan", ("6921094000018",), "scan 6921094000018"),
        ("scan 6921094000018\t#water", "scan", ("6921094000018",), "scan 6921094000018"),
        ("scan AB#12", "scan", ("AB#12",), "scan AB#12"),  # inside a word: scanned
        ("key SIGNON # sign on", "key", ("SIGNON",), "key SIGNON"),
        ("  scale 0.532 #", "scale", ("0.532",), "scale 0.532"),
    ],
)
def test_a_hash_after_blanks_starts_a_comment(
    line: str, verb: str, args: tuple[str, ...], text: str
) -> None:
    [command] = parse_script(f"# a shift\n\n{line}\n")
    assert (command.line, command.verb, command.args, command.text) == (3, verb, args, text)


def test_a_line_that_is_only_a_comment_is_skipped() -> None:
    assert parse_script("   # nothing\n\t# nor this\n#\n") == []


def test_commands_typed_on_the_console_run_and_a_bad_one_is_skipped(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "hw_sim", "--out", str(tmp_path / "out"),
        "--data-dir", str(tmp_path / "data"), "--broker", OFFLINE,
    ]  # fmt: skip
    typed = (
        "clock 2026-12-24T22:30:00+08:00\n"
        "key 1 0 0 1 SIGNON 1 2 3 4 ENTER\n"
        "scna 6954767410388\n"
        "scan 6954767410388\n"
        "key CASH\n"
    )
    done = subprocess.run(
        command, input=typed, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "console:3: scna: unknown command" in done.stderr
    receipts = sorted((tmp_path / "out").glob("receipt-*.txt"))
    assert len(receipts) == 1
    # The simulated clock was set: the sale is dated from it, and runs on from there.
    assert "2026-12-24 22:30" in receipts[0].read_text(encoding="utf-8")


def test_a_clock_without_an_offset_is_a_bad_line(tmp_path: Path) -> None:
    done = run_sim(tmp_path, "clock 2026-12-24T22:30:00\n")
    assert done.returncode == 2
    assert "script.txt:1: clock: expected an ISO 8601 time with its offset" in done.stderr


def test_a_script_presses_every_key_name_the_lane_knows() -> None:
    from firmware_app.config import KEY_NAMES
    from firmware_app.config import parse as parse_config
    from hw_sim.lane_sim import SIM_KEYS

    default = parse_config({"lane": {"store": "S1", "lane": "1"}}).keypad.keymap
    assert set(default.values()) | set(SIM_KEYS.values()) >= KEY_NAMES


def test_a_relative_data_dir_is_taken_from_where_hw_sim_runs(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("type 1001\nkey SIGNON\ntype 1234\nkey ENTER\n", "utf-8")
    command = [sys.executable, "-m", "hw_sim", "--script", "s.txt", "--data-dir", "d",
               "--out", "o", "--broker", OFFLINE]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "lane.db").exists()
