"""Fuzzing the scale's answers, both protocols (Mettler Toledo 8217 and NCI SCP-01).

The bulk runs at the pure functions: ``take_frame`` cutting frames out of what arrives
(noise, cut frames, garbage between frames, over-long input, any read sizes) and each
protocol's ``read``, which never raises. A few examples go the real way: pyserial on a
pseudo-terminal into ``SerialScale``, whose readings must be exactly what the pure path
says. The lane core is the last step: a reading that proves nothing (moving, over,
unreadable, silent) changes nothing of the sale and keeps same-weight protection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from hypothesis import given
from hypothesis import strategies as st

from firmware_app.config import ScaleConfig
from firmware_app.drivers.scale import SerialScale
from firmware_app.drivers.scale_protocols import NCI_SCP01, TOLEDO_8217, ScaleProtocol, take_frame
from firmware_app.lane.events import ScaleUpdate
from firmware_app.lane.messages import Msg
from firmware_app.lane.weighing import ScaleReading, ScaleStatus
from hw_sim.serial_line import PseudoSerialLine
from tests.drivers.test_scale import Recorder
from tests.fuzz.devices_budget import budget
from tests.unit.till import Till

PROTOCOLS = {"8217": TOLEDO_8217, "scp01": NCI_SCP01}
SENTINEL_G = 123_456  # never a scripted answer's weight: once it comes, the script is through
protocols = st.sampled_from(sorted(PROTOCOLS))


# --- answers with a known reading -----------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One well-formed answer frame and the reading it must give."""

    frame: bytes
    reading: ScaleReading


@st.composite
def toledo_answers(draw: st.DrawFn) -> Answer:
    if draw(st.booleans()):
        grams = draw(st.integers(0, 99_999))
        text = f"{grams // 1000:02d}.{grams % 1000:03d}"
        pad = b" " * draw(st.integers(0, 2))
        net = b"N" if draw(st.booleans()) else b""
        frame = b"\x02" + pad + text.encode() + net + b"\r"
        return Answer(frame, ScaleReading(ScaleStatus.STABLE, grams, text))
    # bit 6 set, bit 7 clear, at least one of motion / over / under; over beats under beats motion
    bits = 0x40 | draw(st.integers(1, 7)) | (draw(st.integers(0, 7)) << 3)
    status = ScaleStatus.OVER if bits & 2 else ScaleStatus.UNDER if bits & 4 else ScaleStatus.MOVING
    return Answer(b"\x02?" + bytes((bits,)) + b"\r", ScaleReading(status))


@st.composite
def scp01_answers(draw: st.DrawFn) -> Answer:
    motion, under, over = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    grams = draw(st.integers(0, 999_999).filter(lambda g: g != SENTINEL_G))
    decimals = draw(st.integers(1, 3))
    whole, thousandths = divmod(grams, 1000)
    thousandths -= thousandths % 10 ** (3 - decimals)  # only as many decimals as shown
    text = f"{whole:04d}.{thousandths:03d}"[: 5 + decimals]
    status = bytes((0x30 | motion, 0x30 | under | over << 1))
    frame = b"\n" + text.encode() + b"kg\r\n" + status + b"\r\x03"
    if over:
        reading = ScaleReading(ScaleStatus.OVER)
    elif under:
        reading = ScaleReading(ScaleStatus.UNDER)
    elif motion:
        reading = ScaleReading(ScaleStatus.MOVING)
    else:
        reading = ScaleReading(ScaleStatus.STABLE, whole * 1000 + thousandths, text)
    return Answer(frame, reading)


def answers(name: str) -> st.SearchStrategy[Answer]:
    return toledo_answers() if name == "8217" else scp01_answers()


def noise(protocol: ScaleProtocol, *, without: bytes) -> st.SearchStrategy[bytes]:
    """Line noise of the kind a wrong baud rate gives, with none of the ``without`` bytes."""
    pieces = st.one_of(
        st.binary(max_size=6),
        st.sampled_from([b"\x02", b"\r", b"\n", b"\x03", b"01.235", b"kg", b"?A", b"\x00"]),
    )
    return st.lists(pieces, max_size=8).map(
        lambda parts: bytes(b for b in b"".join(parts) if b not in without)
    )


