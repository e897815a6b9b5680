"""The wedge decoder as tables of key events, and the Scanner over a real pipe
carrying the kernel's ``struct input_event`` records from hw_sim."""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterator

import pytest
from evdev import ecodes as e
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_app.config import ScannerConfig
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.hid import (
    INPUT_EVENT,
    EvdevKeySource,
    FdKeySource,
    KeyEvent,
    decode_input_events,
    encode_input_event,
)
from firmware_app.drivers.scanner import MAX_ALT_DIGITS, Scanner, WedgeDecoder
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event, Scanned
from hw_sim.hid import SimulatedHidDevice

T0 = 1_700_000_000.0
STEP = 0.003  # 3 ms between key events, as a scanner types
WAIT_S = 2.0

SHIFT, RSHIFT, CTRL, ALTGR, ALT = (
    e.KEY_LEFTSHIFT,
    e.KEY_RIGHTSHIFT,
    e.KEY_LEFTCTRL,
    e.KEY_RIGHTALT,
    e.KEY_LEFTALT,
)


# --- building key event tables --------------------------------------------------------


def tap(code: int, *mods: int) -> list[tuple[int, int]]:
    """Press ``code`` with ``mods`` held: (code, value) pairs, as a scanner sends them."""
    return [(m, 1) for m in mods] + [(code, 1), (code, 0)] + [(m, 0) for m in reversed(mods)]


def keys(*names: str) -> list[tuple[int, int]]:
    """Unmodified taps by evdev name suffix: ``keys("1", "A")`` taps KEY_1 and KEY_A."""
    return [pair for name in names for pair in tap(getattr(e, f"KEY_{name}"))]


ENTER = tap(e.KEY_ENTER)


