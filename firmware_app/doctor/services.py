"""The doctor's checks of what is not a device: broker, databases, outbox, disk, clock.

The broker check logs in exactly as the lane does (its client id, credentials and
TLS) and waits for the CONNACK; it resumes the lane's session without changing it
(no clean start, the same session expiry, nothing acknowledged), so what the broker
keeps queued for the lane is still there for it afterwards. The database checks
open the files without creating them: a missing database is a finding, not
something to repair behind the technician's back.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware_app.config import Config, MqttConfig
from firmware_app.doctor.result import (
    FILE_ADVICE,
    CheckResult,
    errno_text,
    errno_words,
    in_use,
    one_line,
    path_problem,
)
from firmware_app.store.sqlite_files import READ_ONLY, on_read_only_fs
from firmware_app.sync.mqtt_client import broker_error_text

CONNACK_TIMEOUT_S = 5.0
UNSUPPORTED_PROTOCOL = 132  # CONNACK: the broker does not speak MQTT 5
LOGIN_REFUSED = (134, 135)  # bad user name or password, not authorized
INTEGRITY_TIMEOUT_S = 60.0  # a large lane.db on an SD card takes a while
INTEGRITY_ROWS = 5  # problems shown at most
MIN_FREE_BYTES = 200 * 1024 * 1024
MIN_FREE_FRACTION = 0.05
EARLIEST_YEAR = 2024  # a clock before this was never set (a Pi boots at 1970 without NTP)
CLOCK_BACK_TOLERANCE = timedelta(minutes=1)


# --- broker -------------------------------------------------------------------------------


def broker_where(config: MqttConfig) -> str:
    """The broker's address as the line shows it: never any credentials."""
    return f"{'mqtts' if config.tls else 'mqtt'}://{config.host}:{config.port}"


def check_broker(
    config: MqttConfig, *, client_id: str, connack_timeout_s: float = CONNACK_TIMEOUT_S
) -> CheckResult:
    """Connect with the configured URL, credentials and TLS; passed on a CONNACK that
    accepts, failed with the reason otherwise. The password is never shown."""
    where = broker_where(config)
    tls_problem = _tls_problem(config)
    if tls_problem:
        return CheckResult("broker", False, f"{where}: {tls_problem}")
    answer = _connect(config, client_id, mqtt5=True, timeout_s=connack_timeout_s)
    if answer.refused_code == UNSUPPORTED_PROTOCOL:
        answer = _connect(config, client_id, mqtt5=False, timeout_s=connack_timeout_s)
    if answer.error:
        return CheckResult("broker", False, f"{where}: {answer.error}")
    if answer.refused_code is not None:
        code = answer.refused_code
        hint = "; check mqtt.username and mqtt.password" if code in LOGIN_REFUSED else ""
        return CheckResult("broker", False, f"{where}: refused: {answer.refused}{hint}")
    how = ["TLS" if config.tls else "no TLS"]
    how.append(f"user {config.username}" if config.username else "no login")
    return CheckResult(
        "broker",
        True,
        f"{where}: connected as {client_id} (MQTT {answer.version}, {', '.join(how)})",
    )


@dataclass(frozen=True)
class _Answer:
    """How one connection attempt ended: accepted (``version``), refused at CONNACK
    (``refused_code``, ``refused``), or failed before it (``error``)."""

    version: str = ""
    refused_code: int | None = None
    refused: str = ""
    error: str = ""


def _tls_problem(config: MqttConfig) -> str:
    """The TLS files as the lane loads them: the key and file that cannot be used."""
    from firmware_app.sync.errors import LinkError
    from firmware_app.sync.mqtt_client import tls_context

    if not config.tls:
        return ""
    try:
        tls_context(config)
    except LinkError as e:
        return str(e)
    return ""


