"""Every device fault hw_sim can inject, and how the lane reacts: the cashier's
message, the device's state in ``status``, the audit event, and the recovery.

The lane runs in-process on simulated hardware (``SimLane``), driven by the same
script commands a technician types.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_app.lane.messages import Msg
from hw_sim.lane_sim import OFFLINE_URL, SimLane, SimOptions
from hw_sim.script import parse_script

SIGN_ON = "type 1001\nkey SIGNON\ntype 1234\nkey ENTER\n"
COLA = "scan 6954767410388\n"  # 可口可乐 330ml, 3.50
SUPERVISOR = "type 9001\nkey ENTER\ntype 9999\nkey ENTER\n"


def make_sim(tmp_path: Path, **overrides: dict) -> SimLane:
    sim = SimLane(
        SimOptions(
            out=tmp_path / "out",
            data_dir=tmp_path / "data",
            broker_url=OFFLINE_URL,
            echo=io.StringIO(),
            overrides=overrides,
        )
    )
    sim.start()
    return sim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimLane]:
    lane = make_sim(tmp_path)
    yield lane
    lane.close()


def run(sim: SimLane, script: str) -> None:
    for command in parse_script(script, source="test"):
        sim.run(command)


def device(sim: SimLane, name: str) -> str | None:
    """The device's word as the retained status message reports it."""
    return sim.app.status()["devices"].get(name)


def message(sim: SimLane) -> Msg | None:
    shown = sim.loop.state.message
    return shown.id if shown is not None else None


def screen(sim: SimLane) -> str:
    return (sim.options.out / "screen.log").read_text(encoding="utf-8")


def events(sim: SimLane) -> list[dict]:
    rows = sim.app.outbox.unacked(limit=1000)
    return [json.loads(r.payload) for r in rows if r.topic.endswith("/events")]


def committed(sim: SimLane) -> int:
    return sim.app.sales.next_receipt_no() - 1


# --- scanner and keypad ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["scanner", "keypad"])
def test_an_unplugged_input_device_is_reported_and_found_again(sim: SimLane, name: str) -> None:
    run(sim, SIGN_ON)
    run(sim, f"{name} unplug\n")
    assert device(sim, name) == "missing"
    assert message(sim) is Msg.DEVICE_PROBLEM
    assert f"{name}: missing" in screen(sim)
    run(sim, f"{name} plug\n")  # no restart: the driver finds it again
    assert device(sim, name) == "ok"
    run(sim, COLA + "key CASH\n")
    assert committed(sim) == 1


# --- scale ---------------------------------------------------------------------------------------


def test_a_silent_scale_is_reported_and_recovers_by_itself(sim: SimLane) -> None:
    run(sim, SIGN_ON + "scale 0.532\nscale unplug\ntype 1\nkey PLU\n")
    assert message(sim) is Msg.SCALE_SILENT and sim.loop.state.sale is None
    assert device(sim, "scale") == "silent"
    run(sim, "scale plug\nscale 0.532\nkey PLU\n")  # the refused PLU 1 is still keyed
    assert device(sim, "scale") == "ok" and message(sim) is Msg.ITEM_ADDED


def test_a_pulled_scale_adapter_is_reported_and_picked_up_again(sim: SimLane) -> None:
    run(sim, SIGN_ON + "scale pull\n")
    sim.wait_for(lambda: device(sim, "scale") not in ("ok", None), "the scale reported")
    assert device(sim, "scale") in ("missing", "silent")
    run(sim, "scale replug\nscale 0.250\ntype 1\nkey PLU\n")
    sim.wait_for(lambda: device(sim, "scale") == "ok", "the scale back")
    assert message(sim) is Msg.ITEM_ADDED


def test_scale_readings_that_may_not_sell(sim: SimLane) -> None:
    run(sim, SIGN_ON + "type 1\n")
    for fault, refusal in (
        ("motion", Msg.SCALE_MOVING),
        ("over", Msg.SCALE_OVER),
        ("under", Msg.SCALE_UNDER),
        ("0", Msg.SCALE_EMPTY),
    ):
        run(sim, f"scale {fault}\nkey PLU\n")
        assert message(sim) is refusal, fault
        assert sim.loop.state.entry == "1"  # a refusal keeps what was keyed
    assert sim.loop.state.sale is None


