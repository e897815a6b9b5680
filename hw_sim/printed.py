"""What comes out of the simulated printer: printed lines and receipts, and the
things the printer's side must act on. Plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from hw_sim.escpos_graphics import Graphic


@dataclass(frozen=True)
class StatusRequest:
    """The host asked for real-time status ``DLE EOT n``; the printer answers one byte."""

    n: int


@dataclass(frozen=True)
class PaperOut:
    """The paper ran out: the printer is off-line until paper is loaded."""


@dataclass(frozen=True)
class PrintedLine:
    """One printed line: its text, the cells it takes (size included), alignment
    (0 left, 1 centre, 2 right), bold, size (width, height multipliers), the
    cells of each character, and the picture or symbol it is, if any."""

    text: str
    cells: int = 0
    align: int = 0
    bold: bool = False
    size: tuple[int, int] = (1, 1)
    widths: tuple[int, ...] = ()
    graphic: Graphic | None = None


@dataclass(frozen=True)
class PrintedReceipt:
    """Everything printed from one cut to the next, and the bytes that printed it
    (real-time status queries and bytes lost off-line left out). ``cut`` is
    ``False`` for a receipt the paper ran out in."""

    lines: tuple[PrintedLine, ...]
    raw: bytes
    columns: int
    cut: bool = True

    @property
    def text(self) -> str:
        """The receipt as plain text, each line placed as the printer placed it."""
        return "".join(place(line, self.columns).rstrip() + "\n" for line in self.lines)


def place(line: PrintedLine, columns: int) -> str:
    """``line`` with the spaces its alignment puts before it."""
    room = max(0, columns - line.cells)
    indent = (0, room // 2, room)[line.align]
    return " " * indent + line.text


Output = StatusRequest | PrintedReceipt | PaperOut
