"""Finding the scanner and the keypad: matches as tables and properties, the
resolver against symlinks in a temporary directory, and the real Scanner and
Keypad over hw_sim's simulated input nodes (re-plugged under a new eventN)."""

from __future__ import annotations

import os
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from evdev import ecodes as e
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import DEFAULT_KEYMAP, KeypadConfig, ScannerConfig
from firmware_app.drivers.discovery import (
    TYPING_KEYS,
    DeviceAmbiguous,
    DeviceConflict,
    InputDiscovery,
    InputNode,
    Selector,
    evdev_nodes,
    parse_match,
    select_node,
)
from firmware_app.drivers.errors import DeviceMissing
from firmware_app.drivers.keypad import Keypad
from firmware_app.drivers.scanner import Scanner
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event, KeyPressed, Scanned
from hw_sim.hid import SimulatedHidDevice, SimulatedInputBus

WAIT_S = 2.0
HONEYWELL = (0x0C2E, 0x0B61)
KEYPAD_IDS = (0x04D9, 0x1203)
KEYS = {e.EV_KEY: frozenset({e.KEY_A, e.KEY_1, e.KEY_ENTER, e.KEY_LEFTSHIFT})}
KEYPAD_KEYS = {e.EV_KEY: frozenset({e.KEY_KP1, e.KEY_KPENTER, e.KEY_NUMLOCK})}
CONSUMER = {e.EV_KEY: frozenset({e.KEY_VOLUMEUP, e.KEY_MUTE})}  # a scanner's second node


def node(n: int, name: str, ids: tuple[int, int] = (0, 0), caps: dict | None = None) -> InputNode:
    return InputNode(f"/dev/input/event{n}", name, *ids, KEYS if caps is None else caps)


# --- matches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "parsed"),
    [
        ("", ("", "")),
        ("name:Honeywell*", ("name", "Honeywell*")),
        ("name:a:b", ("name", "a:b")),
        ("usb:0c2e:0b61", ("usb", "0c2e:0b61")),
        ("usb:0C2E:0B61", ("usb", "0c2e:0b61")),
    ],
)
def test_match_forms(match: str, parsed: tuple[str, str]) -> None:
    assert parse_match(match) == parsed


@pytest.mark.parametrize(
    "match", ["name:", "usb:0c2e", "usb:0c2e:0b6", "usb:0c2e:0b61x", "Honeywell*", "serial:1"]
)
def test_bad_matches_are_refused_by_text(match: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(match))):
        parse_match(match)
    with pytest.raises(ValueError):
        Selector("/dev/x", match)


@given(st.text(max_size=30))
def test_any_match_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        kind, _ = parse_match(text)
    except ValueError:
        return
    assert kind in ("", "name", "usb")
    assert (kind == "") == (text == "")


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_usb_ids_match_their_node(vendor: int, product: int) -> None:
    selector = Selector("", f"usb:{vendor:04X}:{product:04x}")
    assert selector.matches(InputNode("/dev/input/event0", "x", vendor, product))
    assert not selector.matches(InputNode("/dev/input/event0", "x", vendor ^ 1, product))


@given(st.text(alphabet=st.characters(exclude_characters="*?[]"), min_size=1, max_size=20))
def test_a_name_without_wildcards_matches_itself_in_any_case(name: str) -> None:
    assert Selector("", f"name:{name}").matches(InputNode("/dev/input/event0", name.upper()))


# --- choosing one node ------------------------------------------------------------------

SELECT_TABLE = [
    ("one match", "name:Honeywell*", [node(3, "Honeywell 1900"), node(4, "Logitech")], 3),
    ("case ignored", "name:honeywell*", [node(3, "HONEYWELL 1900")], 3),
    (
        "the keys node of a scanner with two",
        "usb:0c2e:0b61",
        [node(5, "Honeywell", HONEYWELL, CONSUMER), node(6, "Honeywell", HONEYWELL)],
        6,
    ),
    ("a keypad's keypad keys", "name:POS*", [node(7, "POS Keypad", caps=KEYPAD_KEYS)], 7),
]


