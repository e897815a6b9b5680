"""A simulated Mettler Toledo 8217 weighing scale on a pseudo-terminal.

The lane opens ``SimulatedScale().port`` exactly as it opens the real scale's
serial port, so the real driver (``firmware_app.drivers.scale``) runs unchanged
on top of it.
"""

from __future__ import annotations

import threading

from hw_sim.serial_line import PseudoSerialLine

STX = b"\x02"
CR = b"\r"
CAPACITY_G = 99_999  # the 8217's kilogram format holds two integer digits

# Status bytes as a real 8217 sends them: bit 6 always set, plus the reason.
MOTION = b"?A"  # bit 0
OVER = b"?B"  # bit 1
UNDER = b"?D"  # bit 2


def weight_body(grams: int) -> bytes:
    """The 8217's stable-weight text for ``grams``: 1235 -> ``b"01.235"``."""
    kilos, thousandths = divmod(grams, 1000)
    return f"{kilos:02d}.{thousandths:03d}".encode("ascii")


class SimulatedScale:
    """A stateful 8217 scale with verbs, answering on a pseudo-terminal.

    To each ``W`` it answers STX, the weight or the status, CR; ``Z``, ``T`` and
    ``C`` are taken silently, like the real scale. Verbs (thread-safe):
    ``set_weight(grams)``, ``set_motion()``, ``set_over()``, ``set_under()``,
    ``unplug()`` (no answer at all), ``plug()``, ``add_noise(data)``.
    For tests: ``received`` is every byte the lane wrote (plugged or not),
    ``answered`` how many ``W`` requests got an answer.
    Closing it removes the port, as pulling the scale's USB adapter would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._body = weight_body(0)
        self._plugged = True
        self._noise = b""
        self._received = bytearray()
        self._answered = 0
        self._line = PseudoSerialLine("sim-scale", self._serve, read_size=64)
        self.port: str = self._line.port

    # --- verbs ---------------------------------------------------------------------

    def set_weight(self, grams: int) -> None:
        """A stable load of ``grams`` (0 = empty platter, answered as ``00.000``)."""
        if not 0 <= grams <= CAPACITY_G:
            raise ValueError(f"weight {grams} g outside 0..{CAPACITY_G}: use set_under/set_over")
        self._set(weight_body(grams))

    def set_motion(self) -> None:
        """The load is still moving."""
        self._set(MOTION)

    def set_over(self) -> None:
        """Over capacity."""
        self._set(OVER)

    def set_under(self) -> None:
        """Below zero."""
        self._set(UNDER)

    def unplug(self) -> None:
        """The cable is out: requests get no answer at all."""
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

    def _set(self, body: bytes) -> None:
        with self._lock:
            self._body = body

    # --- what the lane did ------------------------------------------------------------

    @property
    def received(self) -> bytes:
        """Every byte the lane wrote to the scale, in order."""
        with self._lock:
            return bytes(self._received)

    @property
    def answered(self) -> int:
        """How many weight requests were answered."""
        with self._lock:
            return self._answered

    # --- the scale's side of the line ------------------------------------------------

    def _serve(self, data: bytes) -> None:
        for byte in data:
            reply = self._reply(byte)
            if reply:
                self._line.write(reply)

    def _reply(self, byte: int) -> bytes:
        with self._lock:
            self._received.append(byte)
            if byte != ord("W") or not self._plugged:
                return b""  # Z, T, C: obeyed silently; anything else: ignored
            self._answered += 1
            noise, self._noise = self._noise, b""
            return noise + STX + self._body + CR

    # --- life cycle --------------------------------------------------------------------

    def close(self) -> None:
        """Stop answering and remove the port. Idempotent."""
        self._line.close()

    def __enter__(self) -> SimulatedScale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
