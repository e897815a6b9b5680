"""End to end: approvals and wrong PINs at a hw_sim lane reach a store server over a real
mosquitto as events that validate against the contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import in_seq_order, run_to_store

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
    _, received = run_to_store(tmp_path, SCRIPT, mosquitto.url)
    events = [(m["event"], m["details"]) for m in in_seq_order(received)]
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