@pytest.mark.parametrize(
    ("match", "nodes", "chosen"), [r[1:] for r in SELECT_TABLE], ids=[r[0] for r in SELECT_TABLE]
)
def test_select_table(match: str, nodes: list[InputNode], chosen: int) -> None:
    assert select_node(Selector("", match), nodes).path == f"/dev/input/event{chosen}"


def test_two_scanners_are_ambiguous_and_both_named() -> None:
    nodes = [node(3, "Honeywell 1900", HONEYWELL), node(9, "Honeywell 1900", HONEYWELL)]
    with pytest.raises(DeviceAmbiguous, match="2 input devices match") as caught:
        select_node(Selector("", "usb:0c2e:0b61"), nodes)
    assert "/dev/input/event3" in str(caught.value)
    assert "/dev/input/event9" in str(caught.value)


def test_no_match_is_missing() -> None:
    with pytest.raises(DeviceMissing, match="name:Zebra\\*: no input device matches"):
        select_node(Selector("", "name:Zebra*"), [node(3, "Honeywell")])


def test_a_match_without_the_keys_is_missing_not_taken() -> None:
    # A scanner being plugged in: its consumer-control node is there, its keys not yet.
    only_consumer = [node(5, "Honeywell", HONEYWELL, CONSUMER)]
    with pytest.raises(DeviceMissing, match="send none of the keys"):
        select_node(Selector("", "usb:0c2e:0b61"), only_consumer)


def test_the_keypad_wants_the_keys_of_its_map() -> None:
    selector = Selector("", "name:*", frozenset({e.KEY_KP1}))
    assert select_node(selector, [node(3, "kbd"), node(4, "pad", caps=KEYPAD_KEYS)]).path == (
        "/dev/input/event4"
    )


nodes_strategy = st.lists(
    st.builds(
        InputNode,
        path=st.integers(0, 30).map(lambda n: f"/dev/input/event{n}"),
        name=st.sampled_from(["Honeywell 1900", "honeywell", "POS Keypad", "Logitech", ""]),
        vendor=st.sampled_from([0, 0x0C2E, 0x04D9]),
        product=st.sampled_from([0, 0x0B61, 0x1203]),
        capabilities=st.sampled_from([{}, KEYS, KEYPAD_KEYS, CONSUMER]),
    ),
    max_size=8,
)


@given(nodes_strategy, st.sampled_from(["name:Honeywell*", "usb:0c2e:0b61", "name:*", "name:POS*"]))
def test_a_chosen_node_is_the_only_one_that_fits(nodes: list[InputNode], match: str) -> None:
    selector = Selector("", match)
    fitting = [n for n in nodes if selector.matches(n) and n.sends_any(TYPING_KEYS)]
    try:
        chosen = select_node(selector, nodes)
    except DeviceAmbiguous:
        assert len(fitting) > 1
    except DeviceMissing:
        assert fitting == []
    else:
        assert fitting == [chosen]  # never a keyboard the config does not name


# --- the resolver -----------------------------------------------------------------------


def refuse_listing() -> list[InputNode]:
    raise AssertionError("no device needs a listing")


def test_paths_are_opened_as_configured_without_listing(tmp_path: Path) -> None:
    discovery = InputDiscovery(lister=refuse_listing)
    discovery.register("scanner", Selector("sim-scanner"))
    discovery.register("keypad", Selector("sim-keypad"))
    assert discovery.locate("scanner").path == "sim-scanner"
    assert discovery.locate("keypad").path == "sim-keypad"


def test_a_by_id_link_resolves_to_its_node(tmp_path: Path) -> None:
    event = tmp_path / "event7"
    event.touch()
    link = tmp_path / "usb-Honeywell_1900-event-kbd"
    link.symlink_to(event)
    discovery = InputDiscovery(lister=refuse_listing)
    discovery.register("scanner", Selector(str(link)))
    found = discovery.locate("scanner")
    assert found.path == str(link)  # opened through the link, which udev keeps current
    assert found.identity == str(event)


