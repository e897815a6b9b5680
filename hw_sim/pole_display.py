"""A simulated customer display on a pseudo-terminal: a 2×20 VFD (CD5220 or ESC/POS
display commands) or an 8-digit LED price display.

The lane opens ``SimulatedPoleDisplay(out_dir).port`` exactly as it opens the real
display's serial port, so the real driver (``firmware_app.drivers.pole_display``)
runs unchanged on top of it. What arrives is decoded by ``hw_sim.pole_decoder``.
Each change of what the display shows is appended to ``customer-display.log`` in
``out_dir``, one line each, stamped with the local time:

    2026-11-28 14:01:02.417 |PAID           10.00|CHANGE          2.30|
    2026-11-28 14:01:02.417 |change |     2.30|        (an LED: its lamp, its number)

A change is logged once a chunk of input has been decoded whole (the lane sends a
frame in one write, so its intermediate states, e.g. cleared before the new
lines, are not logged). With ``link``, ``port`` is a symbolic link to the
pseudo-terminal, as udev's ``/dev/lane-pole`` is to ``/dev/ttyUSB0``: pulling and
plugging the adapter makes a new pseudo-terminal appear behind the same path,
and the display starts blank, as one just powered up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from hw_sim.pole_decoder import Decoder, decoder_for
from hw_sim.scale import _point_link
from hw_sim.serial_line import PseudoSerialLine

PROTOCOLS = ("cd5220", "escpos", "led8")
LOG_NAME = "customer-display.log"
READ_SIZE = 4096


class SimulatedPoleDisplay:
    """A stateful customer display with verbs, reading a pseudo-terminal.

    Verbs (thread-safe): ``stall()`` (it stops taking bytes: the lane's writes fill
    the line and then block, as with a display that holds its handshake line),
    ``resume()``, ``pull_adapter()`` (the port goes away), ``plug_adapter()`` (a new
    one appears, the display blank). For tests: ``shown`` (the two lines, or the lamp
    and the number), ``lamp``, ``digits``, ``received`` (every byte, in order),
    ``unknown`` (commands the display did not know or ignored), ``non_ascii`` (bytes
    >= 0x80 taken as text), ``changes`` (what was shown, change by change) and
    ``wait_for(predicate, timeout)``. Closing it removes the port.
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        protocol: str = "cd5220",
        columns: int = 20,
        link: Path | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.columns = columns
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.out_dir / LOG_NAME
        self._link = link
        self._now = now
        self._changed = threading.Condition()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._decoder: Decoder = decoder_for(protocol, columns)
        self._unknown: list[bytes] = []
        self._non_ascii = 0
        self._received = bytearray()
        self._changes: list[tuple[str, ...]] = []
        self._logged = self._decoder.shown
        self._log = self.log_path.open("a", encoding="utf-8")
        self._line: PseudoSerialLine | None = None
        self.port: str = ""
        try:
            self.plug_adapter()
        except BaseException:
            self._log.close()
            raise

    # --- verbs ---------------------------------------------------------------------------

    def stall(self) -> None:
        """The display stops taking bytes (what is already read waits with it)."""
        self._flowing.clear()

    def resume(self) -> None:
        """The display takes bytes again, the ones held back first."""
        self._flowing.set()

    def pull_adapter(self) -> None:
        """The USB serial adapter is pulled: the link (if any) and the port go away (a
        stalled display is let go)."""
        self._pull(logged=True)

    def _pull(self, *, logged: bool) -> None:
        with self._changed:
            line, self._line = self._line, None
        if self._link is not None:
            self._link.unlink(missing_ok=True)
        if line is not None:
            self._flowing.set()  # a stalled reader must be let go to stop
            line.close()
            if logged:
                self._write_log("-- adapter pulled --")

    def plug_adapter(self) -> None:
        """An adapter is plugged in: a new pseudo-terminal, behind the same ``port``
        when there is a ``link``; the display starts blank."""
        if self._closed:
            raise RuntimeError("the simulated customer display is closed")
        if self._line is not None:
            return
        with self._changed:
            self._keep_counts()
            self._decoder = decoder_for(self.protocol, self.columns)
            self._logged = self._decoder.shown
        line = PseudoSerialLine("sim-pole", self._receive, read_size=READ_SIZE)
        with self._changed:
            self._line = line
        if self._link is None:
            self.port = line.port
        else:
            _point_link(self._link, line.port)
            self.port = str(self._link)

    # --- what the display shows ----------------------------------------------------------

    @property
    def shown(self) -> tuple[str, ...]:
        """The two lines of a character display, or (lamp, number) of an LED one."""
        with self._changed:
            return self._decoder.shown

    @property
    def lamp(self) -> str:
        """The LED display's lit lamp: ``off``, ``price``, ``total``, ``collect``, ``change``."""
        return self.shown[0]

    @property
    def digits(self) -> str:
        """The LED display's number (``""``: cleared)."""
        return self.shown[1]

    @property
    def received(self) -> bytes:
        """Every byte the lane wrote to the display, in order (across adapters)."""
        with self._changed:
            return bytes(self._received)

    @property
    def unknown(self) -> list[bytes]:
        """Commands the display did not know, or would have ignored."""
        with self._changed:
            return [*self._unknown, *self._decoder.unknown]

    @property
    def non_ascii(self) -> int:
        with self._changed:
            return self._non_ascii + self._decoder.non_ascii

    @property
    def changes(self) -> list[tuple[str, ...]]:
        """What the display showed, each change once, oldest first (as logged)."""
        with self._changed:
            return list(self._changes)

    def wait_for(self, predicate: Callable[[tuple[str, ...]], object], timeout: float) -> bool:
        """Wait until ``predicate(shown)`` is true; False when ``timeout`` passed first."""
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self._decoder.shown), timeout))

    # --- the display's side of the line --------------------------------------------------

    def _receive(self, data: bytes) -> None:
        self._flowing.wait()
        with self._changed:
            self._received += data
            self._decoder.feed(data)
            shown = self._decoder.shown
            if self._decoder.busy or shown == self._logged:
                return
            self._logged = shown
            self._changes.append(shown)
            self._write_log("|" + "|".join(self._cells(shown)) + "|")
            self._changed.notify_all()

    def _cells(self, shown: tuple[str, ...]) -> tuple[str, ...]:
        if self.protocol == "led8":
            lamp, digits = shown
            return (f"{lamp:<7}", f"{digits:>9}")
        return shown

    def _keep_counts(self) -> None:
        self._unknown += self._decoder.unknown
        self._non_ascii += self._decoder.non_ascii

    def _write_log(self, text: str) -> None:
        stamp = self._now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self._log.write(f"{stamp} {text}\n")
        self._log.flush()

    # --- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading and remove the port (and the link). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._pull(logged=False)
        self._log.close()

    def __enter__(self) -> SimulatedPoleDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
