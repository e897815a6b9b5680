"""Keyboard layouts: the tables, and text typed by the simulator through a real pipe
decoding back to the very same text in every layout."""

from __future__ import annotations

import itertools
import string

import pytest
from evdev import ecodes as e
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_app.drivers.errors import DeviceMissing
from firmware_app.drivers.hid import FdKeySource, KeyEvent
from firmware_app.drivers.keymaps import GS, LAYOUT_NAMES, Keystroke, Level, layout
from firmware_app.drivers.scanner import WedgeDecoder
from hw_sim.hid import SimulatedHidDevice

PRINTABLE = string.digits + string.ascii_letters + string.punctuation + " "
P, S, A = Level.PLAIN, Level.SHIFT, Level.ALTGR

STROKES = [
    # US
    ("us", "7", Keystroke(e.KEY_7)),
    ("us", "q", Keystroke(e.KEY_Q)),
    ("us", "Q", Keystroke(e.KEY_Q, S)),
    ("us", "!", Keystroke(e.KEY_1, S)),
    ("us", "]", Keystroke(e.KEY_RIGHTBRACE)),
    ("us", '"', Keystroke(e.KEY_APOSTROPHE, S)),
    ("us", "~", Keystroke(e.KEY_GRAVE, S)),
    ("us", ".", Keystroke(e.KEY_DOT)),  # the main block, not the keypad
    ("us", GS, Keystroke(e.KEY_RIGHTBRACE, ctrl=True)),
    # German QWERTZ: Y/Z swapped, digits unshifted, symbols moved, AltGr, dead keys
    ("de", "7", Keystroke(e.KEY_7)),
    ("de", "z", Keystroke(e.KEY_Y)),
    ("de", "Y", Keystroke(e.KEY_Z, S)),
    ("de", "/", Keystroke(e.KEY_7, S)),
    ("de", "-", Keystroke(e.KEY_SLASH)),
    ("de", "@", Keystroke(e.KEY_Q, A)),
    ("de", "]", Keystroke(e.KEY_9, A)),
    ("de", "^", Keystroke(e.KEY_GRAVE, P, dead=True)),
    ("de", GS, Keystroke(e.KEY_RIGHTBRACE, ctrl=True)),
    # French AZERTY: the digits need Shift
    ("fr", "1", Keystroke(e.KEY_1, S)),
    ("fr", "0", Keystroke(e.KEY_0, S)),
    ("fr", "&", Keystroke(e.KEY_1)),
    ("fr", "a", Keystroke(e.KEY_Q)),
    ("fr", "q", Keystroke(e.KEY_A)),
    ("fr", "w", Keystroke(e.KEY_Z)),
    ("fr", "m", Keystroke(e.KEY_SEMICOLON)),
    ("fr", ",", Keystroke(e.KEY_M)),
    ("fr", "^", Keystroke(e.KEY_9, A)),  # a live ^ beats the dead one
    ("fr", "~", Keystroke(e.KEY_GRAVE, S)),
]


@pytest.mark.parametrize(("name", "ch", "stroke"), STROKES)
def test_strokes(name: str, ch: str, stroke: Keystroke) -> None:
    assert layout(name).stroke(ch) == stroke


@pytest.mark.parametrize(
    ("name", "code", "level", "ch"),
    [
        ("us", e.KEY_2, S, "@"),
        ("us", e.KEY_KP5, P, "5"),
        ("de", e.KEY_MINUS, P, "ß"),
        ("de", e.KEY_MINUS, A, "\\"),
        ("de", e.KEY_KPDOT, P, ","),
        ("fr", e.KEY_2, P, "é"),
        ("fr", e.KEY_2, S, "2"),
        ("fr", e.KEY_KP2, P, "2"),
        ("us", e.KEY_F1, P, None),
        ("us", e.KEY_A, A, None),
    ],
)
def test_chars(name: str, code: int, level: Level, ch: str | None) -> None:
    assert layout(name).char(code, level) == ch


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_printable_ascii_character_and_gs_can_be_typed(name: str) -> None:
    keys = layout(name)
    for ch in PRINTABLE + GS:
        stroke = keys.stroke(ch)
        if not stroke.ctrl:
            assert keys.char(stroke.code, stroke.level) == ch
            assert keys.is_dead(stroke.code, stroke.level) == stroke.dead


