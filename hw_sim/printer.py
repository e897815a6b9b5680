"""A simulated ESC/POS receipt printer on a pseudo-terminal.

The lane opens ``SimulatedPrinter(out_dir).port`` exactly as it opens the real
printer's serial port, so the real driver (``firmware_app.drivers.printer``)
runs unchanged on top of it. What arrives is interpreted by
``hw_sim.escpos_decoder``; at each cut the receipt is written to ``out_dir`` as
``receipt-0001.txt`` (UTF-8 text), ``receipt-0001.bin`` (the bytes that printed
it) and, with Pillow, ``receipt-0001.png`` (numbered from 1 in each run: files of
an earlier run in the same folder are overwritten). A receipt the paper ran out
in is written the same way, with what was printed of it.

Like a serial printer without a receive buffer, the simulated printer loses
what it receives while it cannot print (cover open, paper out, cutter error):
nothing of it is printed later, when the cover is closed or paper loaded. It
still answers ``DLE EOT`` then, as real printers do. Unplugged, it receives
nothing at all and answers nothing.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from hw_sim.escpos_decoder import EscposDecoder, Output, PaperOut, PrintedReceipt, StatusRequest
from hw_sim.receipt_png import render_png
from hw_sim.serial_line import PseudoSerialLine

QUIET_S = 0.1  # no byte for this long: the host has finished sending
READ_SIZE = 4096
PAPER_STATES = ("ok", "near-end", "out")

# DLE EOT answers: bits 1 and 4 always set, 0 and 7 always clear ((b & 0x93) == 0x12).
STATUS_BASE = 0x12
OFFLINE = 0x08  # n = 1
COVER_OPEN = 0x04  # n = 2
PAPER_END_STOP = 0x20  # n = 2
ERROR = 0x40  # n = 2
CUTTER_ERROR = 0x08  # n = 3
PAPER_NEAR_END = 0x0C  # n = 4
PAPER_END = 0x60  # n = 4
WRITER_STOP_S = 5.0  # on close, how long the receipts still being written may take


class SimulatedPrinter:
    """A stateful ESC/POS printer with verbs, reading a pseudo-terminal.

    ``columns``: cells across the paper (48: 80 mm paper). Verbs (thread-safe):
    ``paper("ok" | "near-end" | "out")``, ``paper_out_after(lines)``,
    ``cover(open)``, ``cutter_error(on)``, ``unplug()`` (input is lost and status
    queries get no answer), ``plug()``. With the cover open, no paper or a cutter
    error it prints nothing and loses what it receives; near the end of the paper
    it prints on. For runners and tests: ``receipts`` (texts, oldest first),
    ``printed`` (the decoded receipts), ``wait_for_receipt(number, timeout)``,
    ``idle(timeout)``, ``bytes_received``, ``status_byte(n)``. Receipts are
    written to files on a thread of their own, so drawing a picture never delays
    an answer to ``DLE EOT``. Closing it removes the port, as pulling the
    printer's cable adapter would.
    """

    def __init__(self, out_dir: Path, *, columns: int = 48, render_png: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._render_png = render_png
        self._decoder = EscposDecoder(columns)
        # Re-entrant: what a chunk of input causes (receipts, answers) is handled under it,
        # so a verb never lands between the decoder's state and the printer's.
        self._changed = threading.Condition(threading.RLock())
        self._printed: list[PrintedReceipt] = []
        self._cuts = 0  # receipts cut (or torn off), written or not yet
        self._bytes_received = 0
        self._last_byte_at = time.monotonic()
        self._paper = "ok"
        self._cover_open = False
        self._cutter_error = False
        self._plugged = True
        self._to_write: queue.Queue[tuple[int, PrintedReceipt] | None] = queue.Queue()
        self._writer = threading.Thread(
            target=self._write_files, name="sim-printer-files", daemon=True
        )
        self._writer.start()
        try:
            self._line = PseudoSerialLine("sim-printer", self._receive, read_size=READ_SIZE)
        except BaseException:
            self._stop_writer()
            raise
        self.port: str = self._line.port

    # --- verbs ---------------------------------------------------------------------------

    def paper(self, state: str) -> None:
        """The paper sensors: ``ok``, ``near-end`` or ``out`` (a roll loaded or taken
        out; cancels ``paper_out_after``)."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state must be one of {PAPER_STATES}, got {state!r}")
        with self._changed:
            self._paper = state
            self._decoder.paper_lines = None
            self._update_online()

    def paper_out_after(self, lines: int) -> None:
        """Paper for ``lines`` more printed lines (a line of text or a symbol); the
        next line finds none: it and the rest of what arrives are lost, what printed
        of the receipt is torn off (and written like a receipt), and the sensors
        report paper out."""
        if lines < 0:
            raise ValueError(f"lines must be 0 or more, got {lines}")
        with self._changed:
            self._decoder.paper_lines = lines

    def cover(self, open: bool) -> None:
        """Open (``True``) or close the cover."""
        with self._changed:
            self._cover_open = open
            self._update_online()

    def cutter_error(self, on: bool) -> None:
        """The auto-cutter jams (``True``: off-line, error) or is cleared."""
        with self._changed:
            self._cutter_error = on
            self._update_online()

    def unplug(self) -> None:
        """The cable is out: what the lane sends is lost, status queries go unanswered."""
        with self._changed:
            self._plugged = False

    def plug(self) -> None:
        """The cable is back."""
        with self._changed:
            self._plugged = True

    def _update_online(self) -> None:
        self._decoder.online = not self._offline()

    def _offline(self) -> bool:
        return self._cover_open or self._paper == "out" or self._cutter_error

    # --- what the lane printed -----------------------------------------------------------

    @property
    def receipts(self) -> list[str]:
        """The text of every receipt cut so far, oldest first."""
        with self._changed:
            return [receipt.text for receipt in self._printed]

    @property
    def printed(self) -> list[PrintedReceipt]:
        """Every receipt cut (or torn off: ``cut`` is ``False``) so far, decoded, with
        its raw bytes."""
        with self._changed:
            return list(self._printed)

    @property
    def bytes_received(self) -> int:
        """Bytes that reached the printer (while plugged in)."""
        with self._changed:
            return self._bytes_received

    def wait_for_receipt(self, number: int, timeout: float) -> str:
        """The text of receipt ``number`` (1 = the first), waiting up to ``timeout`` s
        for it to be cut and written; raises ``TimeoutError``."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._printed) >= number, timeout):
                raise TimeoutError(f"receipt {number} not printed within {timeout} s")
            return self._printed[number - 1].text

    def idle(self, timeout: float) -> bool:
        """Wait until no byte has arrived for ``QUIET_S`` (0.1 s) and every receipt cut
        is written; ``False`` if that has not happened after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_at = self._last_byte_at + QUIET_S
                if now >= quiet_at and len(self._printed) == self._cuts:
                    return True
                if now >= deadline:
                    return False
                # Still busy: wake when the line should be quiet, or when a file is written.
                wake = quiet_at if now < quiet_at else deadline
                self._changed.wait(min(wake, deadline) - now)

    def status_byte(self, n: int) -> int | None:
        """The answer to ``DLE EOT n`` in the present state (``None``: no answer)."""
        with self._changed:
            if not self._plugged or n not in (1, 2, 3, 4):
                return None
            paper_out = self._paper == "out"
            if n == 1:
                return STATUS_BASE | (OFFLINE if self._offline() else 0)
            if n == 2:
                cover = COVER_OPEN if self._cover_open else 0
                error = ERROR if self._cutter_error else 0
                return STATUS_BASE | cover | error | (PAPER_END_STOP if paper_out else 0)
            if n == 3:
                return STATUS_BASE | (CUTTER_ERROR if self._cutter_error else 0)
            if paper_out:
                return STATUS_BASE | PAPER_NEAR_END | PAPER_END  # both sensors see no paper
            return STATUS_BASE | (PAPER_NEAR_END if self._paper == "near-end" else 0)

    # --- the printer's side of the line ------------------------------------------------

    def _receive(self, data: bytes) -> None:
        with self._changed:
            if not self._plugged:
                return
            self._bytes_received += len(data)
            self._last_byte_at = time.monotonic()
            self._changed.notify_all()
            for output in self._decoder.feed(data):
                self._handle(output)

    def _handle(self, output: Output) -> None:
        """In the order the input caused them: a status asked after the paper ran out
        is answered with paper out."""
        if isinstance(output, StatusRequest):
            answer = self.status_byte(output.n)
            if answer is not None:
                self._line.write(bytes((answer,)))
        elif isinstance(output, PaperOut):
            self._paper = "out"
        else:
            self._cuts += 1
            self._to_write.put((self._cuts, output))

    def _write_files(self) -> None:
        while (job := self._to_write.get()) is not None:
            number, receipt = job
            stem = self.out_dir / f"receipt-{number:04d}"
            try:
                stem.with_suffix(".txt").write_text(receipt.text, encoding="utf-8")
                stem.with_suffix(".bin").write_bytes(receipt.raw)
                if self._render_png:
                    render_png(receipt, stem.with_suffix(".png"))
            finally:
                with self._changed:
                    self._printed.append(receipt)
                    self._changed.notify_all()

    # --- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading, finish writing the receipts cut, remove the port. Idempotent."""
        self._line.close()
        self._stop_writer()

    def _stop_writer(self) -> None:
        if self._writer.is_alive():
            self._to_write.put(None)
            self._writer.join(WRITER_STOP_S)

    def __enter__(self) -> SimulatedPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
