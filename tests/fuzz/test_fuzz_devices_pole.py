"""Fuzzing the customer displays' decoders (hw_sim.pole_decoder): CD5220, ESC/POS display
commands and the 8-digit LED.

What a display makes of its bytes must not depend on how the serial line cut them into
reads; a command the display does not know changes nothing it shows; and after a frame
cut short (a write that timed out), the lane's RESYNC and its next frame show exactly
that frame (firmware_app.drivers.pole_frames, "Command sets").
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from firmware_app.drivers.pole_frames import (
    LED_CHARACTERS,
    RESYNC,
    Lamp,
    cd5220_frame,
    escpos_frame,
    led8_frame,
)
from hw_sim.pole_decoder import (
    CD5220_ARGS,
    ESCPOS_ESC_ARGS,
    ESCPOS_US_ARGS,
    LAMPS,
    MAX_STRING,
    Decoder,
    decoder_for,
)
from tests.fuzz.devices_budget import budget

PROTOCOLS = ("cd5220", "escpos", "led8")
COLUMNS = 20
ESC, US = 0x1B, 0x1F

# Pieces of the three command sets, cut and whole, and plain noise: the fuzz mixes them.
PIECES = [
    b"\x1b",
    b"\x1f",
    b"\x1bQA",
    b"\x1bQB",
    b"\x1bQD",
    b"\r",
    b"\n",
    b"\x0c",
    b"\x18",
    b"\x1b@",
    b"\x1b_\x00",
    b"\x1bl\x05\x02",
    b"\x1bs1",
    b"\x1bs\x04",
    b"\x1bs9",
    b"\x1f\x01",
    b"\x1fC\x00",
    b"\x1f$\x01\x02",
    b"\x1f$\x00\x09",
    b"12345.67",
    b"-0.5",
    b"TOTAL",
    b"A" * 30,
    b"\xb0\xa1",
]
streams = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=40).map(
    b"".join
)
cuts = st.lists(st.integers(1, 24), max_size=12)


def fed(protocol: str, data: bytes, chunks: list[int]) -> Decoder:
    """A fresh decoder fed ``data`` in reads of the ``chunks`` sizes, then the rest."""
    decoder = decoder_for(protocol, COLUMNS)
    pos = 0
    for size in chunks:
        decoder.feed(data[pos : pos + size])
        pos += size
    decoder.feed(data[pos:])
    return decoder


def seen(decoder: Decoder) -> tuple[object, ...]:
    """Everything a test can see of a decoder."""
    return decoder.shown, list(decoder.unknown), decoder.non_ascii, decoder.busy


# --- any bytes, any chunking ---------------------------------------------------------------


# A line longer than MAX_STRING is noise whether or not its CR came in the same read.
@example("cd5220", b"\x1bQA" + b"A" * 70 + b"\r", [70])
@example("led8", b"\x1bQA" + b"1" * (MAX_STRING + 1) + b"\r", [MAX_STRING + 3])
@budget(200)
@given(st.sampled_from(PROTOCOLS), streams, cuts)
def test_a_display_shows_the_same_whatever_the_reads(
    protocol: str, data: bytes, chunks: list[int]
) -> None:
    assert seen(fed(protocol, data, chunks)) == seen(fed(protocol, data, []))


@budget(200)
@given(st.sampled_from(PROTOCOLS), st.binary(max_size=600))
def test_a_display_takes_any_bytes_and_keeps_its_shape(protocol: str, data: bytes) -> None:
    decoder = fed(protocol, data, [])
    if protocol == "led8":
        lamp, _digits = decoder.shown
        assert lamp in LAMPS.values()
    else:
        assert len(decoder.shown) == 2
        assert all(len(line) == COLUMNS for line in decoder.shown)


# --- an unknown command changes nothing ------------------------------------------------------


def _known(protocol: str, prefix: int) -> set[int]:
    if protocol == "cd5220":
        return {ord("Q"), ord("@"), *CD5220_ARGS}
    if protocol == "escpos":
        return set(ESCPOS_ESC_ARGS if prefix == ESC else ESCPOS_US_ARGS)
    return {ord("@"), ord("s"), ord("Q")}


@st.composite
def unknown_commands(draw: st.DrawFn, protocol: str) -> bytes:
    prefixes = [ESC, US] if protocol == "escpos" else [ESC]
    prefix = draw(st.sampled_from(prefixes))
    known = _known(protocol, prefix)
    command = draw(st.integers(0, 255).filter(lambda b: b not in known))
    return bytes((prefix, command))


@budget(200)
@given(st.data(), st.sampled_from(PROTOCOLS), st.text(alphabet="ABC 0123456789.", max_size=20))
def test_an_unknown_command_changes_nothing_shown(
    data: st.DataObject, protocol: str, text: str
) -> None:
    frame = _frame(protocol, (text, text[::-1]))
    decoder = fed(protocol, frame, [])
    before = decoder.shown
    command = data.draw(unknown_commands(protocol))
    decoder.feed(command)
    assert decoder.shown == before
    assert decoder.unknown[-1] == command
    assert not decoder.busy


# --- a frame cut short, RESYNC, the next frame ------------------------------------------------

lines = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=COLUMNS)
led_numbers = st.text(alphabet=sorted(LED_CHARACTERS), max_size=8)


def _frame(protocol: str, pair: tuple[str, str]) -> bytes:
    upper, lower = (line.ljust(COLUMNS)[:COLUMNS] for line in pair)
    if protocol == "cd5220":
        return cd5220_frame((upper, lower))
    if protocol == "escpos":
        return escpos_frame((upper, lower))
    digits = "".join(c for c in pair[0] if c in LED_CHARACTERS)[:8]
    return led8_frame(Lamp.TOTAL, digits)


def _expected(protocol: str, pair: tuple[str, str]) -> tuple[str, ...]:
    if protocol == "led8":
        return ("total", "".join(c for c in pair[0] if c in LED_CHARACTERS)[:8])
    return tuple(line.ljust(COLUMNS)[:COLUMNS] for line in pair)


@budget(300)
@given(
    st.sampled_from(PROTOCOLS),
    st.tuples(lines, lines),
    st.tuples(st.one_of(lines, led_numbers), lines),
    st.integers(0, 80),
)
def test_after_a_cut_frame_resync_and_the_next_frame_show_that_frame(
    protocol: str, first: tuple[str, str], second: tuple[str, str], cut: int
) -> None:
    cut_short = _frame(protocol, first)[:cut]
    decoder = fed(protocol, cut_short + RESYNC + _frame(protocol, second), [])
    assert decoder.shown == _expected(protocol, second)
    assert not decoder.busy
