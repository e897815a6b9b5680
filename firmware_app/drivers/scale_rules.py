"""What the scale driver decides from a run of answers: when a weight counts as
stable, and whether the scale obeyed a zero or a tare.

Pure: answers and times (seconds, from the driver's monotonic clock) in, readings
and results (``ScaleCommandResult``, the lane's event) out. Used from the driver's
thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from firmware_app.drivers.scale_frames import ScaleAnswer
from firmware_app.lane.events import ScaleCommandResult
from firmware_app.lane.weighing import (
    ScaleCommand,
    ScaleDone,
    ScaleReading,
    ScaleRefusal,
    ScaleStatus,
)

MOVING = ScaleReading(ScaleStatus.MOVING)


class Steadiness:
    """A weight counts as stable only after ``needed`` equal no-motion answers in a
    row (1: the scale's own no-motion flag is enough); until then it is ``MOVING``.

    Some scales call a load still while it is still settling; asking for a few equal
    answers keeps a settling weight off the sale. Equal means the same grams, the
    same printed text and the same net flag.
    """

    def __init__(self, needed: int) -> None:
        self._needed = max(1, needed)
        self._last: tuple[ScaleReading, bool] | None = None
        self._count = 0

    def reading(self, answer: ScaleAnswer) -> ScaleReading:
        """The reading the lane gets for ``answer``."""
        reading = answer.reading
        if reading.status is not ScaleStatus.STABLE:
            self.reset()
            return reading
        key = (reading, answer.net)
        self._count = min(self._count + 1, self._needed) if key == self._last else 1
        self._last = key
        return reading if self._count >= self._needed else MOVING

    def reset(self) -> None:
        """Start counting again (no answer, or a new connection)."""
        self._last, self._count = None, 0


# Why a command was refused, from the scale's state when it got it.
_COMMON_REASONS = {
    ScaleStatus.MOVING: ScaleRefusal.MOVING,
    ScaleStatus.OVER: ScaleRefusal.OVER,
    ScaleStatus.UNDER: ScaleRefusal.BELOW_ZERO,
    ScaleStatus.ERROR: ScaleRefusal.ERROR,
    ScaleStatus.SILENT: ScaleRefusal.ERROR,
}


def _zeroed(answer: ScaleAnswer, before: ScaleAnswer | None) -> ScaleDone | None:
    r = answer.reading
    stable_zero = r.status is ScaleStatus.STABLE and r.grams == 0
    return ScaleDone.ZEROED if stable_zero and not answer.net else None


def _tared(answer: ScaleAnswer, before: ScaleAnswer | None) -> ScaleDone | None:
    r = answer.reading
    if r.status is not ScaleStatus.STABLE:
        return None
    if answer.net and r.grams == 0:
        return ScaleDone.TARED
    # Scales with no clear-tare command clear the tare when tared with nothing on them.
    if before is not None and before.net and not answer.net and r.grams == 0:
        return ScaleDone.TARE_CLEARED
    return None


def _tare_cleared(answer: ScaleAnswer, before: ScaleAnswer | None) -> ScaleDone | None:
    readable = answer.reading.status not in (ScaleStatus.ERROR, ScaleStatus.SILENT)
    return ScaleDone.TARE_CLEARED if readable and not answer.net else None


def _zero_refusal(answer: ScaleAnswer) -> ScaleRefusal:
    status = answer.reading.status
    if answer.net and status in (ScaleStatus.STABLE, ScaleStatus.UNDER):
        return ScaleRefusal.TARE_ON
    if status in (ScaleStatus.STABLE, ScaleStatus.UNDER):
        return ScaleRefusal.OUT_OF_RANGE  # the scale zeroes a small load, or a small underload
    return _COMMON_REASONS[status]


def _tare_refusal(answer: ScaleAnswer) -> ScaleRefusal:
    r = answer.reading
    if r.status is not ScaleStatus.STABLE:
        return _COMMON_REASONS[r.status]
    if answer.net:
        return ScaleRefusal.TARE_ON
    return ScaleRefusal.EMPTY if r.grams == 0 else ScaleRefusal.ZERO_FIRST


def _clear_refusal(answer: ScaleAnswer) -> ScaleRefusal:
    return ScaleRefusal.TARE_KEPT if answer.net else _COMMON_REASONS[answer.reading.status]


Check = Callable[[ScaleAnswer, ScaleAnswer | None], ScaleDone | None]
_RULES: dict[ScaleCommand, tuple[Check, Callable[[ScaleAnswer], ScaleRefusal]]] = {
    ScaleCommand.ZERO: (_zeroed, _zero_refusal),
    ScaleCommand.TARE: (_tared, _tare_refusal),
    ScaleCommand.CLEAR_TARE: (_tare_cleared, _clear_refusal),
}


@dataclass(frozen=True)
class _Pending:
    command: ScaleCommand
    before: ScaleAnswer | None  # the last answer before the command went out
    sent_at: float
    first: ScaleAnswer | None = None  # the first answer after it: the refusal's reason


class CommandWatch:
    """Judges one command at a time from the answers to the weight requests after it.

    A scale that obeys shows it at once or within a reading or two (8217: no answer
    at all to ``Z``/``T``/``C``), so the command counts as obeyed on the first answer
    that shows it, and as refused when none has within ``window_s``. The reason
    comes from the first answer after the command: the scale's state when it got it.
    """

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._pending: _Pending | None = None

    @property
    def busy(self) -> bool:
        """A command is out and not judged yet: the next one waits."""
        return self._pending is not None

    def sent(self, command: ScaleCommand, before: ScaleAnswer | None, now: float) -> None:
        """``command`` went out at ``now``; ``before`` is the last answer before it."""
        self._pending = _Pending(command, before, now)

    def refused_by_scale(self) -> ScaleCommandResult | None:
        """The scale answered the command with "unknown command"."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        return ScaleCommandResult.refused(pending.command, ScaleRefusal.UNKNOWN)

    def observe(self, answer: ScaleAnswer, now: float) -> ScaleCommandResult | None:
        """The result once ``answer`` settles it; None while undecided (or idle)."""
        pending = self._pending
        if pending is None:
            return None
        obeyed, refusal = _RULES[pending.command]
        done = obeyed(answer, pending.before)
        if done is not None:
            self._pending = None
            return ScaleCommandResult.obeyed(pending.command, done)
        first = pending.first or answer
        if now - pending.sent_at < self._window_s:
            self._pending = replace(pending, first=first)
            return None
        self._pending = None
        return ScaleCommandResult.refused(pending.command, refusal(first))

    def drop(self) -> ScaleCommand | None:
        """Forget the command (the scale stopped answering); the one dropped, if any."""
        pending, self._pending = self._pending, None
        return pending.command if pending else None