class Gap:
    """A pause of ``seconds`` between key events."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


def events(*parts: list[tuple[int, int]] | Gap, t0: float = T0) -> Iterator[KeyEvent]:
    """Timestamped events with an EV_SYN after each key event, like the kernel."""
    t = t0
    for part in parts:
        if isinstance(part, Gap):
            t += part.seconds
            continue
        for code, value in part:
            yield KeyEvent(e.EV_KEY, code, value, t)
            yield KeyEvent(e.EV_SYN, e.SYN_REPORT, 0, t)
            t += STEP


def decode(*parts: list[tuple[int, int]] | Gap, layout: str = "us", **kw: object) -> list[str]:
    options: dict = {"timeout_ms": 80, "max_length": 32, **kw}
    decoder = WedgeDecoder(layout, **options)
    return [code for ev in events(*parts) if (code := decoder.feed(*ev)) is not None]


# --- the decoder ----------------------------------------------------------------------

DECODER_TABLE = [
    ("digits", [keys(*"0123456789"), ENTER], ["0123456789"]),
    ("lower and Shift capitals", [keys("A"), tap(e.KEY_B, SHIFT), keys("C"), ENTER], ["aBc"]),
    ("right Shift", [tap(e.KEY_Q, RSHIFT), ENTER], ["Q"]),
    (
        "no Enter, no code",
        [tap(e.KEY_1, SHIFT), tap(e.KEY_2, SHIFT), tap(e.KEY_MINUS), tap(e.KEY_SLASH, SHIFT)],
        [],
    ),
    (
        "symbols then Enter",
        [
            tap(e.KEY_1, SHIFT),
            tap(e.KEY_2, SHIFT),
            tap(e.KEY_MINUS),
            tap(e.KEY_SLASH, SHIFT),
            ENTER,
        ],
        ["!@-?"],
    ),
    ("AIM prefix", [tap(e.KEY_RIGHTBRACE), tap(e.KEY_E, SHIFT), keys("0", "4"), ENTER], ["]E04"]),
    ("keypad Enter", [keys("1", "2"), tap(e.KEY_KPENTER)], ["12"]),
    ("keypad digits", [keys("KP4", "KP2"), ENTER], ["42"]),
    ("empty Enter yields nothing", [ENTER, ENTER], []),
    ("two codes", [keys("1"), ENTER, keys("2"), ENTER], ["1", "2"]),
    (
        "Ctrl+] is GS",
        [keys("0", "1"), tap(e.KEY_RIGHTBRACE, CTRL), keys("1", "0"), ENTER],
        ["01\x1d10"],
    ),
    ("right Ctrl+] is GS", [tap(e.KEY_RIGHTBRACE, e.KEY_RIGHTCTRL), ENTER], ["\x1d"]),
    ("Ctrl+D is EOT", [tap(e.KEY_D, CTRL), ENTER], ["\x04"]),
    ("Ctrl+Shift+6 is RS", [tap(e.KEY_6, CTRL, SHIFT), ENTER], ["\x1e"]),
    (
        "Alt+0029 on the keypad is GS",
        [keys("A"), [(ALT, 1)], keys("KP0", "KP0", "KP2", "KP9"), [(ALT, 0)], ENTER],
        ["a\x1d"],
    ),
    (
        "autorepeat types nothing",
        [[(e.KEY_7, 1), (e.KEY_7, 2), (e.KEY_7, 2), (e.KEY_7, 0)], ENTER],
        ["7"],
    ),
    ("unknown keys are skipped", [keys("1", "F5", "2"), ENTER], ["12"]),
    (
        "timeout drops the partial code",
        [keys("1", "2", "3"), Gap(0.2), keys("4", "5"), ENTER],
        ["45"],
    ),
    ("a gap before Enter drops the code", [keys("1", "2"), Gap(0.2), ENTER], []),
    ("a gap after Enter is harmless", [keys("1"), ENTER, Gap(5), keys("2"), ENTER], ["1", "2"]),
    (
        "Shift held across a gap still shifts",
        [[(SHIFT, 1)], Gap(0.2), [(e.KEY_A, 1), (e.KEY_A, 0)], ENTER],
        ["A"],
    ),
]


@pytest.mark.parametrize(
    ("parts", "expected"), [row[1:] for row in DECODER_TABLE], ids=[row[0] for row in DECODER_TABLE]
)
def test_decoder_table(parts: list, expected: list[str]) -> None:
    assert decode(*parts) == expected


def test_gap_up_to_the_timeout_keeps_the_code() -> None:
    # key-down to key-down: 6 ms of the first tap plus the pause = 76 ms
    assert decode(keys("1"), Gap(0.070), keys("2"), ENTER, timeout_ms=80) == ["12"]
    assert decode(keys("1"), Gap(0.080), keys("2"), ENTER, timeout_ms=80) == ["2"]


def test_over_long_code_is_dropped_and_the_next_one_decodes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    long = keys(*"1234567890" * 4)
    assert decode(long, ENTER, keys("9"), ENTER, max_length=32) == ["9"]
    assert "over-long scan dropped" in caplog.text


def test_code_of_exactly_max_length_passes() -> None:
    assert decode(keys(*"12345678"), ENTER, max_length=8) == ["12345678"]


def test_gs_substitute_becomes_gs() -> None:
    bar = tap(e.KEY_BACKSLASH, SHIFT)  # "|"
    assert decode(keys("1"), bar, keys("2"), ENTER, gs_substitute="|") == ["1\x1d2"]
    assert decode(keys("1"), bar, keys("2"), ENTER) == ["1|2"]


def test_non_key_events_are_ignored() -> None:
    decoder = WedgeDecoder("us", timeout_ms=80, max_length=32)
    assert decoder.feed(e.EV_MSC, e.MSC_SCAN, 0x7001E, T0) is None
    out = [decoder.feed(*ev) for ev in events(keys("1"), ENTER)]
    assert [code for code in out if code is not None] == ["1"]


def test_events_the_kernel_dropped_end_the_code_in_progress() -> None:
    decoder = WedgeDecoder("us", timeout_ms=80, max_length=32)
    lost = [
        KeyEvent(e.EV_SYN, e.SYN_DROPPED, 0, T0 + 0.010),
        KeyEvent(e.EV_KEY, e.KEY_9, 1, T0 + 0.011),  # between SYN_DROPPED and SYN_REPORT
        KeyEvent(e.EV_SYN, e.SYN_REPORT, 0, T0 + 0.011),
    ]
    before = list(events([(SHIFT, 1)], keys("1", "2")))
    after = list(events(keys("3"), ENTER, t0=T0 + 0.012))
    out = [decoder.feed(*ev) for ev in before + lost + after]
    assert [code for code in out if code is not None] == ["3"]  # and Shift forgotten


def test_german_dead_circumflex_then_space_is_one_caret() -> None:
    caret = [*tap(e.KEY_GRAVE), *tap(e.KEY_SPACE)]
    assert decode(caret, keys("1"), ENTER, layout="de") == ["^1"]
    assert decode(keys("Y", "Z"), ENTER, layout="de") == ["zy"]
    assert decode(tap(e.KEY_Q, ALTGR), ENTER, layout="de") == ["@"]


def test_reset_forgets_a_held_shift() -> None:
    decoder = WedgeDecoder("us", timeout_ms=80, max_length=32)
    decoder.feed(e.EV_KEY, SHIFT, 1, T0)
    decoder.reset()
    out = [decoder.feed(*ev) for ev in events(keys("A"), ENTER, t0=T0 + 0.01)]
    assert "a" in out


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        WedgeDecoder("xx", timeout_ms=80, max_length=32)


raw_events = st.lists(
    st.tuples(
        st.sampled_from([e.EV_KEY, e.EV_KEY, e.EV_KEY, e.EV_SYN, e.EV_MSC]),
        st.one_of(
            st.sampled_from(
                [e.KEY_ENTER, SHIFT, CTRL, ALT, ALTGR, e.KEY_A, e.KEY_KP1, e.KEY_GRAVE]
            ),
            st.integers(0, 0x2FF),
        ),
        st.integers(-1, 3),
        st.floats(0, 0.2),
    ),
    max_size=200,
)


@given(raw_events, st.sampled_from(["us", "de", "fr"]))
def test_decoder_survives_anything_a_device_sends(stream: list, layout: str) -> None:
    decoder = WedgeDecoder(layout, timeout_ms=80, max_length=16, gs_substitute="|")
    t = T0
    for type_, code, value, dt in stream:
        t += dt
        out = decoder.feed(type_, code, value, t)
        assert out is None or 0 < len(out) <= 16


def test_an_endless_alt_code_drops_the_scan_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 4,300 digits and more were once turned into one int: Python refuses such a string.
    caplog.set_level(logging.WARNING, logger="firmware_app.drivers.scanner")
    endless = [(ALT, 1), *keys(*["KP9"] * 4400), (ALT, 0)]
    assert decode(keys("A"), endless, keys("B"), ENTER, keys("1"), ENTER) == ["1"]
    (warning,) = [r for r in caplog.records if "Alt code" in r.getMessage()]
    assert warning.getMessage() == (
        f"over-long Alt code (more than {MAX_ALT_DIGITS} digits): scan dropped"
    )


def test_alt_codes_with_leading_zeros_up_to_the_bound_still_type() -> None:
    code = ["KP0"] * (MAX_ALT_DIGITS - 2) + ["KP2", "KP9"]
    assert decode([(ALT, 1)], keys(*code), [(ALT, 0)], keys("1"), ENTER) == ["\x1d1"]


KEYPAD = [getattr(e, f"KEY_KP{d}") for d in range(10)]


@st.composite
def key_streams(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """Key events as a device may send them: scanner-like taps, Alt codes of any length
    (a few thousand keypad digits too), and arbitrary raw events, mixed."""
    stream: list[tuple[int, int, int]] = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["alt", "tap", "raw", "enter"]))
        if kind == "alt":
            n = draw(st.sampled_from([0, 1, 3, 4, MAX_ALT_DIGITS, MAX_ALT_DIGITS + 1, 4301, 4400]))
            # A short pattern repeated: hypothesis cannot draw thousands of items one by one.
            pattern = draw(st.lists(st.sampled_from(KEYPAD), min_size=1, max_size=4))
            digits = (pattern * n)[:n]
            run = [(ALT, 1), *[(c, v) for c in digits for v in (1, 0)]]
            if draw(st.booleans()):
                run.append((ALT, 0))  # or the Alt key-up is lost
            stream += [(e.EV_KEY, c, v) for c, v in run]
        elif kind == "tap":
            code = draw(st.sampled_from([e.KEY_A, e.KEY_1, e.KEY_GRAVE, e.KEY_RIGHTBRACE]))
            mods = draw(st.lists(st.sampled_from([SHIFT, CTRL, ALTGR, ALT]), max_size=2))
            stream += [(e.EV_KEY, c, v) for c, v in tap(code, *mods)]
        elif kind == "enter":
            stream += [(e.EV_KEY, c, v) for c, v in ENTER]
        else:
            stream += draw(
                st.lists(
                    st.tuples(
                        st.sampled_from([e.EV_KEY, e.EV_SYN, e.EV_MSC, 0x1F]),
                        st.integers(0, 0x2FF),
                        st.integers(-(2**31), 2**31 - 1),
                    ),
                    max_size=20,
                )
            )
    return stream


@settings(max_examples=60, deadline=None)
@given(key_streams(), st.sampled_from(["us", "de", "fr"]), st.sampled_from([0.0, 0.003, 0.2]))
def test_the_decoder_raises_nothing_whatever_the_keys(
    stream: list[tuple[int, int, int]], layout: str, step: float
) -> None:
    decoder = WedgeDecoder(layout, timeout_ms=80, max_length=16, gs_substitute="|")
    t = T0
    for type_, code, value in stream:
        t += step
        out = decoder.feed(type_, code, value, t)  # any exception fails the test
        assert out is None or 0 < len(out) <= 16


# --- input_event records --------------------------------------------------------------


def test_record_layout_is_the_kernels() -> None:
    assert INPUT_EVENT.size == 24  # 64-bit: two longs, two u16, one s32
    record = encode_input_event(e.EV_KEY, e.KEY_A, 1, 12.5)
    assert record == INPUT_EVENT.pack(12, 500_000, e.EV_KEY, e.KEY_A, 1)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 0xFFFF),
            st.integers(0, 0xFFFF),
            st.integers(-(2**31), 2**31 - 1),
            st.integers(0, 2**32).map(lambda us: us / 1000),
        ),
        max_size=20,
    ),
    st.integers(1, 64),
)
def test_records_decode_whatever_the_chunking(records: list, chunk: int) -> None:
    data = b"".join(encode_input_event(*r) for r in records)
    decoded: list[KeyEvent] = []
    tail = b""
    for i in range(0, len(data), chunk):
        got, tail = decode_input_events(tail + data[i : i + chunk])
        decoded += got
    assert tail == b""
    assert [(ev.type, ev.code, ev.value) for ev in decoded] == [r[:3] for r in records]
    assert all(abs(ev.t - r[3]) < 1e-6 for ev, r in zip(decoded, records, strict=True))


def test_fd_source_joins_half_records_and_sees_unplug() -> None:
    r, w = os.pipe()
    source = FdKeySource(r, "half")
    record = encode_input_event(e.EV_KEY, e.KEY_5, 1, T0)
    os.write(w, record[:10])
    assert source.read() == []
    os.write(w, record[10:])
    assert source.read() == [KeyEvent(e.EV_KEY, e.KEY_5, 1, T0)]
    os.close(w)
    with pytest.raises(DeviceMissing, match="half"):
        source.read()
    source.close()
    source.close()


def test_evdev_source_on_a_missing_path_names_the_path(tmp_path) -> None:
    path = str(tmp_path / "no-such-scanner")
    with pytest.raises(DeviceMissing, match="no-such-scanner"):
        EvdevKeySource(path)


def test_evdev_source_on_a_file_that_is_no_input_device(tmp_path) -> None:
    path = tmp_path / "not-a-device"
    path.write_bytes(b"")
    with pytest.raises(DeviceMissing, match="not-a-device"):
        EvdevKeySource(str(path))


# --- the Scanner over a pipe ----------------------------------------------------------


class Lane:
    """What the scanner emitted, in order (emit is called from its thread)."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def next(self) -> Event:
        return self.events.get(timeout=WAIT_S)

    def empty(self) -> bool:
        return self.events.empty()