def test_a_path_and_a_match_on_one_node_conflict_for_both(tmp_path: Path) -> None:
    event = tmp_path / "event7"
    event.touch()
    link = tmp_path / "usb-Honeywell_1900-event-kbd"
    link.symlink_to(event)
    discovery = InputDiscovery(lister=lambda: [InputNode(str(event), "Honeywell 1900", 1, 2, KEYS)])
    discovery.register("scanner", Selector(str(link)))
    discovery.register("keypad", Selector("", "name:Honeywell*"))
    with pytest.raises(DeviceConflict, match="the keypad is configured on the same input device"):
        discovery.locate("scanner")
    with pytest.raises(DeviceConflict, match="the scanner is configured on the same input device"):
        discovery.locate("keypad")


def test_one_path_for_both_conflicts() -> None:
    discovery = InputDiscovery(lister=refuse_listing)
    discovery.register("scanner", Selector("/dev/lane-hid"))
    discovery.register("keypad", Selector("/dev/lane-hid"))
    with pytest.raises(DeviceConflict, match="/dev/lane-hid"):
        discovery.locate("keypad")


def test_an_ambiguous_neighbour_is_no_conflict() -> None:
    nodes = [node(3, "Honeywell 1900"), node(4, "Honeywell 1900")]
    discovery = InputDiscovery(lister=lambda: nodes)
    discovery.register("scanner", Selector("", "name:Honeywell*"))  # two: ambiguous
    discovery.register("keypad", Selector("/dev/input/event3"))
    assert discovery.locate("keypad").path == "/dev/input/event3"
    with pytest.raises(DeviceAmbiguous):
        discovery.locate("scanner")


def test_one_registration_per_device_name() -> None:
    discovery = InputDiscovery()
    discovery.register("scanner", Selector("a"))
    with pytest.raises(ValueError, match="scanner"):
        discovery.register("scanner", Selector("b"))
    discovery.unregister("scanner")
    discovery.unregister("scanner")
    discovery.register("scanner", Selector("b"))


def test_evdev_lists_nothing_where_there_are_no_input_devices(tmp_path: Path) -> None:
    (tmp_path / "event0").write_bytes(b"")  # a file, not a character device
    assert evdev_nodes(str(tmp_path)) == []


# --- the drivers over simulated nodes -----------------------------------------------------


