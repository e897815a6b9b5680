"""Lasting faults in the log: said once, then reminded at growing gaps.

A device unplugged or a broker down for a day must not write a line on every
retry (a scale polled every 2 s wrote 43,000 a day): a ``Reminder`` says a fault
when it starts or changes, again a minute later, the gap doubling up to an hour,
and once when it is over. Used by the drivers and the sync thread alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

FIRST_S = 60.0  # a lasting fault is said again after this, then at doubling gaps
MAX_S = 3600.0  # up to this: a fault left for a day writes about 30 lines


def age_text(seconds: float) -> str:
    """``5 s``, ``3 min``, ``1 h 3 min``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class Reminder:
    """A lasting fault in the log: said when it starts or changes, then again
    ``first_s`` seconds later, the gap doubling up to ``max_s``; never on every retry.

    ``fault(text)`` each time the fault is seen (``key`` tells one fault from another
    when the text varies, e.g. a byte count); ``clear(text)`` once it is over, which
    says so once with how long it lasted. ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        logger: logging.Logger,
        clock: Callable[[], float],
        *,
        first_s: float = FIRST_S,
        max_s: float = MAX_S,
    ) -> None:
        self._logger = logger
        self._clock = clock
        self._first_s = first_s
        self._max_s = max_s
        self._key: str | None = None
        self._since = 0.0
        self._said_at = 0.0
        self._gap = first_s

    def fault(self, text: str, *, key: str | None = None, exc_info: bool = False) -> None:
        now = self._clock()
        key = text if key is None else key
        if key != self._key:
            self._key, self._since, self._said_at, self._gap = key, now, now, self._first_s
            self._logger.warning("%s", text, exc_info=exc_info)
        elif now - self._said_at >= self._gap:
            self._said_at = now
            self._gap = min(self._gap * 2, self._max_s)
            self._logger.warning("%s (still, after %s)", text, age_text(now - self._since))

    def clear(self, text: str) -> None:
        if self._key is None:
            return
        self._key = None
        self._logger.info("%s (after %s)", text, age_text(self._clock() - self._since))