@pytest.fixture
def sim() -> Iterator[SimulatedHidDevice]:
    with SimulatedHidDevice("sim-scanner") as device:
        yield device


def start_scanner(sim: SimulatedHidDevice, **config: object) -> tuple[Scanner, Lane, list]:
    opened: list[FdKeySource] = []

    def open_source(path: str) -> FdKeySource:
        assert path == "sim-scanner"
        opened.append(sim.source())
        return opened[-1]

    scanner = Scanner(
        ScannerConfig(path="sim-scanner", **config), source_factory=open_source, retry_s=0.05
    )
    lane = Lane()
    scanner.start(lane.events.put)
    return scanner, lane, opened


def test_scanner_emits_a_typed_aim_code(sim: SimulatedHidDevice) -> None:
    scanner, lane, opened = start_scanner(sim)
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.type_text("]E06954767410388")
        assert lane.next() == Scanned("]E06954767410388")
        assert opened[0].grabbed


def test_scanner_decodes_gs1_with_fnc1_in_german_layout(sim: SimulatedHidDevice) -> None:
    scanner, lane, _ = start_scanner(sim, layout="de", grab=False)
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.type_text("]C10109501101530003\x1d10ABC^`", "de")
        assert lane.next() == Scanned("]C10109501101530003\x1d10ABC^`")