def frames_in(data: bytes, protocol: ScaleProtocol, chunks: list[int] = ()) -> list[bytes]:
    """Every frame ``take_frame`` cuts out of ``data`` read in ``chunks``-sized pieces."""
    found: list[bytes] = []
    buffer, pos = b"", 0
    sizes = [*chunks, len(data)]
    while pos < len(data) or buffer:
        size = sizes.pop(0) if sizes else len(data)
        buffer += data[pos : pos + size]
        pos += size
        frame, buffer = take_frame(buffer, protocol)
        if frame is None:
            if pos >= len(data):
                break
            continue
        found.append(frame)
        sizes.insert(0, 0)  # look for another frame before reading more
    return found


# --- the pure path --------------------------------------------------------------------------


@budget(200)
@given(protocols, st.binary(max_size=300), st.lists(st.integers(0, 40), max_size=12))
def test_frames_are_cut_the_same_whatever_the_read_sizes(
    name: str, data: bytes, chunks: list[int]
) -> None:
    protocol = PROTOCOLS[name]
    assert frames_in(data, protocol, chunks) == frames_in(data, protocol)


@budget(200)
@given(protocols, st.binary(max_size=2000))
def test_take_frame_never_keeps_more_than_one_frame_of_noise(name: str, data: bytes) -> None:
    protocol = PROTOCOLS[name]
    frame, rest = take_frame(data, protocol)
    if frame is None:
        assert len(rest) <= protocol.max_frame
        assert rest == b"" or rest.startswith(protocol.start)
        assert data.endswith(rest)
    else:
        assert frame.startswith(protocol.start) and frame.endswith(protocol.terminator)
        assert len(frame) <= protocol.max_frame
        assert data.endswith(frame + rest)


@budget(300)
@given(protocols, st.binary(max_size=64))
def test_reading_any_frame_never_raises_and_a_weight_is_whole_grams(
    name: str, frame: bytes
) -> None:
    answer = PROTOCOLS[name].read(frame)
    reading = answer.reading
    if reading.status is ScaleStatus.STABLE:
        assert isinstance(reading.grams, int) and reading.grams >= 0
        assert reading.text and reading.text.replace(".", "").isdigit() and reading.text.isascii()
    else:
        assert reading.grams is None
    assert bool(answer.reason) == (reading.status is ScaleStatus.ERROR)
    assert not answer.refused or (name == "scp01" and reading.status is ScaleStatus.ERROR)


@st.composite
def noisy_streams(draw: st.DrawFn, name: str) -> tuple[bytes, list[ScaleReading]]:
    """Good answers with noise between them (noise without the start byte)."""
    protocol = PROTOCOLS[name]
    good = draw(st.lists(answers(name), min_size=1, max_size=5))
    gaps = [draw(noise(protocol, without=protocol.start)) for _ in range(len(good) + 1)]
    data = gaps[0] + b"".join(a.frame + gap for a, gap in zip(good, gaps[1:], strict=True))
    return data, [a.reading for a in good]


@budget(120)
@given(st.data(), protocols, st.lists(st.integers(0, 20), max_size=10))
def test_good_answers_are_read_exactly_through_garbage_between_them(
    data: st.DataObject, name: str, chunks: list[int]
) -> None:
    protocol = PROTOCOLS[name]
    stream, expected = data.draw(noisy_streams(name))
    assert [protocol.parse(f) for f in frames_in(stream, protocol, chunks)] == expected


@st.composite
def damaged_streams(draw: st.DrawFn, name: str) -> tuple[bytes, list[ScaleReading]]:
    """Good answers, answers cut short anywhere, and noise (no terminator byte in it)."""
    protocol = PROTOCOLS[name]
    parts: list[bytes] = []
    good: list[ScaleReading] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["good", "cut", "noise"]))
        if kind == "noise":
            parts.append(draw(noise(protocol, without=protocol.terminator)))
            continue
        answer = draw(answers(name))
        if kind == "cut":
            parts.append(answer.frame[: draw(st.integers(0, len(answer.frame) - 1))])
        else:
            parts.append(answer.frame)
            good.append(answer.reading)
    return b"".join(parts), good


@budget(150)
@given(st.data(), protocols)
def test_cut_answers_and_noise_never_make_up_a_weight(data: st.DataObject, name: str) -> None:
    """A weight read from a damaged stream is always one a whole answer in it gave: the
    lane may get an ERROR for a merged frame, never a weight nobody weighed."""
    protocol = PROTOCOLS[name]
    stream, good = data.draw(damaged_streams(name))
    for frame in frames_in(stream, protocol):
        reading = protocol.parse(frame)
        if reading.status is ScaleStatus.STABLE:
            assert reading in good


# --- the real read path: pyserial on a pseudo-terminal ------------------------------------


