"""Typed device news: each driver condition becomes a typed state, and the typed state
becomes exactly the word the status message and the cashier's screen always carried.

A table: (condition, the typed ``DeviceState`` the driver, the sync thread or the
composition root builds for it, the wire word). The words are parsed at the edge
(drivers, the sync thread) and the core compares members only.
"""

from __future__ import annotations

import json
import os
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.app import clock as lane_clock
from firmware_app.config import CustomerDisplayConfig, PrinterConfig
from firmware_app.drivers.discovery import DeviceAmbiguous, DeviceConflict
from firmware_app.drivers.drawer import KickOutcome, outcome_state, switch_state
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.hid import state_word
from firmware_app.drivers.keypad import Keypad
from firmware_app.drivers.pole_display import PoleDisplay
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.printer_status import PrinterFault, parse_status
from firmware_app.drivers.scale import DEVICE as SCALE_DEVICE
from firmware_app.drivers.scale import health
from firmware_app.drivers.scanner import Scanner
from firmware_app.lane.devices import DEVICE_WORDS, FINE, Device, StateWord, wire
from firmware_app.lane.events import DeviceState, ScaleCommandResult
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.receipt import Receipt
from firmware_app.lane.weighing import (
    ScaleCommand,
    ScaleDone,
    ScaleReading,
    ScaleRefusal,
    ScaleStatus,
)
from firmware_app.store.outbox import OutboxStats
from firmware_app.sync import housekeeping
from firmware_app.sync.contract import status_message
from firmware_app.sync.states import (
    BROKER,
    NOT_AUTHORIZED,
    OFFLINE,
    ONLINE,
    OUTBOX,
    REFUSED,
    SyncStates,
)
from tests.unit.till import Till

CST = timezone(timedelta(hours=8))


def printer_fault_state(tmp_path: Path) -> StateWord:
    """What the printer driver says when its port is not there (real pyserial)."""
    config = PrinterConfig(port=str(tmp_path / "no-printer"), status_check=False)
    empty = Receipt((), (), (), (), (), ())
    with SerialPrinter(config) as printer, pytest.raises(PrinterFault) as caught:
        printer.print_receipt(empty)
    return caught.value.state


@contextmanager
def pseudo_terminal() -> Iterator[str]:
    """A serial port's path (the terminal end of a pseudo-terminal pair)."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def pole_state(port: str) -> DeviceState:
    """The first state the customer display driver posts for ``port`` (real pyserial)."""
    heard: queue.Queue[DeviceState] = queue.Queue()
    config = CustomerDisplayConfig(enabled=True, port=port)
    with PoleDisplay(config, heard.put, reopen_s=60):  # type: ignore[arg-type]
        return heard.get(timeout=5)


def pole_open() -> DeviceState:
    with pseudo_terminal() as port:
        return pole_state(port)


def pole_locked() -> DeviceState:
    import serial

    with pseudo_terminal() as port, serial.Serial(port, exclusive=True):
        return pole_state(port)


def sync_word(name: Device | str, state: StateWord | str) -> tuple[Device, StateWord]:
    """What the sync thread's listener hears when ``state`` is set for ``name``."""
    heard: list[tuple[Device, StateWord]] = []
    SyncStates(lambda device, word, detail: heard.append((device, word))).set(name, state)
    return heard[0]


def hid(device: type[Scanner | Keypad], error: Exception) -> DeviceState:
    return DeviceState(device.device, state_word(error))


