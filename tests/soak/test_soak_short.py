"""The soak's short mode end to end: 20 SIGKILLs of the simulated lane while a cashier
works it, a broker and a store server killed and started again, then every check.

It runs ``python -m bench.soak --short`` as a process, as a technician would, and
asserts on what it prints: each check PASS, exit 0. No check depends on timing (the
kills land wherever they land; the checks compare what each side recorded), and the
waits inside are generous, so a loaded machine makes it slower, not red.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_short_soak_passes_every_check(tmp_path: Path) -> None:
    try:
        mosquitto_path()
    except Exception as e:  # no mosquitto on this machine
        pytest.skip(str(e))
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--short", "--seed", "3", "--dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    verdicts = {name: verdict for verdict, name in re.findall(r"^(PASS|FAIL) ([a-z-]+):",
                                                              result.stdout, re.M)}  # fmt: skip
    assert set(verdicts) == set(CHECKS), output
    assert all(v == "PASS" for v in verdicts.values()), output
    assert result.returncode == 0, output
    kills = re.search(r"^kills: (\d+) \(lane\); restarts: lane (\d+), broker (\d+), "
                      r"store server (\d+)$", result.stdout, re.M)  # fmt: skip
    assert kills is not None, output
    assert int(kills[1]) == 20 and int(kills[2]) == 20, output
    assert int(kills[3]) >= 1 and int(kills[4]) >= 1, output