def test_ctrl_right_brace_is_gs_in_every_layout() -> None:
    for name in LAYOUT_NAMES:
        assert layout(name).char(e.KEY_RIGHTBRACE, P, ctrl=True) == GS


def test_untypeable_and_unknown() -> None:
    with pytest.raises(ValueError, match="cannot type 'é'"):
        layout("us").stroke("é")
    with pytest.raises(ValueError, match="'dvorak'"):
        layout("dvorak")


# --- round trip through the pipe ------------------------------------------------------


def read_all(source: FdKeySource) -> list[KeyEvent]:
    """Everything on the pipe up to the unplug."""
    events: list[KeyEvent] = []
    with pytest.raises(DeviceMissing):
        while True:
            events += source.read()
    return events


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(LAYOUT_NAMES),
    st.text(alphabet=st.sampled_from(PRINTABLE + GS), min_size=1, max_size=60),
)
def test_typed_text_decodes_back_identically(name: str, text: str) -> None:
    with SimulatedHidDevice(f"sim-{name}") as sim:
        source = sim.source()
        sim.type_text(text, name)
        sim.unplug()
        records = read_all(source)
        source.close()
    decoder = WedgeDecoder(name, timeout_ms=80, max_length=128)
    codes = [code for ev in records if (code := decoder.feed(*ev)) is not None]
    assert codes == [text]


def test_simulator_writes_syn_after_every_key_event() -> None:
    with SimulatedHidDevice("sim") as sim:
        source = sim.source()
        sim.type_text("A")  # Shift down, A down, A up, Shift up, Enter down, Enter up
        sim.unplug()
        records = read_all(source)
        source.close()
    assert sim.events_written == len(records) == 12
    assert [ev.type for ev in records] == [e.EV_KEY, e.EV_SYN] * 6
    keys = [(ev.code, ev.value) for ev in records if ev.type == e.EV_KEY]
    assert keys == [
        (e.KEY_LEFTSHIFT, 1),
        (e.KEY_A, 1),
        (e.KEY_A, 0),
        (e.KEY_LEFTSHIFT, 0),
        (e.KEY_ENTER, 1),
        (e.KEY_ENTER, 0),
    ]
    times = [ev.t for ev in records if ev.type == e.EV_KEY]
    assert all(0.001 < b - a < 0.010 for a, b in itertools.pairwise(times))


def test_text_the_layout_cannot_type_sends_nothing() -> None:
    with SimulatedHidDevice("sim") as sim:
        with pytest.raises(ValueError, match="é"):
            sim.type_text("café")
        assert sim.events_written == 0


# --- the default keypad map: a key for every key name --------------------------------------


def _key_names_the_lane_knows() -> list[str]:
    """The names config and touch accept, and every name the core's key handlers take."""
    from firmware_app.config import KEY_NAMES
    from firmware_app.lane.machine import DIGIT_KEYS, READY_KEYS

    answers = {"DOT", "CLEAR", "ENTER", "SIGNON", "YES", "NO"}  # taken outside READY_KEYS
    return sorted(set(KEY_NAMES) | set(READY_KEYS) | set(DIGIT_KEYS) | answers)


@pytest.mark.parametrize("name", _key_names_the_lane_knows())
def test_every_key_name_has_a_key_on_the_default_keypad_map(name: str) -> None:
    from firmware_app.config import DEFAULT_KEYMAP

    keys = sorted(k for k, v in DEFAULT_KEYMAP.items() if v == name)
    assert keys, f"{name} has no key on the default keypad map"
    assert all(k in e.ecodes for k in keys)


def test_the_function_keys_are_the_ones_the_simulated_keypad_presses() -> None:
    from firmware_app.config import DEFAULT_KEYMAP
    from hw_sim.lane_sim import SIM_KEYS

    assert {k: DEFAULT_KEYMAP.get(k) for k in SIM_KEYS} == SIM_KEYS
    assert (DEFAULT_KEYMAP["KEY_NUMLOCK"], DEFAULT_KEYMAP["KEY_S"]) == ("CASH", "SIGNON")