# (condition, the typed event built for it, the wire device, the wire word)
ROWS: list[tuple[str, Callable[[Path], DeviceState], str, str]] = [
    ("scanner: no device", lambda _: hid(Scanner, DeviceMissing("gone")), "scanner", "missing"),
    ("scanner: several fit", lambda _: hid(Scanner, DeviceAmbiguous("2")), "scanner", "ambiguous"),
    ("scanner: keypad's node", lambda _: hid(Scanner, DeviceConflict("x")), "scanner", "conflict"),
    ("scanner: grabbed elsewhere", lambda _: hid(Scanner, DeviceError("busy")), "scanner", "error"),
    ("keypad: no device", lambda _: hid(Keypad, DeviceMissing("gone")), "keypad", "missing"),
    ("keypad: unreadable", lambda _: hid(Keypad, OSError("EIO")), "keypad", "error"),
    (
        "scale: answers",
        lambda _: DeviceState(SCALE_DEVICE, health(ScaleReading.stable(5))),
        "scale",
        "ok",
    ),
    (
        "scale: unusable answer",
        lambda _: DeviceState(SCALE_DEVICE, health(ScaleReading(ScaleStatus.ERROR))),
        "scale",
        "ok",
    ),
    (
        "scale: no answer",
        lambda _: DeviceState(SCALE_DEVICE, health(ScaleReading(ScaleStatus.SILENT))),
        "scale",
        "silent",
    ),
    (
        "printer: all well",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x12, 0x12, 0x12).state),
        "printer",
        "ok",
    ),
    (
        "printer: paper near end",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x12, 0x12, 0x1E).state),
        "printer",
        "paper_near_end",
    ),
    (
        "printer: paper end",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x12, 0x12, 0x72).state),
        "printer",
        "paper_out",
    ),
    (
        "printer: cover open",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x1A, 0x16, 0x12).state),
        "printer",
        "cover_open",
    ),
    (
        "printer: cutter error",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x1A, 0x52, 0x12, 0x1A).state),
        "printer",
        "error",
    ),
    (
        "printer: off-line",
        lambda _: DeviceState(Device.PRINTER, parse_status(0x1A, 0x12, 0x12).state),
        "printer",
        "offline",
    ),
    (
        "printer: port gone",
        lambda tmp: DeviceState(Device.PRINTER, printer_fault_state(tmp)),
        "printer",
        "missing",
    ),
    (
        "drawer: switch open",
        lambda _: DeviceState(Device.DRAWER, switch_state(True)),
        "drawer",
        "open",
    ),
    (
        "drawer: switch shut",
        lambda _: DeviceState(Device.DRAWER, switch_state(False)),
        "drawer",
        "closed",
    ),
    (
        "drawer: two kicks, still shut",
        lambda _: DeviceState(Device.DRAWER, outcome_state(KickOutcome.JAMMED) or StateWord.OK),
        "drawer",
        "jammed",
    ),
    (
        "drawer: retry pulse failed",
        lambda _: DeviceState(Device.DRAWER, outcome_state(KickOutcome.FAILED) or StateWord.OK),
        "drawer",
        "error",
    ),
    ("customer display: port opens", lambda _: pole_open(), "customer_display", "ok"),
    (
        "customer display: port gone",
        lambda tmp: pole_state(str(tmp / "lane-pole")),
        "customer_display",
        "missing",
    ),
    ("customer display: port locked", lambda _: pole_locked(), "customer_display", "error"),
    ("broker: connected", lambda _: DeviceState(*sync_word(BROKER, ONLINE)), "broker", "online"),
    ("broker: gone", lambda _: DeviceState(*sync_word(BROKER, OFFLINE)), "broker", "offline"),
    (
        "broker: login refused",
        lambda _: DeviceState(*sync_word(BROKER, REFUSED)),
        "broker",
        "refused",
    ),
    (
        "broker: ACL deny",
        lambda _: DeviceState(*sync_word(BROKER, NOT_AUTHORIZED)),
        "broker",
        "not_authorized",
    ),
    (
        "outbox: acked in time",
        lambda _: DeviceState(*sync_word(OUTBOX, housekeeping.OUTBOX_OK)),
        "outbox",
        "ok",
    ),
    (
        "outbox: old backlog",
        lambda _: DeviceState(*sync_word(OUTBOX, housekeeping.OUTBOX_BACKLOG)),
        "outbox",
        "backlog",
    ),
    (
        "outbox: acks too far",
        lambda _: DeviceState(*sync_word(OUTBOX, housekeeping.OUTBOX_ACK_AHEAD)),
        "outbox",
        "ack_ahead",
    ),
]


@pytest.mark.parametrize(("condition", "build", "device", "word"), ROWS, ids=[r[0] for r in ROWS])
def test_each_condition_gives_a_typed_state_and_the_same_wire_word(
    tmp_path: Path, condition: str, build: Callable[[Path], DeviceState], device: str, word: str
) -> None:
    event = build(tmp_path)
    assert type(event.device) is Device and type(event.state) is StateWord
    assert event.device is Device(device) and event.state is StateWord(word)
    till = Till().send(event)
    status = wire(till.state.devices)
    assert json.dumps(status) == json.dumps({device: word})  # byte for byte
    assert type(next(iter(status))) is str and type(status[device]) is str