def test_scanner_survives_junk_and_keeps_scanning(sim: SimulatedHidDevice) -> None:
    scanner, lane, _ = start_scanner(sim)
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        for _ in range(3):
            sim.send_event(e.EV_KEY, 0xFFFF, 7)
        sim.send_event(e.EV_REL, 0, -5)
        sim.send_event(e.EV_KEY, e.KEY_LEFTSHIFT, 1)  # a Shift that never comes up…
        sim.send_event(e.EV_KEY, e.KEY_LEFTSHIFT, 0)  # …until it does
        sim.type_text("4006381333931")
        assert lane.next() == Scanned("4006381333931")


def test_unplug_reports_missing_and_plug_brings_scans_back(sim: SimulatedHidDevice) -> None:
    scanner, lane, _ = start_scanner(sim)
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.unplug()
        missing = lane.next()
        assert (missing.device, missing.state) == ("scanner", "missing")
        assert "sim-scanner" in missing.detail
        sim.plug()
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.type_text("96385074")
        assert lane.next() == Scanned("96385074")


def test_scanner_missing_at_start_is_retried(sim: SimulatedHidDevice) -> None:
    sim.unplug()
    scanner, lane, _ = start_scanner(sim)
    with scanner:
        missing = lane.next()
        assert missing.state == "missing"
        assert "sim-scanner" in missing.detail
        sim.plug()
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        assert lane.empty()  # no repeated "missing" while it retried


