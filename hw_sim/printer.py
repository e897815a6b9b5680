"""A simulated ESC/POS receipt printer on a pseudo-terminal.

The lane opens ``SimulatedPrinter(out_dir).port`` exactly as it opens the real
printer's serial port, so the real driver (``firmware_app.drivers.printer``)
runs unchanged on top of it. What arrives is interpreted by
``hw_sim.escpos_decoder``; at each cut the receipt is written to ``out_dir`` as
``receipt-0001.txt`` (UTF-8 text), ``receipt-0001.bin`` (the bytes that printed
it) and, with Pillow, ``receipt-0001.png`` (numbered from 1 in each run: files of
an earlier run in the same folder are overwritten).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from hw_sim.escpos_decoder import EscposDecoder, PrintedReceipt, StatusRequest
from hw_sim.serial_line import PseudoSerialLine

logger = logging.getLogger(__name__)

QUIET_S = 0.1  # no byte for this long: the host has finished sending
READ_SIZE = 4096
PAPER_STATES = ("ok", "near-end", "out")

# DLE EOT answers: bits 1 and 4 always set, 0 and 7 always clear ((b & 0x93) == 0x12).
STATUS_BASE = 0x12
OFFLINE = 0x08  # n = 1
COVER_OPEN = 0x04  # n = 2
PAPER_END_STOP = 0x20  # n = 2
PAPER_NEAR_END = 0x0C  # n = 4
PAPER_END = 0x60  # n = 4


class SimulatedPrinter:
    """A stateful ESC/POS printer with verbs, reading a pseudo-terminal.

    ``columns``: cells across the paper (48: 80 mm paper). Verbs (thread-safe):
    ``paper("ok" | "near-end" | "out")``, ``cover(open)``, ``unplug()`` (input is
    lost and status queries get no answer), ``plug()``. They change only what
    ``DLE EOT`` reports: the printer goes on printing. For runners and tests:
    ``receipts`` (texts, oldest first), ``printed`` (the decoded receipts),
    ``wait_for_receipt(number, timeout)``, ``idle(timeout)``, ``bytes_received``.
    Closing it removes the port, as pulling the printer's cable adapter would.
    """

    def __init__(self, out_dir: Path, *, columns: int = 48, render_png: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._render_png = render_png
        self._decoder = EscposDecoder(columns)
        self._changed = threading.Condition()
        self._printed: list[PrintedReceipt] = []
        self._bytes_received = 0
        self._last_byte_at = time.monotonic()
        self._paper = "ok"
        self._cover_open = False
        self._plugged = True
        self._line = PseudoSerialLine("sim-printer", self._receive, read_size=READ_SIZE)
        self.port: str = self._line.port

    # --- verbs ---------------------------------------------------------------------------

    def paper(self, state: str) -> None:
        """The paper sensors: ``ok``, ``near-end`` or ``out``."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state must be one of {PAPER_STATES}, got {state!r}")
        with self._changed:
            self._paper = state

    def cover(self, open: bool) -> None:
        """Open (``True``) or close the cover."""
        with self._changed:
            self._cover_open = open

    def unplug(self) -> None:
        """The cable is out: what the lane sends is lost, status queries go unanswered."""
        with self._changed:
            self._plugged = False

    def plug(self) -> None:
        """The cable is back."""
        with self._changed:
            self._plugged = True

    # --- what the lane printed -----------------------------------------------------------

    @property
    def receipts(self) -> list[str]:
        """The text of every receipt cut so far, oldest first."""
        with self._changed:
            return [receipt.text for receipt in self._printed]

    @property
    def printed(self) -> list[PrintedReceipt]:
        """Every receipt cut so far, decoded, with its raw bytes."""
        with self._changed:
            return list(self._printed)

    @property
    def bytes_received(self) -> int:
        """Bytes that reached the printer (while plugged in)."""
        with self._changed:
            return self._bytes_received

    def wait_for_receipt(self, number: int, timeout: float) -> str:
        """The text of receipt ``number`` (1 = the first), waiting up to ``timeout`` s
        for it to be cut; raises ``TimeoutError``."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._printed) >= number, timeout):
                raise TimeoutError(f"receipt {number} not printed within {timeout} s")
            return self._printed[number - 1].text

    def idle(self, timeout: float) -> bool:
        """Wait until no byte has arrived for ``QUIET_S`` (0.1 s); ``False`` if the line
        is still busy after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_at = self._last_byte_at + QUIET_S
                if now >= quiet_at:
                    return True
                if now >= deadline:
                    return False
                self._changed.wait(min(quiet_at, deadline) - now)

    def status_byte(self, n: int) -> int | None:
        """The answer to ``DLE EOT n`` in the present state (``None``: no answer)."""
        with self._changed:
            if not self._plugged or n not in (1, 2, 3, 4):
                return None
            paper_out = self._paper == "out"
            if n == 1:
                offline = self._cover_open or paper_out
                return STATUS_BASE | (OFFLINE if offline else 0)
            if n == 2:
                cover = COVER_OPEN if self._cover_open else 0
                return STATUS_BASE | cover | (PAPER_END_STOP if paper_out else 0)
            if n == 3:
                return STATUS_BASE  # no cutter or other error is simulated
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
            if isinstance(output, StatusRequest):
                self._answer(output.n)
            else:
                self._cut(output)

    def _answer(self, n: int) -> None:
        answer = self.status_byte(n)
        if answer is not None:
            self._line.write(bytes((answer,)))

    def _cut(self, receipt: PrintedReceipt) -> None:
        with self._changed:
            number = len(self._printed) + 1
        stem = self.out_dir / f"receipt-{number:04d}"
        stem.with_suffix(".txt").write_text(receipt.text, encoding="utf-8")
        stem.with_suffix(".bin").write_bytes(receipt.raw)
        if self._render_png:
            _render_png(receipt, stem.with_suffix(".png"))
        with self._changed:
            self._printed.append(receipt)
            self._changed.notify_all()

    # --- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading and remove the port. Idempotent."""
        self._line.close()

    def __enter__(self) -> SimulatedPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- a picture of the paper ---------------------------------------------------------------