class ScriptedScale:
    """The scale's end of the line: each weight request gets the next scripted answer
    (any bytes, or nothing), then the sentinel weight for ever."""

    def __init__(self, name: str, script: list[bytes]) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._script = list(script)
        self._line = PseudoSerialLine("fuzz-scale", self._serve, read_size=64)
        self.port = self._line.port

    def _serve(self, data: bytes) -> None:
        end = b"W" if self.name == "8217" else b"\r"
        for _ in range(data.count(end)):
            with self._lock:
                answer = self._script.pop(0) if self._script else sentinel(self.name)
            if answer:
                self._line.write(answer)

    def close(self) -> None:
        self._line.close()


def sentinel(name: str) -> bytes:
    if name == "8217":
        return b"\x02" + b"123.456\r"  # three integer digits: the 8217 pattern takes them
    return b"\n0123.456kg\r\n00\r\x03"


def collapsed(readings: list[ScaleReading]) -> list[ScaleReading]:
    """Readings with silences left out and repeats joined (the driver reports changes,
    and again every second)."""
    out: list[ScaleReading] = []
    for r in readings:
        if r.status is not ScaleStatus.SILENT and (not out or out[-1] != r):
            out.append(r)
    return out


@st.composite
def scripts(draw: st.DrawFn, name: str) -> list[bytes]:
    """One to three answers: good ones with noise around, cut ones, over-long garbage."""
    protocol = PROTOCOLS[name]
    script = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["good", "good", "damaged", "long"]))
        if kind == "long":
            script.append(draw(st.binary(min_size=100, max_size=400)) + draw(answers(name)).frame)
        elif kind == "damaged":
            script.append(draw(damaged_streams(name))[0] + draw(answers(name)).frame)
        else:
            before = draw(noise(protocol, without=protocol.start))
            script.append(before + draw(answers(name)).frame + draw(st.binary(max_size=8)))
    return script


@budget(25, fuzz=300)
@given(protocols, st.data())
def test_the_driver_reads_over_pyserial_what_the_pure_path_reads(
    name: str, data: st.DataObject
) -> None:
    protocol = PROTOCOLS[name]
    script = data.draw(scripts(name))
    expected = []
    for answer in script:
        frame, _ = take_frame(answer, protocol)
        expected.append(
            ScaleReading(ScaleStatus.SILENT) if frame is None else protocol.parse(frame)
        )
    last = protocol.parse(sentinel(name))
    assert last.grams == SENTINEL_G
    recorder = Recorder()
    # A fresh pseudo-terminal each time: one cannot be opened again with 7E1 once closed.
    sim = ScriptedScale(name, script)
    try:
        # Every scripted answer holds a frame, so the timeout is never waited for; it is
        # long only so that a loaded machine's slow thread cannot pass for a silent scale.
        config = ScaleConfig(port=sim.port, protocol=name, poll_ms=10, timeout_ms=2000)
        with SerialScale(config) as scale:
            scale.start(recorder)
            recorder.wait_for(lambda events: ScaleUpdate(last) in events, timeout=10.0)
    finally:
        sim.close()
    assert collapsed(recorder.readings()) == collapsed([*expected, last])


# --- the lane: a reading that proves nothing changes nothing ------------------------------


def _weighed_till() -> Till:
    """A cashier has sold 0.532 kg of apples (PLU 1); the apples are still on the scale."""
    till = Till().do("signon", "scale 0.532", "key 1 PLU")
    assert till.message is Msg.ITEM_ADDED and till.state.load_changed is False
    return till


WEIGHED = _weighed_till()


@budget(150)
@given(st.data(), protocols)
def test_an_answer_that_proves_nothing_changes_nothing_of_the_sale(
    data: st.DataObject, name: str
) -> None:
    frame = data.draw(st.one_of(st.binary(max_size=40), answers(name).map(lambda a: a.frame)))
    reading = PROTOCOLS[name].parse(frame)
    till = Till(state=WEIGHED.state)
    till.send(ScaleUpdate(reading))
    before, after = WEIGHED.state, till.state
    assert till.effects == []
    assert after.sale == before.sale
    new_load = reading.status is ScaleStatus.UNDER or (
        reading.status is ScaleStatus.STABLE and reading.grams != before.weighed_grams
    )
    if not new_load:  # the same apples, jiggled, unreadable or over: nothing but the reading
        assert replace(after, scale=before.scale, scale_at=before.scale_at) == before
    # Selling the apples again now: refused unless a new, stable, positive weight came.
    till.do("key 1 PLU")
    if not (new_load and reading.status is ScaleStatus.STABLE and reading.grams):
        assert till.state.sale == before.sale
        assert till.effects == []