def test_scanner_on_a_missing_evdev_path_reports_it(tmp_path) -> None:
    path = str(tmp_path / "usb-scanner-event-kbd")
    lane = Lane()
    with Scanner(ScannerConfig(path=path), retry_s=0.05) as scanner:
        scanner.start(lane.events.put)
        state = lane.next()
    assert state.state == "missing"
    assert path in state.detail


class BusySource(FdKeySource):
    """A pipe whose grab fails, as when another program holds the scanner."""

    def grab(self) -> None:
        raise DeviceError(f"{self.path}: grabbed by another program")


def test_a_scanner_held_by_another_program_reports_error(sim: SimulatedHidDevice) -> None:
    def open_busy(path: str) -> FdKeySource:
        return BusySource(sim.source().fileno(), "busy", path=path)

    lane = Lane()
    with Scanner(ScannerConfig(path="sim-scanner"), source_factory=open_busy, retry_s=0.05) as s:
        s.start(lane.events.put)
        assert lane.next() == DeviceState(
            Device.SCANNER, StateWord.ERROR, "sim-scanner: grabbed by another program"
        )
        assert s.state == "error"


def test_an_unexpected_open_failure_is_reported_with_the_path() -> None:
    def broken(path: str) -> FdKeySource:
        raise PermissionError("permission denied")

    lane = Lane()
    with Scanner(ScannerConfig(path="/dev/lane-scanner"), source_factory=broken) as scanner:
        scanner.start(lane.events.put)
        assert lane.next() == DeviceState(
            Device.SCANNER, StateWord.ERROR, "/dev/lane-scanner: permission denied"
        )


def test_close_is_idempotent_and_allowed_before_start(sim: SimulatedHidDevice) -> None:
    Scanner(ScannerConfig(path="x")).close()
    scanner, lane, opened = start_scanner(sim)
    assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
    scanner.close()
    scanner.close()
    assert opened[0].fileno() == -1  # the thread closed its source


# --- GS1 element strings ----------------------------------------------------------------

# (01) GTIN, (10) batch ABC123 (variable length: FNC1 ends it), (3103) 0.532 kg net
GS1_128 = "]C1" + "0109501101530003" + "10ABC123" + "\x1d" + "3103000532"


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_a_gs1_128_element_string_survives_end_to_end(sim: SimulatedHidDevice, layout: str) -> None:
    scanner, lane, _ = start_scanner(sim, layout=layout)
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.type_text(GS1_128, layout)  # GS typed as Ctrl+], as scanners send FNC1
        scanned = lane.next()
        assert scanned == Scanned(GS1_128)
        assert scanned.data.split("\x1d") == ["]C1010950110153000310ABC123", "3103000532"]


def test_a_gs1_128_element_string_with_a_gs_substitute(sim: SimulatedHidDevice) -> None:
    scanner, lane, _ = start_scanner(sim, gs_substitute="|")
    with scanner:
        assert lane.next() == DeviceState(Device.SCANNER, StateWord.OK)
        sim.type_text(GS1_128.replace("\x1d", "|"))  # a scanner that cannot send GS
        assert lane.next() == Scanned(GS1_128)