class Lane:
    """Events from every driver, in arrival order."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def next(self) -> Event:
        return self.events.get(timeout=WAIT_S)

    def state(self, device: str) -> DeviceState:
        """The next event, which must be a state of ``device``."""
        event = self.next()
        assert isinstance(event, DeviceState) and event.device == device, event
        return event


@pytest.fixture
def bus() -> SimulatedInputBus:
    return SimulatedInputBus()


@pytest.fixture
def scanner_sim(bus: SimulatedInputBus) -> Iterator[SimulatedHidDevice]:
    with SimulatedHidDevice("Honeywell 1900") as sim:
        bus.attach(sim, vendor=HONEYWELL[0], product=HONEYWELL[1], keys=())  # consumer node
        bus.attach(sim, vendor=HONEYWELL[0], product=HONEYWELL[1])
        yield sim


def make_scanner(
    bus: SimulatedInputBus, match: str, discovery: InputDiscovery | None = None
) -> tuple[Scanner, list[str]]:
    """A scanner on ``bus``, not started; ``opened`` lists the nodes it opens."""
    opened: list[str] = []

    def open_node(path: str):
        opened.append(path)
        return bus.open(path)

    discovery = discovery or InputDiscovery(lister=bus.nodes)
    scanner = Scanner(
        ScannerConfig(match=match), source_factory=open_node, retry_s=0.05, discovery=discovery
    )
    return scanner, opened


def start_scanner(bus: SimulatedInputBus, match: str) -> tuple[Scanner, Lane, list[str]]:
    scanner, opened = make_scanner(bus, match)
    lane = Lane()
    scanner.start(lane.events.put)
    return scanner, lane, opened


def test_scanner_found_by_usb_ids_reads_its_keys_node(
    bus: SimulatedInputBus, scanner_sim: SimulatedHidDevice
) -> None:
    scanner, lane, opened = start_scanner(bus, "usb:0c2e:0b61")
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        assert opened == ["/dev/input/event4"]  # not event3, the consumer-control node
        scanner_sim.type_text("]E06954767410388")
        assert lane.next() == Scanned("]E06954767410388")


def test_a_scanner_replugged_under_a_new_node_is_found_again(
    bus: SimulatedInputBus, scanner_sim: SimulatedHidDevice
) -> None:
    scanner, lane, opened = start_scanner(bus, "name:Honeywell*")
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        unplugged = time.monotonic()
        new_path = bus.replug(scanner_sim)
        missing = lane.state("scanner")
        assert missing.state == "missing"
        assert time.monotonic() - unplugged < 2.0
        assert "name:Honeywell*" in missing.detail and "/dev/input/event4" in missing.detail
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        assert opened[-1] == "/dev/input/event6" and new_path == "/dev/input/event5"
        scanner_sim.type_text("96385074")
        assert lane.next() == Scanned("96385074")


def test_two_scanners_are_ambiguous_until_one_is_unplugged(
    bus: SimulatedInputBus, scanner_sim: SimulatedHidDevice
) -> None:
    with SimulatedHidDevice("Honeywell 1900") as second:
        bus.attach(second, vendor=HONEYWELL[0], product=HONEYWELL[1])
        scanner, lane, opened = start_scanner(bus, "usb:0c2e:0b61")
        with scanner:
            ambiguous = lane.state("scanner")
            assert ambiguous.state == "ambiguous"
            assert "/dev/input/event4" in ambiguous.detail
            assert "/dev/input/event5" in ambiguous.detail
            assert opened == []  # nothing grabbed while it is not clear which
            second.unplug()
            assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
            assert opened == ["/dev/input/event4"]


def test_scanner_and_keypad_on_one_device_are_both_refused(
    bus: SimulatedInputBus, scanner_sim: SimulatedHidDevice
) -> None:
    # As the lane builds them: both registered with one discovery before either starts.
    discovery = InputDiscovery(lister=bus.nodes)
    scanner, opened = make_scanner(bus, "usb:0c2e:0b61", discovery)
    keypad = Keypad(
        KeypadConfig(match="name:Honeywell*"),
        source_factory=bus.open,
        retry_s=0.05,
        discovery=discovery,
    )
    lane = Lane()
    with scanner, keypad:
        scanner.start(lane.events.put)
        keypad.start(lane.events.put)
        states = {lane.next(), lane.next()}
        assert {(s.device, s.state) for s in states} == {  # type: ignore[union-attr]
            ("scanner", "conflict"),
            ("keypad", "conflict"),
        }
        assert opened == []


def test_a_keypad_found_by_name_presses_keys(bus: SimulatedInputBus) -> None:
    with SimulatedHidDevice("POS Keypad") as sim:
        bus.attach(sim, vendor=KEYPAD_IDS[0], product=KEYPAD_IDS[1])
        lane = Lane()
        keypad = Keypad(
            KeypadConfig(match="usb:04d9:1203"),
            source_factory=bus.open,
            retry_s=0.05,
            discovery=InputDiscovery(lister=bus.nodes),
        )
        with keypad:
            keypad.start(lane.events.put)
            assert lane.next() == DeviceState(Device.KEYPAD, StateWord.OK)
            sim.press_names(["SUBTOTAL"], DEFAULT_KEYMAP)
            assert lane.next() == KeyPressed("SUBTOTAL")
            bus.replug(sim)
            assert lane.state("keypad").state == "missing"
            assert lane.next() == DeviceState(Device.KEYPAD, StateWord.OK)
            sim.press_names(["CASH"], DEFAULT_KEYMAP)
            assert lane.next() == KeyPressed("CASH")


def test_a_bad_match_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="usb:12"):
        Scanner(ScannerConfig(match="usb:12"))


def test_the_bus_refuses_a_node_that_is_gone(
    bus: SimulatedInputBus, scanner_sim: SimulatedHidDevice
) -> None:
    path = bus.path_of(scanner_sim)
    scanner_sim.unplug()
    assert bus.nodes() == []
    with pytest.raises(DeviceMissing, match=path):
        bus.open(path)
    with pytest.raises(DeviceMissing):
        bus.open("/dev/input/event99")
    assert os.path.basename(path) == "event3"