def _connect(config: MqttConfig, client_id: str, *, mqtt5: bool, timeout_s: float) -> _Answer:
    """One CONNECT exactly as the lane makes it (``MqttLink``: TLS, login, MQTT 5 with the
    lane's persistent session), and how it ended. Whatever the broker kept for the lane
    is never acknowledged here: it is delivered to the lane on its next connection."""
    from firmware_app.sync.errors import LinkError
    from firmware_app.sync.mqtt_client import Connected, Disconnected, MqttLink

    events: queue.Queue[Any] = queue.Queue()
    link = MqttLink(config, client_id=client_id, number=1, post=events.put, will=None, mqtt5=mqtt5)
    try:
        link.open()
    except LinkError as e:
        return _Answer(error=_open_error(e.__cause__ or e, config))
    try:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, Connected):
                if not event.ok:
                    return _Answer(refused_code=event.code, refused=event.reason)
                return _Answer(version="5" if mqtt5 else "3.1.1")
            if isinstance(event, Disconnected):
                return _Answer(error=f"connection closed before the CONNACK ({event.reason})")
        return _Answer(error=f"connected, but no CONNACK within {timeout_s:g} s")
    finally:
        with contextlib.suppress(Exception):
            link.close()


def _open_error(error: BaseException, config: MqttConfig) -> str:
    """Why the connection failed before the CONNECT, in words with advice."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: server certificate not accepted: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or one_line(str(error))}"
    if isinstance(error, TimeoutError):
        from firmware_app.sync.mqtt_client import CONNECT_TIMEOUT_S

        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(error, OSError):
        if config.tls and error.errno == errno.ECONNRESET:
            words = errno_words(error.errno, error.strerror)
            return f"{words} during the TLS handshake: is this port the broker's TLS listener?"
        return broker_error_text(error, config.host, config.port)
    return one_line(str(error))


# --- databases ----------------------------------------------------------------------------


def _open_existing(path: Path, timeout_s: float) -> sqlite3.Connection:
    """Open a database file that must exist; never creates one."""
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=rw", uri=True, timeout=timeout_s, isolation_level=None
    )
    return conn


def check_database(name: str, path: Path, *, timeout_s: float = INTEGRITY_TIMEOUT_S) -> CheckResult:
    """``PRAGMA integrity_check`` on ``path``; a missing file fails with its path."""
    problem = path_problem(str(path), FILE_ADVICE)
    if problem:
        return CheckResult(name, False, problem)
    if on_read_only_fs(path):  # it may read, but the lane cannot start on it
        return CheckResult(name, False, f"{path}: {READ_ONLY}")
    deadline = time.monotonic() + timeout_s
    try:
        conn = _open_existing(path, min(timeout_s, 10.0))
    except sqlite3.Error as e:
        return CheckResult(name, False, f"{path}: {e}")
    try:
        # Runs every 10000 virtual machine steps: a non-zero answer interrupts the check.
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA integrity_check({INTEGRITY_ROWS})")]
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            return CheckResult(name, False, f"{path}: check not finished within {timeout_s:g} s")
        if "locked" in str(e):
            return CheckResult(name, False, f"{path}: {e} — {in_use()}")
        return CheckResult(name, False, f"{path}: {e}")
    except sqlite3.DatabaseError as e:
        return CheckResult(name, False, f"{path}: {e}")
    finally:
        conn.close()
    if rows == ["ok"]:
        return CheckResult(name, True, f"{path}: integrity ok, {_size(path.stat().st_size)}")
    return CheckResult(name, False, f"{path}: integrity check failed: {'; '.join(rows)}")


def check_outbox(path: Path, *, warn_after_min: float, now: datetime) -> CheckResult:
    """How many messages wait for the store server's ack, and how old the oldest is:
    failed when older than ``mqtt.backlog_warning_min``."""
    from firmware_app.store.outbox import Outbox

    if not path.exists():
        return CheckResult("outbox", None, f"not checked: {path} missing")
    try:
        conn = _open_existing(path, 10.0)
        try:
            stats = Outbox(conn).stats()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return CheckResult("outbox", False, f"{path}: {e}")
    count, created, seq = stats.pending, stats.oldest_at, stats.oldest_seq
    if not count:
        return CheckResult("outbox", True, "0 messages waiting for the store server")
    try:
        age = max(timedelta(0), now - datetime.fromisoformat(str(created)))
    except (TypeError, ValueError):
        return CheckResult("outbox", False, f"{path}: seq {seq} has a bad time {created!r}")
    waiting = f"{count} message{'s' if count != 1 else ''} waiting, oldest {_age(age)} old"
    limit = timedelta(minutes=warn_after_min)
    if age > limit:
        return CheckResult(
            "outbox",
            False,
            f"{waiting} (seq {seq}, {created}), over mqtt.backlog_warning_min "
            f"({warn_after_min:g} min): is the store server acknowledging?",
        )
    return CheckResult("outbox", True, f"{waiting} (seq {seq})")


# --- disk and clock -----------------------------------------------------------------------


def check_disk(data_dir: str, *, disk_usage: Callable[[str], Any]) -> CheckResult:
    """Free space where the databases grow: failed below 200 MB or 5 %."""
    problem = path_problem(data_dir, FILE_ADVICE)
    if problem:
        return CheckResult("disk", False, problem)
    if on_read_only_fs(Path(data_dir)):
        return CheckResult("disk", False, f"{data_dir}: {READ_ONLY}")
    try:
        usage = disk_usage(data_dir)
    except OSError as e:
        return CheckResult("disk", False, f"{data_dir}: {errno_text(e, FILE_ADVICE)}")
    share = usage.free / usage.total if usage.total else 0.0
    detail = f"{data_dir}: {_size(usage.free)} free of {_size(usage.total)} ({share:.0%})"
    if usage.free < MIN_FREE_BYTES or share < MIN_FREE_FRACTION:
        limit = f"{_size(MIN_FREE_BYTES)} or {MIN_FREE_FRACTION:.0%}"
        return CheckResult("disk", False, f"{detail}: below {limit}; sales need room")
    return CheckResult("disk", True, detail)


def check_clock(
    config: Config,
    *,
    now: Callable[[], datetime],
    synchronized: Callable[[], bool | None],
) -> CheckResult:
    """The time the lane would stamp a sale with (offset included), whether NTP keeps
    it right, and that it is not before what ``lane.db`` already recorded."""
    zone = ""
    if config.timezone:
        try:
            ZoneInfo(config.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as e:
            return CheckResult(
                "clock", False, f"lane.timezone {config.timezone!r}: unknown time zone ({e})"
            )
        zone = f" {config.timezone}"
    t = now()
    shown = f"{t.isoformat(timespec='seconds')}{zone}"
    if t.year < EARLIEST_YEAR:
        return CheckResult("clock", False, f"{shown}: the clock is not set")
    newest = _newest_record(config.database)
    if newest is not None and t < newest - CLOCK_BACK_TOLERANCE:
        return CheckResult(
            "clock",
            False,
            f"{shown}: before the newest time in {config.database} "
            f"({newest.isoformat(timespec='seconds')}): the clock went back",
        )
    synced = synchronized()
    if synced is False:
        return CheckResult(
            "clock", False, f"{shown}: not synchronised (no NTP); see timedatectl status"
        )
    state = "NTP synchronised" if synced else "synchronisation unknown"
    return CheckResult("clock", True, f"{shown}, {state}")


def _newest_record(path: Path) -> datetime | None:
    """The latest time the lane wrote into its database (outbox, finished sales)."""
    from firmware_app.store.models import Transaction
    from firmware_app.store.outbox import Outbox

    if not path.exists():
        return None
    found: list[datetime] = []
    with contextlib.suppress(sqlite3.Error):
        conn = _open_existing(path, 5.0)
        try:
            values = [Outbox(conn).newest_at()]
            with contextlib.suppress(sqlite3.Error):
                table = Transaction._meta.table_name
                values.append(conn.execute(f'SELECT MAX(closed_at) FROM "{table}"').fetchone()[0])
            for value in values:
                with contextlib.suppress(TypeError, ValueError):
                    stamp = datetime.fromisoformat(value) if value else None
                    if stamp is not None and stamp.tzinfo is not None:
                        found.append(stamp)
        finally:
            conn.close()
    return max(found, default=None)


def _size(n: float) -> str:
    """Bytes for a person: ``812 B``, ``1.5 MB``, ``12.3 GB``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GB"


def _age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"