CELL_W, LINE_H, MARGIN = 12, 24, 12  # pixels: the Font A cell of a 203 dpi printer
FONT_PX = 20
MONO_FONTS = ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")


def _render_png(receipt: PrintedReceipt, path: Path) -> None:
    """Draw ``receipt`` on white paper, one character per cell (CJK glyphs need a CJK
    font: the monospace fonts found here may draw boxes for them)."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return
    heights = [LINE_H * line.size[1] for line in receipt.lines]
    image = Image.new("L", (receipt.columns * CELL_W + 2 * MARGIN, sum(heights) + 2 * MARGIN), 255)
    draw = ImageDraw.Draw(image)
    fonts: dict[tuple[bool, int], Any] = {}
    y = MARGIN
    for line, height in zip(receipt.lines, heights, strict=True):
        key = (line.bold, line.size[1])
        if key not in fonts:
            fonts[key] = _font(ImageFont, MONO_FONTS[line.bold], FONT_PX * line.size[1])
        room = max(0, receipt.columns - line.cells)
        x = MARGIN + (0, room // 2, room)[line.align] * CELL_W
        for ch, cells in zip(line.text, line.widths, strict=True):
            draw.text((x, y), ch, fill=0, font=fonts[key])
            x += CELL_W * cells
        y += height
    try:
        image.save(path)
    except OSError as e:
        logger.warning("receipt picture %s not written: %s", path, e)


def _font(image_font: ModuleType, name: str, size: int) -> Any:
    """PIL's font ``name`` at ``size`` px, or its built-in font when ``name`` is absent."""
    try:
        return image_font.truetype(name, size)
    except OSError:
        return image_font.load_default()
