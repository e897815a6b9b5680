"""The lane's log: one line per record on stdout, for the systemd journal.

A record reads ``LEVEL logger: message key=value …``; the ``key=value`` pairs
are the record's extra fields (``log.info("sale committed", extra={"seq": 41})``).
Under systemd (``JOURNAL_STREAM`` names our stdout) each line starts with a
``<N>`` syslog priority, which journald turns into the entry's priority
(``SyslogLevelPrefix=`` defaults to true), and carries no timestamp: the
journal has its own. Elsewhere (a terminal, a test) lines start with the local
time instead.

Secrets never reach the log: a filter replaces every configured secret (the
MQTT password) with ``***`` in the message, its extra fields and any
traceback, in case one ever ends up in an exception text or a URL.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import IO

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter "secrets" would garble every log line they occur in

# syslog priorities (sd-daemon.h): what journald reads from a "<N>" line prefix
PRIORITIES: Mapping[int, int] = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between two round down)."""
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return 7


def under_journald(stream: IO[str]) -> bool:
    """True when ``stream`` is the journal stream systemd gave us (``JOURNAL_STREAM``
    is ``device:inode`` of it; a child whose stdout was redirected must not count)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


class LaneFormatter(logging.Formatter):
    """``LEVEL logger: message key=value …`` with a ``<N>`` prefix for journald or a
    timestamp otherwise; a traceback's lines are indented (and prefixed) alike."""

    def __init__(self, *, journald: bool) -> None:
        super().__init__(datefmt="%Y-%m-%d %H:%M:%S")
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        fields = _fields(record)
        if fields:
            text += " " + fields
        extra = ""
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            extra = record.exc_text
        if record.stack_info:
            extra = (extra + "\n" if extra else "") + self.formatStack(record.stack_info)
        lines = [text] + ["  " + line for line in extra.splitlines()]
        if self.journald:
            prefix = f"<{priority(record.levelno)}>"
        else:
            prefix = self.formatTime(record, self.datefmt) + " "
        return "\n".join(prefix + line for line in lines)


def _fields(record: logging.LogRecord) -> str:
    pairs = []
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_"):
            continue
        pairs.append(f"{key}={_quote(value)}")
    return " ".join(pairs)


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text


class RedactSecrets(logging.Filter):
    """Replaces each secret with ``***`` in a record's message, extra fields and
    traceback before any handler formats it. Never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = self.redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _LaneHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler ``setup_logging`` installed, so a second call replaces it."""

    previous_level: int = logging.WARNING


def setup_logging(
    level: str | int,
    stream: IO[str] | None = None,
    *,
    secrets: Iterable[str] = (),
    journald: bool | None = None,
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (stdout), one line each.

    ``level`` is a name from the config (``debug``, ``info``, ``warning``,
    ``error``) or a logging number; ``secrets`` are redacted; ``journald`` None
    means: detect it. Replaces the handlers of earlier calls (and of
    ``logging.basicConfig``), so it can be called again once the config is read.
    """
    stream = stream if stream is not None else sys.stdout
    if journald is None:
        journald = under_journald(stream)
    numeric = level if isinstance(level, int) else logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = _LaneHandler(stream)
    handler.setFormatter(LaneFormatter(journald=journald))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    handler.previous_level = root.level
    for old in list(root.handlers):
        if isinstance(old, _LaneHandler):
            handler.previous_level = old.previous_level
        if isinstance(old, _LaneHandler) or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler


def reset_logging() -> None:
    """Undo ``setup_logging``: its handler goes, the root level is as before.

    The command line calls this when a command is done, so that a process that
    runs several commands (tests) does not keep writing to an old stream.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _LaneHandler):
            root.removeHandler(old)
            root.setLevel(old.previous_level)
