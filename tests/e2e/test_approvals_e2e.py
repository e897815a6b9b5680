"""End to end: approvals and wrong PINs at a hw_sim lane reach a store server over a real
mosquitto as events that validate against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmware_app.sync.contract import validate
from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import run_sim
from tests.e2e.test_hw_sim import StoreServerProbe

pytestmark = pytest.mark.e2e

SCRIPT = """\
# a wrong PIN, then a no-sale approved by badge, then one by a second supervisor's PIN
type 1001
key SIGNON
type 1111
key ENTER
type 1001
key SIGNON
type 1234
key ENTER
key NOSALE
scan SV9001
drawer close
key NOSALE
type 1001
key ENTER
type 9002
key ENTER
type 8888
key ENTER
drawer close
wait idle
"""


def test_approvals_and_wrong_pins_reach_the_store_server(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    probe = StoreServerProbe(mosquitto.url)
    try:
        result = run_sim(tmp_path, SCRIPT, "--broker", mosquitto.url)
    finally:
        probe.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 unacknowledged" in result.stdout
    by_seq: dict[int, dict[str, Any]] = {}
    for _topic, message in probe.messages:
        validate(message)
        by_seq[message["seq"]] = message
    events = [(by_seq[s]["event"], by_seq[s]["details"]) for s in sorted(by_seq)]
    assert events == [
        ("pin_failed", {"cashier": "1001", "step": "sign_on", "failures": "1"}),
        ("sign_on", {"role": "cashier"}),
        ("approval", {"action": "no_sale", "supervisor": "9001", "via": "badge"}),
        ("no_sale", {"supervisor": "9001"}),
        (
            "supervisor_refused",
            {"action": "no_sale", "supervisor": "1001", "reason": "own_action"},
        ),
        ("approval", {"action": "no_sale", "supervisor": "9002", "via": "pin"}),
        ("no_sale", {"supervisor": "9002"}),
    ]
