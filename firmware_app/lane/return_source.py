"""Returns: what the lane reads of a finished sale to return its lines (``ReturnsPort``).

Plain values, so that the sale, the state and the ports can all name them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from firmware_app.lane.sale import Line, ReturnRef, SaleKind

__all__ = ["NotReturnable", "ReturnRef", "ReturnSource", "ReturnsPort"]


class NotReturnable(enum.Enum):
    """Why a receipt number finds no sale to return from."""

    UNKNOWN = "unknown"  # no sale of this lane had that number
    PRUNED = "pruned"  # it had, but the sale is older than the lane keeps sales
    TRAINING = "training"  # only a training sale has that number


@dataclass(frozen=True)
class ReturnSource:
    """A finished sale of this lane, as a return needs it: its kind, its lines, and per
    line number the quantity (thousandths) already given back by earlier returns."""

    lane: str
    receipt_no: int
    kind: SaleKind
    lines: tuple[Line, ...]
    returned: tuple[tuple[int, int], ...] = ()
    # Members and points: the sale's member, whether the store server had verified it,
    # and the points the sale earned (its ``lane.sale/1`` ``points``).
    member: str | None = None
    member_verified: bool = False
    points: int = 0

    def already_returned(self, no: int) -> int:
        return dict(self.returned).get(no, 0)


class ReturnsPort(Protocol):
    def sale_by_receipt(self, receipt_no: int) -> ReturnSource | NotReturnable:
        """This lane's finished sale with that receipt number, or why there is none."""
