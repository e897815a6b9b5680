"""Fuzzing key events: the scanner's wedge decoder in every keyboard layout it supports,
the kernel's input_event records as the HID reader gets them, and the POS keypad (its
keymap, and the lane core's answer to any key name).

What a scanner types in its layout comes back exactly; a partial, over-long or broken
code never leaks into the next one (the decoder's partial code is empty again after
Enter or a gap); the keypad turns key-downs of mapped keys into lane keys and nothing
else into anything; a key the lane does not know changes nothing but the message.
"""

from __future__ import annotations

import os
import queue
from dataclasses import replace

import pytest
from evdev import ecodes as e
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import DEFAULT_KEYMAP, KEY_NAMES, ScannerConfig
from firmware_app.drivers import keymaps
from firmware_app.drivers.errors import DeviceMissing
from firmware_app.drivers.hid import INPUT_EVENT, FdKeySource, KeyEvent, decode_input_events
from firmware_app.drivers.keymaps import GS
from firmware_app.drivers.keypad import KeypadDecoder
from firmware_app.drivers.scanner import MODIFIER_KEYS, Scanner, WedgeDecoder
from firmware_app.lane.devices import StateWord
from firmware_app.lane.events import DeviceState, Event, KeyPressed, Scanned
from firmware_app.lane.state import Mode
from hw_sim.hid import SimulatedHidDevice
from tests.fuzz.devices_budget import budget
from tests.unit.till import Till

LAYOUTS = keymaps.LAYOUT_NAMES
TIMEOUT_MS = 80
MAX_LENGTH = 48
T0 = 1_764_000_000.0  # kernel timestamps are seconds since the epoch


def typeable(layout: str, *, without: str = "") -> list[str]:
    """Every character a scanner set up for ``layout`` can type."""
    return sorted(set(keymaps.layout(layout).strokes) - set(without))


def events_typed(text: str, layout: str, start: float) -> list[KeyEvent]:
    """What the kernel delivers when a scanner types ``text`` and Enter: hw_sim's device
    writes the records into a pipe, ``FdKeySource`` reads them as the driver does."""
    with SimulatedHidDevice("fuzz-scanner", clock=lambda: start) as sim:
        source = sim.source()
        try:
            sim.type_text(text, layout)
            events: list[KeyEvent] = []
            while batch := source.read():
                events += batch
        finally:
            source.close()
    return events


def decoded(decoder: WedgeDecoder, events: list[KeyEvent] | list[tuple]) -> list[str]:
    return [code for ev in events if (code := decoder.feed(*ev)) is not None]


# --- the scanner: what it types comes back exactly --------------------------------------------


@st.composite
def typed_codes(draw: st.DrawFn) -> tuple[str, str, str]:
    """A layout, a GS substitute ("" for none) and a code to type."""
    layout = draw(st.sampled_from(LAYOUTS))
    substitute = draw(st.sampled_from(["", "|", "~", "#"]))
    alphabet = typeable(layout, without=substitute)
    text = draw(st.text(alphabet=alphabet, min_size=1, max_size=MAX_LENGTH))
    return layout, substitute, text


@budget(150)
@given(typed_codes())
def test_what_a_scanner_types_comes_back_exactly(case: tuple[str, str, str]) -> None:
    layout, substitute, text = case
    decoder = WedgeDecoder(
        layout, timeout_ms=TIMEOUT_MS, max_length=MAX_LENGTH, gs_substitute=substitute
    )
    sent = text.replace(GS, substitute) if substitute else text
    assert decoded(decoder, events_typed(sent, layout, T0)) == [text]


# --- the scanner: a broken code never leaks into the next -------------------------------------

TAP_KEYS = [e.KEY_A, e.KEY_1, e.KEY_GRAVE, e.KEY_RIGHTBRACE, e.KEY_LEFTBRACE, e.KEY_EQUAL]
TAP_KEYS += [e.KEY_KP0, e.KEY_KP2, e.KEY_KP9, e.KEY_BACKSLASH, e.KEY_ENTER, e.KEY_KPENTER]
TAP_KEYS += sorted(MODIFIER_KEYS)


STEPS = [0.0, 0.002, 0.05, 0.3, -5.0]  # seconds between events; a clock may be set back
RAW_TYPES = [e.EV_KEY, e.EV_KEY, e.EV_KEY, e.EV_SYN, e.EV_MSC, 0x1F]
RAW_CODES = [*TAP_KEYS, e.SYN_REPORT, e.SYN_DROPPED]
garbage = st.lists(
    st.tuples(
        st.sampled_from(STEPS),
        st.sampled_from(RAW_TYPES),
        st.one_of(st.sampled_from(RAW_CODES), st.integers(0, 0x2FF)),
        st.one_of(st.sampled_from([0, 1, 1, 2]), st.integers(-(2**31), 2**31 - 1)),
    ),
    max_size=60,
).map(lambda raw: _timed(raw))