def test_the_same_load_is_not_sold_twice_until_lifted(sim: SimLane) -> None:
    run(sim, SIGN_ON + "scale 0.532\ntype 1\nkey PLU\ntype 1\nkey PLU\n")
    assert message(sim) is Msg.SCALE_SAME_WEIGHT
    run(sim, "scale motion\nscale 0.532\nkey PLU\n")  # jiggled: still the same load
    assert message(sim) is Msg.SCALE_SAME_WEIGHT
    run(sim, "scale 0\nscale 0.532\nkey PLU\n")  # lifted off, put back
    assert message(sim) is Msg.ITEM_ADDED
    assert sim.loop.state.sale is not None and len(sim.loop.state.sale.live_lines) == 2


def test_zero_and_tare_keys_show_the_scales_answer(sim: SimLane) -> None:
    run(sim, SIGN_ON + "scale 0.004\nkey ZERO\n")
    sim.wait_for(lambda: message(sim) is Msg.SCALE_RESULT, "the scale's answer")
    assert sim.loop.state.message is not None
    assert sim.loop.state.message.render("en") == "Scale: zeroed"
    run(sim, "scale motion\nkey TARE\n")
    sim.wait_for(lambda: message(sim) is Msg.SCALE_REFUSED, "the refusal")
    # The screen is drawn at the end of the loop's step, a moment after the state.
    sim.wait_for(lambda: "Scale refused tare: moving" in screen(sim), "the refusal on screen")


# --- printer -------------------------------------------------------------------------------------


def test_a_receipt_that_cannot_print_waits_for_paper(sim: SimLane) -> None:
    run(sim, "printer paper out\n")
    assert device(sim, "printer") == "paper_out"
    run(sim, SIGN_ON + COLA + "key CASH\n")
    assert committed(sim) == 1  # the sale never depends on the printer
    assert sim.loop.state.receipts_pending == 1
    # The change stays on screen; the status line tells of the receipt (and of the
    # broker this offline lane never reaches).
    assert "Change 0.00  [broker: offline; printer: paper out; receipts to print: 1]" in screen(sim)
    assert sim.printer.receipts == []
    run(sim, "printer paper ok\n")
    assert device(sim, "printer") == "ok"
    assert sim.loop.state.receipts_pending == 0
    (receipt,) = sim.printer.receipts
    assert "可口可乐 330ml" in receipt and "REPRINT" not in receipt
    # All clear but the broker.
    assert screen(sim).splitlines()[-1] == "screen: [1001]  Change 0.00  [broker: offline]"


def test_paper_running_out_mid_receipt_prints_it_again_as_a_reprint(sim: SimLane) -> None:
    run(sim, "printer paper out-after 4\n" + SIGN_ON + COLA + "key CASH\n")
    sim.wait_for(lambda: device(sim, "printer") == "paper_out", "paper out")
    assert sim.loop.state.receipts_pending == 1
    torn = sim.printer.receipts
    assert len(torn) == 1 and "谢谢惠顾" not in torn[0]  # only the head made it
    run(sim, "printer paper ok\n")
    assert sim.loop.state.receipts_pending == 0
    again = sim.printer.receipts[-1]
    assert "重打 REPRINT" in again and "可口可乐 330ml" in again


@pytest.mark.parametrize(
    ("fault", "state", "fix"),
    [
        ("printer cover open", "cover_open", "printer cover closed"),
        ("printer cutter jam", "error", "printer cutter ok"),
        ("printer unplug", "offline", "printer plug"),
    ],
)
def test_printer_faults_keep_the_receipt_until_fixed(
    sim: SimLane, fault: str, state: str, fix: str
) -> None:
    run(sim, fault + "\n")
    assert device(sim, "printer") == state
    run(sim, SIGN_ON + COLA + "key CASH\n")
    assert committed(sim) == 1 and sim.loop.state.receipts_pending == 1
    run(sim, fix + "\n")
    assert device(sim, "printer") == "ok" and sim.loop.state.receipts_pending == 0
    assert any("可口可乐 330ml" in r for r in sim.printer.receipts)


