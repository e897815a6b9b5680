"""The one table of ``bench.all``: each figure, its ceiling, its target and a verdict.

Pure: rows in, Markdown lines out. A row's target bounds either the figure itself or
its ratio to the ceiling measured in the same run; a target nobody set before is
marked "proposed". A row whose measurement failed says so and has no verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Bound(enum.Enum):
    AT_MOST = "≤"
    BELOW = "<"
    AT_LEAST = "≥"


class On(enum.Enum):
    FIGURE = "figure"
    RATIO = "ratio"  # figure / ceiling


@dataclass(frozen=True)
class Target:
    """``figure`` (or ``figure / ceiling``) ``bound`` ``limit``, in the row's unit.
    ``source``: where it was set ("bench.promotions") or "proposed"; ``note``: how it is
    read, when that needs saying ("≈ 1 read as ≤ 1.25")."""

    bound: Bound
    limit: float
    on: On = On.FIGURE
    source: str = "proposed"
    note: str = ""

    def holds(self, figure: float, ceiling: float | None) -> bool | None:
        """Whether the target is met; None when its ratio has no ceiling to divide by."""
        if self.on is On.RATIO:
            if not ceiling:
                return None
            figure = figure / ceiling
        if self.bound is Bound.AT_MOST:
            return figure <= self.limit
        if self.bound is Bound.BELOW:
            return figure < self.limit
        return figure >= self.limit

    def text(self, unit: str) -> str:
        limit = f"{self.limit:,g}"
        said = (
            f"{self.bound.value} {limit}× ceiling"
            if self.on is On.RATIO
            else f"{self.bound.value} {limit}{' ' + unit if unit else ''}"
        )
        if self.note:
            said += f" ({self.note})"
        return f"{said}, {self.source}" if self.source == "proposed" else f"{said} ({self.source})"


@dataclass(frozen=True)
class Row:
    """One measure. ``figure`` None: not measured (``failed`` says why). ``passed``
    is a check's verdict (``figure_text`` shows its outcome, ``target_text`` what it asks).
    ``why``: one factual line for when the target is missed (what it costs, what would
    close it); printed below the table only then."""

    name: str
    unit: str
    figure: float | None
    ceiling: float | None = None
    target: Target | None = None
    why: str = ""
    digits: int = 2
    figure_text: str = ""
    passed: bool | None = None
    target_text: str = ""
    failed: str = ""

    def verdict(self) -> str:
        if self.figure is None and self.passed is None:
            return "not measured"
        if self.passed is not None:
            return "met" if self.passed else "missed"
        if self.target is None or self.figure is None:
            return "—"
        held = self.target.holds(self.figure, self.ceiling)
        if held is None:
            return "—"
        return "met" if held else "missed"


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def cells(row: Row) -> list[str]:
    name = f"{row.name} ({row.unit})" if row.unit else row.name
    if row.figure is None and row.passed is None:
        figure = f"failed: {row.failed}" if row.failed else "—"
    else:
        figure = row.figure_text or _number(row.figure, row.digits)
    ratio = f"{row.figure / row.ceiling:.2f}" if row.figure is not None and row.ceiling else "—"
    return [
        name,
        figure,
        _number(row.ceiling, row.digits),
        ratio,
        row.target.text(row.unit) if row.target else row.target_text or "—",
        row.verdict(),
    ]


HEADER = ["measure", "figure", "ceiling", "figure / ceiling", "target", "verdict"]


def table(rows: Sequence[Row]) -> list[str]:
    """The Markdown table, a line a row (numbers right-aligned)."""
    body = [cells(row) for row in rows]
    widths = [max(len(r[i]) for r in [HEADER, *body]) for i in range(len(HEADER))]
    right = {1, 2, 3}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)
    )
    return [line(HEADER), rule + "|", *(line(r) for r in body)]


def misses(rows: Sequence[Row]) -> list[str]:
    """One line per missed target: the measure and why."""
    return [
        f"- missed: {row.name}: {row.why or 'no explanation recorded'}"
        for row in rows
        if row.verdict() == "missed"
    ]


def report(machine: Sequence[str], rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    """The machine, the table, a line per missed target, then ``notes``."""
    parts = [*machine, "", *table(rows)]
    missed = misses(rows)
    if missed:
        parts += ["", *missed]
    if notes:
        parts += ["", *notes]
    return "\n".join(parts)