def _timed(raw: list[tuple[float, int, int, int]]) -> list[tuple[int, int, int, float]]:
    """Raw events as a faulty or half-read device sends them, stamped from ``T0`` on."""
    t, events = T0, []
    for step, type_, code, value in raw:
        t += step
        events.append((type_, code, value, t))
    return events


def partial(decoder: WedgeDecoder) -> tuple[object, ...]:
    """The decoder's code in progress: characters, a dead key, Alt digits, overflow."""
    return (
        decoder._buffer,
        decoder._length,
        decoder._dead,
        decoder._alt_digits,
        decoder._overflow,
        decoder._held,
    )


def settled(events: list[tuple[int, int, int, float]], ending: str) -> list[tuple]:
    """After the garbage: the batch's SYN_REPORT, every modifier let go, then Enter or a
    pause longer than the decoder's timeout."""
    t = max((ev[3] for ev in events), default=T0)
    tail: list[tuple] = [(e.EV_SYN, e.SYN_REPORT, 0, t)]
    tail += [(e.EV_KEY, key, 0, t) for key in sorted(MODIFIER_KEYS)]
    if ending == "enter":
        tail += [(e.EV_KEY, e.KEY_ENTER, 1, t), (e.EV_KEY, e.KEY_ENTER, 0, t)]
    return tail


@budget(150)
@given(typed_codes(), garbage, st.sampled_from(["enter", "pause"]))
def test_whatever_came_before_the_next_code_decodes_exactly(
    case: tuple[str, str, str], noise: list[tuple[int, int, int, float]], ending: str
) -> None:
    layout, substitute, text = case
    decoder = WedgeDecoder(
        layout, timeout_ms=TIMEOUT_MS, max_length=MAX_LENGTH, gs_substitute=substitute
    )
    before = noise + settled(noise, ending)
    for code in decoded(decoder, before):
        assert 0 < len(code) <= MAX_LENGTH
    if ending == "enter":  # Enter leaves no partial code, whatever came before it
        assert partial(decoder) == partial(WedgeDecoder(layout, timeout_ms=1, max_length=1))
    last = max(ev[3] for ev in before)
    start = last + (0.002 if ending == "enter" else TIMEOUT_MS / 1000 + 0.5)
    sent = text.replace(GS, substitute) if substitute else text
    assert decoded(decoder, events_typed(sent, layout, start)) == [text]


@budget(80)
@given(st.sampled_from(LAYOUTS), st.integers(1, 20), st.data())
def test_an_over_long_code_gives_nothing_and_the_next_one_decodes(
    layout: str, max_length: int, data: st.DataObject
) -> None:
    alphabet = typeable(layout)
    long = data.draw(st.text(alphabet=alphabet, min_size=max_length + 1, max_size=max_length + 30))
    good = data.draw(st.text(alphabet=alphabet, min_size=1, max_size=max_length))
    decoder = WedgeDecoder(layout, timeout_ms=TIMEOUT_MS, max_length=max_length)
    assert decoded(decoder, events_typed(long, layout, T0)) == []
    assert decoded(decoder, events_typed(good, layout, T0 + 10)) == [good]


@budget(150)
@given(
    st.sampled_from(LAYOUTS),
    st.lists(
        st.tuples(
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFF),
            st.integers(-(2**31), 2**31 - 1),
            st.floats(-1e12, 1e12),
        ),
        max_size=80,
    ),
)
def test_the_decoder_takes_any_raw_event_at_any_time(layout: str, events: list[tuple]) -> None:
    decoder = WedgeDecoder(layout, timeout_ms=TIMEOUT_MS, max_length=MAX_LENGTH, gs_substitute="|")
    for code in decoded(decoder, events):
        assert 0 < len(code) <= MAX_LENGTH


# --- input_event records through a pipe, as hw_sim feeds the drivers --------------------------


@budget(200)
@given(st.binary(max_size=INPUT_EVENT.size * 12), st.lists(st.integers(1, 60), max_size=10))
def test_records_read_from_a_pipe_are_the_whole_records_sent(
    data: bytes, chunks: list[int]
) -> None:
    read_fd, write_fd = os.pipe()
    source = FdKeySource(read_fd, "fuzz")
    try:
        got: list[KeyEvent] = []
        pos = 0
        for size in [*chunks, len(data)]:
            piece = data[pos : pos + size]
            pos += size
            if piece:
                os.write(write_fd, piece)
                got += source.read()
        events, tail = decode_input_events(data)
        assert got == events
        assert len(tail) < INPUT_EVENT.size
        os.close(write_fd)
        write_fd = -1
        with pytest.raises(DeviceMissing):  # end of file: the device was unplugged
            source.read()
    finally:
        source.close()
        if write_fd >= 0:
            os.close(write_fd)