def test_a_drawer_that_opened_says_nothing_but_its_switch() -> None:
    for outcome in (KickOutcome.OPENED, KickOutcome.OPENED_ON_RETRY, KickOutcome.ABANDONED):
        assert outcome_state(outcome) is None


def test_every_word_a_device_can_report_is_covered_by_the_table() -> None:
    covered = {(device, word) for _, _, device, word in ROWS}
    # Not from a driver condition: the clock's words and a drawer whose driver could not
    # be set up come from the composition root; the scale's missing port from its thread.
    elsewhere = {(Device.CLOCK.value, w.value) for w in DEVICE_WORDS[Device.CLOCK]}
    elsewhere |= {("drawer", "missing"), ("scale", "missing"), ("scanner", "ok"), ("keypad", "ok")}
    elsewhere |= {("keypad", "ambiguous"), ("keypad", "conflict")}
    # The screen's words come from the web server thread (tests/ui).
    elsewhere |= {("screen", "ok"), ("screen", "error")}
    everything = {(d.value, w.value) for d, words in DEVICE_WORDS.items() for w in words}
    assert covered | elsewhere == everything


def test_the_clock_words_are_state_words() -> None:
    words = {lane_clock.CLOCK_OK, lane_clock.CLOCK_UNSYNCED, lane_clock.CLOCK_JUMPED}
    assert {StateWord(w) for w in words} == DEVICE_WORDS[Device.CLOCK]


# --- the status message, byte for byte -------------------------------------------------------

ALL_WELL = [
    DeviceState(Device.SCANNER, StateWord.OK),
    DeviceState(Device.KEYPAD, StateWord.OK),
    DeviceState(Device.SCALE, StateWord.OK),
    DeviceState(Device.PRINTER, StateWord.PAPER_NEAR_END),
    DeviceState(Device.DRAWER, StateWord.CLOSED),
    DeviceState(Device.BROKER, StateWord.ONLINE),
    DeviceState(Device.OUTBOX, StateWord.OK),
]


def test_the_status_devices_are_the_same_bytes_as_ever() -> None:
    till = Till()
    for event in ALL_WELL:
        till.send(event)
    # As the composition root and the sync thread build it: the lane's words (sorted by
    # name), the clock's, then the sync thread's own (the will sets the broker offline).
    sync = SyncStates()
    sync.set(BROKER, ONLINE)
    sync.set(OUTBOX, housekeeping.OUTBOX_OK)
    devices = {**wire(till.state.devices), "clock": lane_clock.CLOCK_OK, **sync.words()}
    will = {**devices, BROKER: OFFLINE}
    at = datetime(2026, 11, 28, 14, 1, 2, 400000, tzinfo=CST)
    stats = OutboxStats(pending=0, oldest_at=None, next_seq=1, acked_upto=0)
    online = status_message(
        "online", at=at, version="0.1.0", catalog_version=1, outbox=stats, devices=devices
    )
    offline = status_message(
        "offline", at=at, version="0.1.0", catalog_version=1, outbox=stats, devices=will
    )
    expected = (
        '{"broker": "%s", "drawer": "closed", "keypad": "ok", "outbox": "ok", '
        '"printer": "paper_near_end", "scale": "ok", "scanner": "ok", "clock": "ok"}'
    )
    assert json.dumps(online["devices"], ensure_ascii=False) == expected % "online"
    assert json.dumps(offline["devices"], ensure_ascii=False) == expected % "offline"
    assert all(type(k) is str and type(v) is str for k, v in offline["devices"].items())


# --- the cashier's words ---------------------------------------------------------------------

PROBLEMS = [(d, w) for d, words in DEVICE_WORDS.items() for w in sorted(words) if w not in FINE]


@pytest.mark.parametrize(("device", "word"), PROBLEMS, ids=[f"{d}-{w}" for d, w in PROBLEMS])
def test_the_cashier_reads_the_same_words(device: Device, word: StateWord) -> None:
    till = Till().do("signon")
    till.send(DeviceState(device, word))
    shown = till.state.message
    if (device, word) == (Device.BROKER, StateWord.OFFLINE):
        assert shown is not None and shown.id is Msg.SIGNED_ON  # the status line only
        return
    assert shown is not None
    assert dict(shown.args) == {"device": device.value, "state": word.value}
    text = word.value.replace("_", " ")
    ending = ", call a technician" if device in (Device.BROKER, Device.OUTBOX) else ""
    name = device.value.replace("_", " ")
    assert shown.render("en") == f"{name}: {text}{ending}"