def test_a_pending_receipt_survives_a_restart(tmp_path: Path) -> None:
    sim = make_sim(tmp_path)
    try:
        run(sim, "printer paper out\n" + SIGN_ON + COLA + "key CASH\n")
        assert sim.loop.state.receipts_pending == 1
    finally:
        sim.close()
    again = make_sim(tmp_path)
    try:
        again.wait_for(lambda: bool(again.printer.receipts), "the owed receipt")
        (receipt,) = again.printer.receipts
        assert "可口可乐 330ml" in receipt
        run(again, "key REPRINT\n")  # the last receipt is known after a restart too
        assert "副本 COPY" in again.printer.receipts[-1]
    finally:
        again.close()


def test_near_end_paper_warns_without_stopping(sim: SimLane) -> None:
    run(sim, "printer paper near-end\n" + SIGN_ON + COLA + "key CASH\n")
    assert device(sim, "printer") == "paper_near_end"
    assert sim.loop.state.receipts_pending == 0 and len(sim.printer.receipts) == 1


# --- drawer --------------------------------------------------------------------------------------


def test_a_jammed_drawer_is_kicked_twice_then_reported(sim: SimLane) -> None:
    run(sim, "drawer jam\n" + SIGN_ON + COLA + "key CASH\n")
    sim.wait_for(lambda: device(sim, "drawer") == "jammed", "the drawer reported jammed")
    assert sim.drawer.kicks == 2  # the kick and one retry
    assert committed(sim) == 1  # the sale stands
    assert "drawer: jammed" in screen(sim)
    run(sim, "drawer unjam\nkey NOSALE\n" + SUPERVISOR)
    sim.wait_for(lambda: sim.loop.state.drawer_open, "the drawer open")
    sim.wait_for(lambda: device(sim, "drawer") != "jammed", "the jam cleared")


def test_a_sticking_drawer_opens_on_the_retry(sim: SimLane) -> None:
    run(sim, "drawer stick\n" + SIGN_ON + COLA + "key CASH\n")
    sim.wait_for(lambda: sim.loop.state.drawer_open, "the drawer open")
    assert sim.drawer.kicks == 2 and device(sim, "drawer") != "jammed"


def test_a_drawer_left_open_raises_an_alert_and_an_event(tmp_path: Path) -> None:
    sim = make_sim(tmp_path, drawer={"confirm_ms": 300, "open_alert_s": 5})
    try:
        run(sim, SIGN_ON + "drawer key\n")
        sim.wait_for(lambda: message(sim) is Msg.DRAWER_LEFT_OPEN, "the alert", timeout=10)
        (alarm,) = [e for e in events(sim) if e["event"] == "drawer_alarm"]
        assert int(alarm["details"]["open_s"]) >= 5
    finally:
        sim.close()


def test_no_sale_opens_the_drawer_only_with_a_supervisor(sim: SimLane) -> None:
    run(sim, SIGN_ON + "key NOSALE\n")
    assert not sim.loop.state.drawer_open and sim.drawer.kicks == 0
    run(sim, SUPERVISOR)
    sim.wait_for(lambda: sim.loop.state.drawer_open, "the drawer open")
    assert [e["event"] for e in events(sim)].count("no_sale") == 1


# --- clock ---------------------------------------------------------------------------------------


def test_an_unsynchronised_clock_is_reported_in_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import firmware_app.app.bootstrap as bootstrap

    monkeypatch.setattr(bootstrap, "ntp_synchronized", lambda: False)
    sim = make_sim(tmp_path)
    try:
        sim.wait_for(lambda: device(sim, "clock") == "unsynced", "the clock warning")
        assert "unsynced" not in screen(sim)  # a technician's matter, not the cashier's
        run(sim, SIGN_ON + COLA + "key CASH\n")  # the lane sells on
        sale = next(
            json.loads(r.payload)
            for r in sim.app.outbox.unacked(limit=100)
            if r.topic.endswith("/sales")
        )
        assert sale["at"][-6] in "+-"  # sale times carry their UTC offset
    finally:
        sim.close()
