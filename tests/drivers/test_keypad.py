"""The keypad decoder as a table, the Keypad over a real pipe from hw_sim, and the
keypad beside the scanner: each reads only its own device."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest
from evdev import ecodes as e
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import DEFAULT_KEYMAP, KeypadConfig, ScannerConfig
from firmware_app.drivers.discovery import InputDiscovery
from firmware_app.drivers.keypad import Keypad, KeypadDecoder
from firmware_app.drivers.scanner import Scanner
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event, KeyPressed, Scanned
from hw_sim.hid import SimulatedHidDevice, SimulatedInputBus

T0 = 1_700_000_000.0
WAIT_S = 2.0


@pytest.mark.parametrize(
    ("type_", "code", "value", "expected"),
    [
        (e.EV_KEY, e.KEY_KP7, 1, "7"),
        (e.EV_KEY, e.KEY_7, 1, "7"),
        (e.EV_KEY, e.KEY_KPSLASH, 1, "PLU"),
        (e.EV_KEY, e.KEY_NUMLOCK, 1, "CASH"),
        (e.EV_KEY, e.KEY_TAB, 1, "00"),
        (e.EV_KEY, e.KEY_KPENTER, 1, "ENTER"),
        (e.EV_KEY, e.KEY_KP7, 0, None),  # key-up
        (e.EV_KEY, e.KEY_KP7, 2, None),  # autorepeat: holding a key types it once
        (e.EV_KEY, e.KEY_F12, 1, None),  # not in the map
        (e.EV_SYN, e.SYN_REPORT, 0, None),
        (e.EV_MSC, e.MSC_SCAN, 0x70059, None),
    ],
)
def test_decoder_table(type_: int, code: int, value: int, expected: str | None) -> None:
    assert KeypadDecoder(DEFAULT_KEYMAP).feed(type_, code, value, T0) == expected


def test_custom_map() -> None:
    decoder = KeypadDecoder({"KEY_F1": "CARD", "BTN_0": "CLEAR"})
    assert decoder.feed(e.EV_KEY, e.KEY_F1, 1, T0) == "CARD"
    assert decoder.feed(e.EV_KEY, e.BTN_0, 1, T0) == "CLEAR"
    assert decoder.feed(e.EV_KEY, e.KEY_KP7, 1, T0) is None


@pytest.mark.parametrize("name", ["KEY_NOPE", "EV_KEY", "SYN_REPORT", "kp7"])
def test_unknown_evdev_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=repr(name)):
        KeypadDecoder({"KEY_KP1": "1", name: "PLU"})


def test_keypad_with_a_bad_map_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="KEY_PLU"):
        Keypad(KeypadConfig(keymap={"KEY_PLU": "PLU"}))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([e.EV_KEY, e.EV_SYN, e.EV_MSC, e.EV_LED]),
            st.integers(0, 0x2FF),
            st.integers(-(2**31), 2**31 - 1),
        ),
        max_size=100,
    )
)
def test_decoder_gives_only_mapped_names(stream: list[tuple[int, int, int]]) -> None:
    decoder = KeypadDecoder(DEFAULT_KEYMAP)
    names = set(DEFAULT_KEYMAP.values())
    for type_, code, value in stream:
        out = decoder.feed(type_, code, value, T0)
        assert out is None or (out in names and value == 1 and type_ == e.EV_KEY)


# --- the Keypad over a pipe -----------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[SimulatedHidDevice]:
    with SimulatedHidDevice("sim-keypad") as device:
        yield device


@pytest.fixture
def lane(sim: SimulatedHidDevice) -> Iterator[queue.Queue[Event]]:
    events: queue.Queue[Event] = queue.Queue()
    config = KeypadConfig(path="sim-keypad")
    with Keypad(config, source_factory=lambda path: sim.source(), retry_s=0.05) as keypad:
        keypad.start(events.put)
        assert events.get(timeout=WAIT_S) == DeviceState(Device.KEYPAD, StateWord.OK)
        yield events


def test_pressed_names_arrive_in_order(sim: SimulatedHidDevice, lane: queue.Queue) -> None:
    sim.press_names(["1", "2", "PLU"], DEFAULT_KEYMAP)
    got = [lane.get(timeout=WAIT_S) for _ in range(3)]
    assert got == [KeyPressed("1"), KeyPressed("2"), KeyPressed("PLU")]


def test_press_uses_the_first_key_of_the_map(sim: SimulatedHidDevice, lane: queue.Queue) -> None:
    sim.press_names(["7", "DOT", "CASH"], {"KEY_F12": "7", "KEY_KP7": "7", **DEFAULT_KEYMAP})
    got = [lane.get(timeout=WAIT_S) for _ in range(2)]
    # KEY_F12 is not in the lane's map: only DOT and CASH reach the lane
    assert got == [KeyPressed("DOT"), KeyPressed("CASH")]


def test_raw_press(sim: SimulatedHidDevice, lane: queue.Queue) -> None:
    sim.press(e.KEY_ESC)
    assert lane.get(timeout=WAIT_S) == KeyPressed("CLEAR")
    assert sim.events_written == 4  # down, SYN, up, SYN


def test_unknown_lane_key_name_presses_nothing(sim: SimulatedHidDevice) -> None:
    with pytest.raises(ValueError, match="'BOGUS'"):
        sim.press_names(["1", "BOGUS"], DEFAULT_KEYMAP)
    assert sim.events_written == 0


def test_keypad_unplug_and_plug(sim: SimulatedHidDevice, lane: queue.Queue) -> None:
    sim.unplug()
    missing = lane.get(timeout=WAIT_S)
    assert (missing.device, missing.state) == ("keypad", "missing")
    assert "sim-keypad" in missing.detail
    sim.plug()
    assert lane.get(timeout=WAIT_S) == DeviceState(Device.KEYPAD, StateWord.OK)
    sim.press_names(["SUBTOTAL"], DEFAULT_KEYMAP)
    assert lane.get(timeout=WAIT_S) == KeyPressed("SUBTOTAL")


# --- the keypad and the scanner side by side --------------------------------------------


def test_scanner_keys_never_reach_the_keypad_and_keypad_keys_never_scan() -> None:
    """Both drivers on one lane queue, found by their matches on one (simulated) bus:
    digits and Enter from the scanner are what the keypad map knows too, yet they give
    only a scan, and the keypad's digits and ENTER give only key presses."""
    bus = SimulatedInputBus()
    with SimulatedHidDevice("Honeywell 1900") as gun, SimulatedHidDevice("POS Keypad") as pad:
        bus.attach(gun, vendor=0x0C2E, product=0x0B61)
        bus.attach(pad, vendor=0x04D9, product=0x1203)
        discovery = InputDiscovery(lister=bus.nodes)
        scanner = Scanner(
            ScannerConfig(match="name:Honeywell*"),
            source_factory=bus.open,
            retry_s=0.05,
            discovery=discovery,
        )
        keypad = Keypad(
            KeypadConfig(match="usb:04d9:1203"),
            source_factory=bus.open,
            retry_s=0.05,
            discovery=discovery,
        )
        events: queue.Queue[Event] = queue.Queue()
        with scanner, keypad:
            scanner.start(events.put)
            keypad.start(events.put)
            states = {events.get(timeout=WAIT_S), events.get(timeout=WAIT_S)}
            assert states == {
                DeviceState(Device.SCANNER, StateWord.OK),
                DeviceState(Device.KEYPAD, StateWord.OK),
            }

            gun.type_text("6954767410388")  # digits and Enter: keypad keys in the map
            assert events.get(timeout=WAIT_S) == Scanned("6954767410388")
            pad.press_names(["1", "2", "ENTER"], DEFAULT_KEYMAP)
            pressed = [events.get(timeout=WAIT_S) for _ in range(3)]
            assert pressed == [KeyPressed("1"), KeyPressed("2"), KeyPressed("ENTER")]
            gun.type_text("96385074")  # had "12" Enter reached the scanner, it would scan
            assert events.get(timeout=WAIT_S) == Scanned("96385074")
            pad.press_names(["CLEAR"], DEFAULT_KEYMAP)
            assert events.get(timeout=WAIT_S) == KeyPressed("CLEAR")
            assert events.empty()
