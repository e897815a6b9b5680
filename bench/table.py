"""Printing a benchmark's table (GitHub-flavoured Markdown, right-aligned numbers)."""

from __future__ import annotations

from collections.abc import Sequence


def ratio_row(name: str, lane: float, ceiling: float, target: str) -> list[str]:
    """A row of: what, the lane's figure, the ceiling's, their ratio and the target."""
    ratio = lane / ceiling if ceiling else float("inf")
    digits = 2 if max(lane, ceiling) < 100 else 0
    return [name, f"{lane:,.{digits}f}", f"{ceiling:,.{digits}f}", f"{ratio:.2f}", target]


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(c) for c in cells)
        parts = [first.ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