@pytest.mark.parametrize(
    ("result", "en", "zh"),
    [
        (
            ScaleCommandResult.obeyed(ScaleCommand.ZERO, ScaleDone.ZEROED),
            "Scale: zeroed",
            "秤：已归零",
        ),
        (
            ScaleCommandResult.obeyed(ScaleCommand.TARE, ScaleDone.TARED),
            "Scale: tared",
            "秤：已去皮",
        ),
        (
            ScaleCommandResult.obeyed(ScaleCommand.TARE, ScaleDone.TARE_CLEARED),
            "Scale: tare cleared",
            "秤：皮重已清除",
        ),
        (
            ScaleCommandResult.refused(ScaleCommand.ZERO, ScaleRefusal.OUT_OF_RANGE),
            "Scale refused zero: outside zero range",
            "秤拒绝归零：超出归零范围",
        ),
        (
            ScaleCommandResult.refused(ScaleCommand.CLEAR_TARE, ScaleRefusal.TARE_KEPT),
            "Scale refused clear tare: tare kept",
            "秤拒绝清除皮重：皮重保留",
        ),
        (
            ScaleCommandResult.refused(ScaleCommand.TARE, ScaleRefusal.UNKNOWN),
            "Scale refused tare: unknown to the scale",
            "秤拒绝去皮：秤不支持",
        ),
    ],
)
def test_the_scales_answer_reads_as_before(result: ScaleCommandResult, en: str, zh: str) -> None:
    till = Till().do("signon")
    till.send(result)
    shown = till.state.message
    assert shown is not None
    assert (shown.render("en"), shown.render("zh")) == (en, zh)
    assert till.state.devices == ()  # a command's answer is no news of the scale's health


def test_every_refusal_reason_has_chinese_wording() -> None:
    for reason in ScaleRefusal:
        message = Message.of(Msg.SCALE_REFUSED, command="zero", reason=reason.value)
        assert "秤拒绝归零：" in message.render("zh") and reason.value not in message.render("zh")


# --- parsed at the edge ----------------------------------------------------------------------


def test_a_device_state_from_raw_strings_is_refused() -> None:
    with pytest.raises(TypeError, match="typed"):
        DeviceState("printer", StateWord.OK)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="typed"):
        DeviceState(Device.PRINTER, "ok")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the scale has no state 'jammed'"):
        DeviceState(Device.SCALE, StateWord.JAMMED)


def test_a_scale_result_is_done_or_refused() -> None:
    with pytest.raises(ValueError):
        ScaleCommandResult(ScaleCommand.ZERO)
    with pytest.raises(ValueError):
        ScaleCommandResult(ScaleCommand.ZERO, ScaleDone.ZEROED, ScaleRefusal.MOVING)
    assert ScaleCommandResult.refused(ScaleCommand.ZERO, ScaleRefusal.MOVING).text == (
        "zero refused: moving"
    )


@given(st.text(max_size=20), st.text(max_size=20))
def test_the_sync_thread_parses_its_words_or_refuses_them(name: str, word: str) -> None:
    states = SyncStates()
    known = name in ("broker", "outbox") and word in {w.value for w in DEVICE_WORDS[Device(name)]}
    if not known:
        with pytest.raises(ValueError):
            states.set(name, word)
        assert states.words() == {}
        return
    assert states.set(name, word)
    assert states.get(Device(name)) is StateWord(word)
    assert states.words() == {name: word}


def test_every_word_the_cashier_can_be_shown_has_chinese_wording() -> None:
    from firmware_app.lane.messages import TERMS

    shown = {d for d in Device if d is not Device.CLOCK}  # the clock is in the status only
    missing = sorted(d.value for d in shown if d.value not in TERMS["zh"])
    missing += sorted(
        f"{d.value}: {w.value}"
        for d in shown
        for w in DEVICE_WORDS[d] - FINE
        if w.value not in TERMS["zh"]
    )
    assert not missing
