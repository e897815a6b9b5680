"""The customer display driver against hw_sim's simulated displays, over pseudo-terminals
with pyserial: the exact bytes of each command set for each phase, ASCII only on the
wire, writes only on change, a display that takes no data, a pulled adapter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from firmware_app.config import CustomerDisplayConfig
from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.pole_display import PoleDisplay, open_pole_display
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState
from firmware_app.lane.money import format_money
from firmware_app.lane.view import CustomerItem, CustomerView
from hw_sim.pole_display import SimulatedPoleDisplay
from tests.drivers.test_scale import Recorder
from tests.pole_views import COLA, TEA, customer_views
from tests.waiting import wait_until

WAIT_S = 5.0
FAST = {"reopen_s": 0.05, "check_s": 0.05}

IDLE, SELLING, PAYING, DONE = customer_views("欢迎光临 WELCOME")
PHASES = (IDLE, SELLING, PAYING, DONE)

# The exact bytes, phase by phase (the command tables are in drivers/pole_frames.py).
CD5220 = b"\x0c\x1b@\x1b_\x00"  # CLR, ESC @, ESC _ 0 (cursor off)
ESCPOS = b"\x0c\x1b@\x1f\x01\x1fC\x00"  # CLR, ESC @, US MD1 (overwrite), US C 0 (cursor off)
LED = b"\x0c\x1b@"  # CLR, ESC @
FRAMES = {
    "cd5220": [
        CD5220 + b"\x1bQA      WELCOME       \r\x1bQB                    \r",
        CD5220 + b"\x1bQACola 330ml          \r\x1bQB2 x 3.50        7.00\r",
        CD5220 + b"\x1bQATOTAL           7.70\r\x1bQBPAID            5.00\r",
        CD5220 + b"\x1bQAPAID           10.00\r\x1bQBCHANGE          2.30\r",
    ],
    "escpos": [
        ESCPOS + b"\x1f$\x01\x01      WELCOME       \x1f$\x01\x02                    ",
        ESCPOS + b"\x1f$\x01\x01Cola 330ml          \x1f$\x01\x022 x 3.50        7.00",
        ESCPOS + b"\x1f$\x01\x01TOTAL           7.70\x1f$\x01\x02PAID            5.00",
        ESCPOS + b"\x1f$\x01\x01PAID           10.00\x1f$\x01\x02CHANGE          2.30",
    ],
    "led8": [
        LED + b"\x1bs0",  # all lamps off, digits cleared
        LED + b"\x1bs1\x1bQA7.00\r",  # price
        LED + b"\x1bs2\x1bQA7.70\r",  # total
        LED + b"\x1bs4\x1bQA2.30\r",  # change
    ],
}
SHOWN = {
    "cd5220": [
        ("      WELCOME       ", "                    "),
        ("Cola 330ml          ", "2 x 3.50        7.00"),
        ("TOTAL           7.70", "PAID            5.00"),
        ("PAID           10.00", "CHANGE          2.30"),
    ],
    "led8": [("off", ""), ("price", "7.00"), ("total", "7.70"), ("change", "2.30")],
}
SHOWN["escpos"] = SHOWN["cd5220"]


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[list[SimulatedPoleDisplay]]:
    made: list[SimulatedPoleDisplay] = []
    yield made
    for sim in made:
        sim.close()


def simulated(
    sims: list[SimulatedPoleDisplay], tmp_path: Path, protocol: str = "cd5220", **kw: object
) -> SimulatedPoleDisplay:
    sim = SimulatedPoleDisplay(tmp_path / "out", protocol=protocol, **kw)  # type: ignore[arg-type]
    sims.append(sim)
    return sim


def config(port: str, protocol: str = "cd5220") -> CustomerDisplayConfig:
    return CustomerDisplayConfig(enabled=True, port=port, protocol=protocol)


def shows(sim: SimulatedPoleDisplay, shown: tuple[str, ...]) -> None:
    assert sim.wait_for(lambda now: now == shown, WAIT_S), f"shows {sim.shown}, not {shown}"


def state(device: DeviceState) -> tuple[Device, StateWord]:
    return device.device, device.state


# --- the bytes, phase by phase -------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["cd5220", "escpos", "led8"])
def test_each_phase_sends_its_exact_bytes(
    sims: list[SimulatedPoleDisplay], tmp_path: Path, protocol: str
) -> None:
    sim = simulated(sims, tmp_path, protocol)
    recorder = Recorder()
    with open_pole_display(config(sim.port, protocol), recorder) as pole:
        sent = b""
        for view, shown, frame in zip(PHASES, SHOWN[protocol], FRAMES[protocol], strict=True):
            pole.show(view)
            sent += frame
            wait_until(lambda: sim.received == sent, f"{view.phase} on the wire")  # noqa: B023
            assert sim.shown == shown
    assert sim.unknown == [] and sim.non_ascii == 0
    # An LED display starts dark, as it shows when idle: no change to log.
    changes = SHOWN[protocol][1:] if protocol == "led8" else SHOWN[protocol]
    assert sim.changes == changes
    assert [state(e) for e in recorder.events] == [(Device.CUSTOMER_DISPLAY, StateWord.OK)]
    log = (tmp_path / "out" / "customer-display.log").read_text().splitlines()
    assert len(log) == len(changes)
    ending = {
        "cd5220": " |PAID           10.00|CHANGE          2.30|",
        "escpos": " |PAID           10.00|CHANGE          2.30|",
        "led8": " |change |     2.30|",
    }
    assert log[-1].endswith(ending[protocol])


@pytest.mark.parametrize("protocol", ["cd5220", "escpos"])
def test_a_chinese_name_shows_the_code_and_never_a_byte_above_ascii(
    sims: list[SimulatedPoleDisplay], tmp_path: Path, protocol: str
) -> None:
    sim = simulated(sims, tmp_path, protocol)
    odd = CustomerItem("Cola", "Café\r\x1b@ ×2", "1 × 3.50", 350)  # no command gets through
    with PoleDisplay(config(sim.port, protocol), Recorder()) as pole:
        pole.show(SELLING)
        shows(sim, ("Cola 330ml          ", "2 x 3.50        7.00"))
        pole.show(replace(SELLING, last=TEA))
        shows(sim, ("6901234567892       ", "1 x 3.50        3.50"))
        pole.show(replace(SELLING, last=odd))
        shows(sim, ("Cafe @ x2           ", "1 x 3.50        3.50"))
    assert all(byte < 0x80 for byte in sim.received)
    assert sim.unknown == [] and sim.non_ascii == 0


def test_the_led_lights_one_lamp_per_phase(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    sim = simulated(sims, tmp_path, "led8")
    with PoleDisplay(config(sim.port, "led8"), Recorder()) as pole:
        for view, lamp, digits in [
            (SELLING, "price", "7.00"),
            (PAYING, "total", "7.70"),
            (replace(DONE, change=0, paid=770), "collect", "7.70"),
            (DONE, "change", "2.30"),
            (IDLE, "off", ""),
            (replace(PAYING, total=123_456_789), "total", "--------"),
        ]:
            pole.show(view)
            shows(sim, (lamp, digits))
    assert sim.unknown == []


# --- only what changed, never waiting ------------------------------------------------------


def test_a_frame_is_written_only_when_what_it_shows_changes(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    sim = simulated(sims, tmp_path)
    with PoleDisplay(config(sim.port), Recorder(), **FAST) as pole:  # type: ignore[arg-type]
        pole.show(SELLING)
        shows(sim, SHOWN["cd5220"][1])
        for _ in range(5):
            pole.show(SELLING)
        # A different view that lays out the same (items are not shown) is no change either.
        pole.show(replace(SELLING, items=3, savings=50))
        pole.show(PAYING)
        shows(sim, SHOWN["cd5220"][2])
        pole.show(PAYING)
        pole.show(DONE)
        shows(sim, SHOWN["cd5220"][3])
    assert sim.received == FRAMES["cd5220"][1] + FRAMES["cd5220"][2] + FRAMES["cd5220"][3]


def item(n: int) -> CustomerView:
    """The n-th of many different views: both lines change."""
    return replace(SELLING, last=replace(COLA, name_ascii=f"Item {n}", amount=n))


def fill_until_refused(pole: PoleDisplay, recorder: Recorder) -> tuple[int, float]:
    """Show one new view after another on a display that takes no data, until the line
    is full and a write has waited its timeout; the number shown and the slowest show()."""
    slowest, n = 0.0, 0
    deadline = time.monotonic() + 20
    while StateWord.ERROR not in recorder.states() and time.monotonic() < deadline:
        n += 1
        started = time.monotonic()
        pole.show(item(n))
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0)  # let the display's thread have the interpreter: it fills the line
    assert StateWord.ERROR in recorder.states()
    return n, slowest


def test_show_returns_at_once_while_the_display_takes_no_data(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    sim = simulated(sims, tmp_path, "escpos")
    recorder = Recorder()
    with PoleDisplay(
        config(sim.port, "escpos"), recorder, reopen_s=0.05, write_timeout_s=1.0
    ) as pole:
        recorder.wait_event(DeviceState(Device.CUSTOMER_DISPLAY, StateWord.OK))
        sim.stall()
        n, slowest = fill_until_refused(pole, recorder)
        for _ in range(50):  # the display's thread is stuck in a write meanwhile
            n += 1
            started = time.monotonic()
            pole.show(item(n))
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 0.25  # a show() that waited on the port would take 1 s
        error = recorder.events[-1]
        assert error.detail == f"{sim.port}: the display takes no data (check its cable and power)"
        sim.resume()
        recorder.wait_for(lambda events: events[-1].state is StateWord.OK)
        shows(sim, (f"Item {n}".ljust(20), "2 x 3.50" + format_money(n, 2).rjust(12)))
    assert recorder.states() == ["ok", "error", "ok"]
    # After the write that timed out, the next frame went after a CR, which ends a
    # command cut short (ESC/POS frames hold no CR of their own).
    assert b"\r" + ESCPOS in sim.received


def test_close_cuts_a_blocked_write_short(sims: list[SimulatedPoleDisplay], tmp_path: Path) -> None:
    sim = simulated(sims, tmp_path)
    recorder = Recorder()
    pole = PoleDisplay(config(sim.port), recorder, reopen_s=0.01, write_timeout_s=2.0)
    sim.stall()
    fill_until_refused(pole, recorder)
    # 10 ms after the refusal the thread tries again, and waits 2 s in that write.
    time.sleep(0.1)
    started = time.monotonic()
    pole.close()
    assert time.monotonic() - started < 0.5
    pole.show(IDLE)  # after close: nothing, and no error


# --- unplugged and plugged in again --------------------------------------------------------


def test_a_pulled_adapter_is_missing_and_a_new_one_shows_the_content_again(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    link = tmp_path / "lane-pole"
    sim = simulated(sims, tmp_path, link=link)
    recorder = Recorder()
    with PoleDisplay(config(str(link)), recorder, **FAST) as pole:  # type: ignore[arg-type]
        pole.show(PAYING)
        shows(sim, SHOWN["cd5220"][2])
        sim.pull_adapter()  # while nothing changes: the idle check finds it gone
        recorder.wait_for(lambda events: events[-1].state is StateWord.MISSING)
        missing = recorder.events[-1]
        assert missing.detail.startswith(f"{link} went away: ")
        sim.plug_adapter()
        assert sim.shown == (" " * 20, " " * 20)  # a display just plugged in is blank
        recorder.wait_for(lambda events: events[-1].state is StateWord.OK)
        shows(sim, SHOWN["cd5220"][2])  # sent again, unchanged
        sim.pull_adapter()
        recorder.wait_for(lambda events: events[-1].state is StateWord.MISSING)
        pole.show(DONE)  # while it is gone: shown once it is back
        sim.plug_adapter()
        shows(sim, SHOWN["cd5220"][3])
    assert recorder.states() == ["ok", "missing", "ok", "missing", "ok"]
    assert sim.received.endswith(FRAMES["cd5220"][2] + FRAMES["cd5220"][3])


def test_a_display_not_there_at_start_is_missing_until_plugged_in(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    link = tmp_path / "lane-pole"
    recorder = Recorder()
    with PoleDisplay(config(str(link)), recorder, **FAST) as pole:  # type: ignore[arg-type]
        recorder.wait_event(
            DeviceState(
                Device.CUSTOMER_DISPLAY,
                StateWord.MISSING,
                f"cannot open {link}: no such file or directory",
            )
        )
        pole.show(SELLING)
        sim = simulated(sims, tmp_path, link=link)
        shows(sim, SHOWN["cd5220"][1])
    assert recorder.states() == ["missing", "ok"]


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_a_port_that_is_no_serial_port_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    port = tmp_path / "lane-pole"
    if kind == "directory":
        port.mkdir()
        why = "is a directory"
    else:
        port.write_text("")
        why = "inappropriate ioctl for device"
    with pytest.raises(DeviceError) as caught:
        PoleDisplay(config(str(port)), Recorder())
    assert str(caught.value) == f"customer display: {port} is not a serial port ({why})"


def test_a_port_another_program_holds_is_an_error_until_it_lets_go(
    sims: list[SimulatedPoleDisplay], tmp_path: Path
) -> None:
    import serial

    sim = simulated(sims, tmp_path)
    recorder = Recorder()
    holder = serial.Serial(sim.port, exclusive=True)
    try:
        pole = PoleDisplay(config(sim.port), recorder, **FAST)  # type: ignore[arg-type]
        recorder.wait_event(
            DeviceState(
                Device.CUSTOMER_DISPLAY,
                StateWord.ERROR,
                f"cannot open {sim.port}: locked by another program",
            )
        )
    finally:
        holder.close()
    with pole:
        pole.show(IDLE)
        shows(sim, SHOWN["cd5220"][0])
    assert recorder.states() == ["error", "ok"]


# --- the simulated displays ----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["cd5220", "escpos", "led8"])
def test_a_frame_cut_short_is_mended_by_the_next_after_a_cr(protocol: str) -> None:
    from firmware_app.drivers.pole_frames import RESYNC
    from hw_sim.pole_decoder import decoder_for

    cut, whole = FRAMES[protocol][1], FRAMES[protocol][3]
    for at in range(1, len(cut)):
        display = decoder_for(protocol)
        display.feed(cut[:at] + RESYNC + whole)
        assert display.shown == tuple(SHOWN[protocol][3]), (at, display.shown)
        assert not display.busy


def test_without_the_cr_a_line_cut_short_swallows_the_next_frame() -> None:
    from hw_sim.pole_decoder import decoder_for

    display = decoder_for("cd5220")
    cut = FRAMES["cd5220"][1]
    display.feed(cut[: cut.index(b"Cola") + 2] + FRAMES["cd5220"][3])
    assert display.shown[0] != SHOWN["cd5220"][3][0]


def test_the_cd5220_ignores_commands_in_string_mode_but_clr() -> None:
    from hw_sim.pole_decoder import decoder_for

    display = decoder_for("cd5220")
    display.feed(b"\x1bQAHELLO\r\x1b@")  # ESC @ without CLR first: ignored by the display
    assert display.unknown == [b"\x1b@"]
    assert display.shown[0] == "HELLO".ljust(20)
    display.feed(b"\x0c\x1b@")
    assert display.shown == (" " * 20, " " * 20) and display.unknown == [b"\x1b@"]