# --- the keypad --------------------------------------------------------------------------------

KEYPAD = KeypadDecoder(DEFAULT_KEYMAP)
MAPPED = sorted(KEYPAD.keys)


@budget(150)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([e.EV_KEY, e.EV_KEY, e.EV_SYN, e.EV_MSC, e.EV_LED]),
            st.one_of(st.sampled_from(MAPPED), st.integers(0, 0x2FF)),
            st.one_of(st.sampled_from([0, 1, 2]), st.integers(-(2**31), 2**31 - 1)),
        ),
        max_size=60,
    )
)
def test_the_keypad_names_mapped_key_downs_and_nothing_else(events: list[tuple]) -> None:
    for type_, code, value in events:
        name = KEYPAD.feed(type_, code, value, T0)
        if type_ == e.EV_KEY and value == 1 and code in KEYPAD.keys:
            assert name == KEYPAD.keys[code] and name in KEY_NAMES
        else:
            assert name is None


@budget(200)
@given(st.dictionaries(st.text(max_size=20), st.sampled_from(sorted(KEY_NAMES)), max_size=5))
def test_a_keymap_is_taken_or_refused_with_a_value_error(keymap: dict[str, str]) -> None:
    try:
        decoder = KeypadDecoder(keymap)
    except ValueError as error:
        assert "keypad map" in str(error)
        return
    assert sorted(decoder.keys.values()) == sorted(keymap.values())


def _tills() -> list[Till]:
    """The lane in the modes a keypad reaches most, each with something keyed or open."""
    tills = [
        Till(),
        Till().do("key 1 0 0 1 SIGNON"),
        Till().do("signon", "key 7"),
        Till().do("signon", "scan 6954767410388", "key 1 2"),
        Till().do("signon", "scan 6954767410388", "key CANCEL"),
        Till().do("signon", "scan 6954767410388", "key SUBTOTAL 5 CASH"),
        Till().do("signon", "scan 6954767410388", "key CARD"),
    ]
    modes = {till.state.mode for till in tills}
    assert {Mode.SIGNED_OFF, Mode.PIN, Mode.READY, Mode.SUPERVISOR_ID, Mode.TERMINAL} <= modes
    return tills


TILLS = _tills()
key_names = st.one_of(
    st.sampled_from(sorted(KEY_NAMES)), st.text(max_size=12), st.sampled_from(["", " ", "7 "])
)


@budget(150)
@given(st.lists(key_names, min_size=1, max_size=6))
def test_any_key_names_never_break_the_lane(keys: list[str]) -> None:
    for start in TILLS:
        till = Till(state=start.state)
        till.ports = start.ports
        for key in keys:
            till.send(KeyPressed(key))  # raises nothing


@budget(200)
@given(st.text(max_size=12).filter(lambda k: k not in KEY_NAMES))
def test_a_key_the_lane_does_not_know_changes_nothing_but_the_message(key: str) -> None:
    for start in TILLS:
        till = Till(state=start.state)
        till.send(KeyPressed(key))
        assert till.effects == []
        assert replace(till.state, message=start.state.message) == start.state


# --- the real read path: the Scanner's thread on hw_sim's pipe -----------------------------

SENTINEL = "END0FSCAN"  # letters and digits: every layout types them


@budget(25, fuzz=500)
@given(typed_codes(), garbage)
def test_the_scanner_thread_emits_the_code_typed_after_any_garbage(
    case: tuple[str, str, str], noise: list[tuple[int, int, int, float]]
) -> None:
    layout, substitute, text = case
    emitted: queue.Queue[Event] = queue.Queue()
    # Stamped by a clock that stands still: events 2 ms apart, however slow the machine.
    with SimulatedHidDevice("fuzz-scanner", clock=lambda: T0) as sim:
        config = ScannerConfig(
            path="fuzz-scanner", layout=layout, max_length=MAX_LENGTH, gs_substitute=substitute
        )
        with Scanner(config, source_factory=lambda _path: sim.source(), retry_s=0.05) as scanner:
            scanner.start(emitted.put)
            for type_, code, value, _t in noise:  # the device stamps them itself
                sim.send_event(type_, code, value)
            for type_, code, value, _t in settled(noise, "enter"):
                sim.send_event(type_, code, value)
            sim.type_text(text.replace(GS, substitute) if substitute else text, layout)
            sim.type_text(SENTINEL, layout)
            events = []
            while Scanned(SENTINEL) not in events:
                events.append(emitted.get(timeout=10.0))
    assert events[-2:] == [Scanned(text), Scanned(SENTINEL)]
    states = [ev.state for ev in events if isinstance(ev, DeviceState)]
    assert states == [StateWord.OK]  # the reader never failed
