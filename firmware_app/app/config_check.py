"""``config check``'s second half: the files and directories a valid config names.

``config.load`` checks every value; ``check_files`` then looks at what those
values point to on this machine: the data directory, the display, the TLS files
and the receipt logo. ``config check`` reports every problem; ``run`` refuses to
start on a fatal one (exit 78) and logs the others, running without that part.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from firmware_app.config import Config, MqttConfig, PrinterConfig, os_error_text
from firmware_app.drivers.text_display import display_problem
from firmware_app.store.sqlite_files import READ_ONLY, on_read_only_fs


@dataclass(frozen=True)
class Problem:
    """One finding of ``check_files``: ``text`` names the config file, the key, the path
    and the reason. ``fatal``: ``run`` cannot start with it; otherwise the lane runs
    without that part (the broker link, the receipt logo) and logs why."""

    text: str
    fatal: bool = True


def check_files(config: Config) -> list[Problem]:
    """What ``run`` would find wrong with the files and directories the config names:
    the data directory (made when missing, so its nearest parent must allow that), the
    display, the TLS files (they can be read and hold certificates and a key) and the
    receipt logo. Devices are the doctor's business: one may be plugged in later."""
    found: list[Problem] = []

    def add(key: str, problem: str, *, fatal: bool = True) -> None:
        if problem:
            where = f"{key}: " if key else ""  # a TLS problem names its own keys
            found.append(Problem(f"{config.path}: {where}{problem}", fatal))

    add("lane.data_dir", _data_dir_problem(config.data_dir))
    for database in (config.database, config.catalog_database):
        add("lane.data_dir", _database_problem(database))
    add("display.device", display_problem(config.display.device))
    if config.ui_problem:  # the lane sells with the keypad, without its screen
        found.append(Problem(f"{config.ui_problem} (the lane runs without its screen)", False))
    if config.mqtt.tls:
        add("", _tls_problem(config.mqtt), fatal=False)
    if config.printer.enabled and config.printer.logo:
        add("printer.logo", _logo_problem(config.printer), fatal=False)
    return found


def _data_dir_problem(data_dir: str) -> str:
    path = Path(data_dir)
    probe = path
    while True:  # the nearest part of the path that exists
        try:
            info = os.stat(probe)
            break
        except (FileNotFoundError, NotADirectoryError):
            probe = probe.parent
        except OSError as e:
            return f"{data_dir}: {os_error_text(e)}"
    if not stat.S_ISDIR(info.st_mode):
        return (
            f"{data_dir}: {'not a directory' if probe == path else f'{probe} is not a directory'}"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        if on_read_only_fs(probe):
            return f"{data_dir}: {READ_ONLY}"
        if probe == path:
            return f"{data_dir}: not writable by {_user()}"
        return f"{data_dir}: does not exist, and {probe} is not writable by {_user()}"
    return ""


def _database_problem(path: Path) -> str:
    """A database file the lane may not write (copied in by root, say): SQLite would open
    it read-only without a word."""
    if not path.exists() or os.access(path, os.W_OK) or on_read_only_fs(path):
        return ""  # a read-only file system is the data directory's problem, said once
    return f"{path}: not writable by {_user()}"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _tls_problem(mqtt: MqttConfig) -> str:
    # Built exactly as the sync does, so what passes here connects there.
    from firmware_app.sync.errors import LinkError
    from firmware_app.sync.mqtt_client import tls_context

    try:
        tls_context(mqtt)
    except LinkError as e:
        return str(e)
    return ""


def _logo_problem(printer: PrinterConfig) -> str:
    from firmware_app.drivers.escpos_image import PAPER_DOTS, LogoError, load_logo

    try:
        with open(printer.logo, "rb"):
            pass
        load_logo(printer.logo, PAPER_DOTS.get(printer.paper_mm) or PAPER_DOTS[80])
    except OSError as e:
        return f"{printer.logo}: {os_error_text(e)} (receipts print without it)"
    except (LogoError, ValueError) as e:
        reason = str(e.__cause__ or e)
        return (
            f"{printer.logo}: not a picture the printer can use: {reason} "
            "(receipts print without it)"
        )
    return ""
