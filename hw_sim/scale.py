"""A simulated weighing scale on a pseudo-terminal: Mettler Toledo 8217 or NCI /
Weigh-Tronix SCP-01.

The lane opens ``SimulatedScale().port`` exactly as it opens the real scale's
serial port, so the real driver (``firmware_app.drivers.scale``) runs unchanged
on top of it. With ``link``, ``port`` is a symbolic link to the pseudo-terminal, as
udev's ``/dev/lane-scale`` is to ``/dev/ttyUSB0``: pulling and plugging the
adapter makes a new pseudo-terminal appear behind the same path.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from hw_sim.scale_model import (
    CAPACITY_G,
    CR,
    REFUSED_SCP01,
    STX,
    UNITS,
    ZERO_RANGE_G,
    Condition,
    Platter,
    Shown,
    answer_8217,
    answer_scp01_status,
    answer_scp01_weight,
    weight_body,
)
from hw_sim.serial_line import PseudoSerialLine

__all__ = ["CAPACITY_G", "CR", "MOTION", "OVER", "STX", "UNDER", "SimulatedScale", "weight_body"]

PROTOCOLS = ("8217", "scp01")
MAX_COMMAND = 16  # bytes of an SCP-01 command line kept while waiting for its CR

# Status answers as a real 8217 sends them: bit 6 always set, plus the reason.
MOTION = b"?A"  # bit 0
OVER = b"?B"  # bit 1
UNDER = b"?D"  # bit 2


class SimulatedScale:
    """A stateful scale with verbs, answering on a pseudo-terminal.

    8217 (``protocol="8217"``): to each ``W`` it answers STX, the weight (``N`` after
    it when a tare is on) or ``?`` and the status byte, CR; ``Z``, ``T`` and ``C`` are
    obeyed or refused silently, like the real scale (rules in
    ``hw_sim.scale_model.Platter``: a refused zero or tare changes nothing).
    SCP-01 (``protocol="scp01"``): commands end with CR; ``W`` gets the weight with
    its unit and the status, ``S`` the status, ``Z`` and ``T`` the status after
    obeying or refusing (same rules; ``T`` on an empty platter clears the tare, as
    SCP-01 has no clear-tare command), anything else ``LF ? CR ETX``. ``H`` and ``U``
    are not simulated.

    Verbs (thread-safe): ``set_weight(grams)``, ``settle(*grams)``, ``set_motion()``,
    ``set_over()``, ``set_under()``, ``set_unit(unit)`` (SCP-01), ``unplug()`` (no
    answer at all; the port stays), ``plug()``, ``add_noise(data)``,
    ``pull_adapter()`` (the port goes away), ``plug_adapter()`` (a new one appears).
    For tests: ``received`` is every byte the lane wrote (plugged or not),
    ``answered`` how many weight requests got an answer, ``answer_times`` when each
    went out, ``shown`` what the display shows now.
    Closing it removes the port, as pulling the scale's USB adapter would.
    """

    def __init__(
        self,
        *,
        protocol: str = "8217",
        link: Path | None = None,
        capacity_g: int = CAPACITY_G,
        zero_range_g: int = ZERO_RANGE_G,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self._link = link
        self._lock = threading.Lock()
        self._platter = Platter(capacity_g=capacity_g, zero_range_g=zero_range_g)
        self._unit = "kg"
        self._plugged = True
        self._closed = False
        self._noise = b""
        self._command = bytearray()  # SCP-01: the command line so far, up to CR
        self._received = bytearray()
        self._answer_times: list[float] = []
        self._line: PseudoSerialLine | None = None
        self.port: str = ""
        self.plug_adapter()

    # --- verbs ---------------------------------------------------------------------

    def set_weight(self, grams: int) -> None:
        """A stable load of ``grams`` (0 = empty platter, answered as ``00.000``)."""
        self._check_load(grams)
        with self._lock:
            self._platter.put(grams)

    def settle(self, *grams: int) -> None:
        """A load settling: the next answers show ``grams`` in turn, each as a weight
        the scale calls still; the last one stays."""
        for g in grams:
            self._check_load(g)
        if not grams:
            raise ValueError("settle needs at least one weight")
        with self._lock:
            self._platter.settle(list(grams))

    def set_motion(self) -> None:
        """The load is still moving."""
        self._set(Condition.MOTION)

    def set_over(self) -> None:
        """Over capacity."""
        self._set(Condition.OVER)

    def set_under(self) -> None:
        """Far below zero (outside the zero key's reach). A slight underload comes from
        zeroing with a load on, then lifting it."""
        self._set(Condition.UNDER)

    def set_unit(self, unit: str) -> None:
        """The unit an SCP-01 scale weighs in (``kg``, ``lb``, ``oz``)."""
        if self.protocol != "scp01" or unit not in UNITS:
            raise ValueError(f"unit {unit!r}: only an SCP-01 scale has {', '.join(UNITS)}")
        with self._lock:
            self._unit = unit

    def unplug(self) -> None:
        """The cable is out: requests get no answer at all, commands do nothing."""
        with self._lock:
            self._plugged = False

    def plug(self) -> None:
        """The cable is back: requests are answered again."""
        with self._lock:
            self._plugged = True

    def add_noise(self, data: bytes) -> None:
        """Line noise: ``data`` goes out just before the next answer."""
        with self._lock:
            self._noise += data

    def _set(self, condition: Condition) -> None:
        with self._lock:
            self._platter.set_condition(condition)

    def _check_load(self, grams: int) -> None:
        capacity = self._platter.capacity_g
        if not 0 <= grams <= capacity:
            raise ValueError(f"weight {grams} g outside 0..{capacity}: use set_under/set_over")

    # --- the USB serial adapter --------------------------------------------------------

    def pull_adapter(self) -> None:
        """The USB serial adapter is pulled: the link (if any) and the port go away."""
        with self._lock:
            line, self._line = self._line, None
            self._command.clear()
        if self._link is not None:
            self._link.unlink(missing_ok=True)
        if line is not None:
            line.close()

    def plug_adapter(self) -> None:
        """An adapter is plugged in: a new pseudo-terminal, behind the same ``port``
        when there is a ``link`` (without one, ``port`` is the new terminal's path)."""
        if self._closed:
            raise RuntimeError("the simulated scale is closed")
        if self._line is not None:
            return
        line = PseudoSerialLine("sim-scale", self._serve, read_size=64)
        with self._lock:
            self._line = line
        if self._link is None:
            self.port = line.port
            return
        _point_link(self._link, line.port)
        self.port = str(self._link)

    # --- what the lane did and sees ---------------------------------------------------

    @property
    def received(self) -> bytes:
        """Every byte the lane wrote to the scale, in order."""
        with self._lock:
            return bytes(self._received)

    @property
    def answered(self) -> int:
        """How many weight requests were answered."""
        with self._lock:
            return len(self._answer_times)

    @property
    def answer_times(self) -> list[float]:
        """When each weight answer was written (``time.monotonic()``)."""
        with self._lock:
            return list(self._answer_times)

    @property
    def shown(self) -> Shown:
        """What the display shows now (net of the tare, relative to the scale's zero)."""
        with self._lock:
            return self._platter.shown()

    # --- the scale's side of the line ------------------------------------------------

    def _serve(self, data: bytes) -> None:
        for byte in data:
            with self._lock:
                reply, weighed = self._reply(byte)
                line = self._line
                if not reply or line is None:
                    continue
                if weighed:  # counted before it is written: the lane may read it at once
                    self._answer_times.append(time.monotonic())
            line.write(reply)

    def _reply(self, byte: int) -> tuple[bytes, bool]:
        """The answer to one byte from the lane, and whether it answers a weight request."""
        self._received.append(byte)
        if not self._plugged:
            return b"", False  # the cable is out: nothing reaches the scale
        if self.protocol == "8217":
            reply, weighed = self._obey_8217(byte)
        else:
            reply, weighed = self._obey_scp01(byte)
        if reply:
            noise, self._noise = self._noise, b""
            reply = noise + reply
        return reply, weighed

    def _obey_8217(self, byte: int) -> tuple[bytes, bool]:
        command = bytes([byte])
        if command == b"W":
            return answer_8217(self._platter.advance()), True
        if command == b"Z":
            self._platter.zero()
        elif command == b"T":
            self._platter.tare()
        elif command == b"C":
            self._platter.clear_tare()
        return b"", False  # anything else is ignored, like the real scale

    def _obey_scp01(self, byte: int) -> tuple[bytes, bool]:
        if byte == ord("\n"):
            return b"", False  # some hosts end commands with CR LF
        if byte != CR[0]:
            # A line that never ends was noise: keep only the last few bytes of it.
            self._command = (self._command + bytes([byte]))[-MAX_COMMAND:]
            return b"", False
        command, self._command = bytes(self._command).strip().upper(), bytearray()
        platter = self._platter
        if command == b"W":
            return answer_scp01_weight(platter.advance(), self._unit), True
        if command == b"Z":
            platter.zero()
        elif command == b"T":
            platter.tare(empty_clears=True)
        elif command != b"S":
            return REFUSED_SCP01, False
        return answer_scp01_status(platter.shown()), False

    # --- life cycle --------------------------------------------------------------------

    def close(self) -> None:
        """Stop answering and remove the port (and the link). Idempotent."""
        self._closed = True
        self.pull_adapter()

    def __enter__(self) -> SimulatedScale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _point_link(link: Path, target: str) -> None:
    """Make ``link`` point at ``target`` in one step, as udev does; never over a file."""
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symbolic link")
    fresh = link.with_name(link.name + ".new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    os.replace(fresh, link)
