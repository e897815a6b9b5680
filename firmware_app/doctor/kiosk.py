"""The kiosk: the cashier's screen on the Pi's own display (systemd/firmware-lane-kiosk.service,
installed by ``scripts/install-pi --kiosk``; docs/operations.md, "The cashier's screen").

``check_kiosk`` is the doctor's ``kiosk`` line: is the unit running where it is installed?

``python -I -m firmware_app.doctor.kiosk --env FILE`` is the unit's start step
(``ExecStartPre=+``, as root, because lane.toml may hold secrets the kiosk's user must not
read). It writes the pages' addresses from ``[ui]`` (with the token) to FILE, the unit's
``EnvironmentFile``, after waiting up to ``--wait`` seconds for the lane to answer
``/healthz``, so that the browser does not open on an error page while the lane starts.
It never stops the kiosk from starting: on any problem it says why (in the journal)
and the unit's defaults apply.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from firmware_app import config as config_mod
from firmware_app.config import UiConfig
from firmware_app.doctor.result import CheckResult
from firmware_app.doctor.screen import (
    HEALTH_TIMEOUT_S,
    Problem,
    ScreenProblem,
    fetch_health,
    page_url,
    where,
)
from firmware_app.doctor.units import KIOSK_UNIT, UnitStatus
from firmware_app.errors import ConfigError

KIOSK_CONSOLE = "/dev/tty1"  # the unit's TTYPath
DEFAULT_CONFIG = "/etc/firmware-lane/lane.toml"
POLL_S = 0.5
KIOSK_LOG = "journalctl -u firmware-lane-kiosk -b"


# --- the doctor's line ----------------------------------------------------------------------


def check_kiosk(display_device: str, *, status: Callable[[], UnitStatus | None]) -> CheckResult:
    """Passed when firmware-lane-kiosk is active; not checked when it is not installed
    (or systemd cannot be asked); failed when installed but not running, or when the
    lane's text display (``[display] device``) is the kiosk's console."""
    unit = status()
    if unit is None:
        return CheckResult("kiosk", None, "not checked: systemd is not running here")
    if unit.load == "masked":
        return CheckResult("kiosk", None, f"{KIOSK_UNIT} is masked")
    if not unit.installed:
        return CheckResult("kiosk", None, "not installed (sudo scripts/install-pi --kiosk)")
    if display_device == KIOSK_CONSOLE:
        return CheckResult(
            "kiosk",
            False,
            f'[display] device = "{KIOSK_CONSOLE}" is the kiosk\'s console: set it to "-" '
            "(the cashier's screen shows the lane's messages)",
        )
    state = unit.words()
    if unit.running:
        return CheckResult("kiosk", True, f"{KIOSK_UNIT} {state} on {KIOSK_CONSOLE}")
    if unit.active == "activating":
        return CheckResult("kiosk", False, f"{KIOSK_UNIT} {state}: it keeps stopping; {KIOSK_LOG}")
    if unit.active == "failed":
        return CheckResult(
            "kiosk",
            False,
            f"{KIOSK_UNIT} {state}: {KIOSK_LOG}, then sudo systemctl restart {KIOSK_UNIT}",
        )
    return CheckResult(
        "kiosk", False, f"{KIOSK_UNIT} {state}: sudo systemctl enable --now {KIOSK_UNIT}"
    )


# --- the unit's start step ------------------------------------------------------------------


def kiosk_environment(ui: UiConfig) -> str:
    """The unit's EnvironmentFile: the cashier's and the customer's page as a browser on
    this Pi opens them (systemd's ``KEY=value`` lines; the token is letters and digits)."""
    return (
        "# Written at every start of firmware-lane-kiosk from [ui] in lane.toml.\n"
        f"LANE_SCREEN_URL={page_url(ui, '/')}\n"
        f"LANE_CUSTOMER_URL={page_url(ui, '/customer')}\n"
    )


def wait_for_lane(
    ui: UiConfig,
    *,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Ask ``/healthz`` until the lane answers or ``wait_s`` has passed (``clock`` and
    ``sleep`` in seconds); returns the line to log. Only "nothing answers yet" is waited
    out: any other answer will not change by waiting."""
    at = where(ui)
    deadline = clock() + wait_s
    while True:
        try:
            health = fetch_health(ui, timeout_s=min(HEALTH_TIMEOUT_S, max(wait_s, 0.1)))
        except ScreenProblem as e:
            if e.problem not in (Problem.NOTHING, Problem.SILENT):
                return f"the lane's screen at {at}: {e.problem.value} ({e.reason})"
            if clock() >= deadline:
                return f"nothing answers on {at} after {wait_s:g} s: starting the browser anyway"
            sleep(POLL_S)
            continue
        return f"the lane answers at {at} (run {health.run})"


def write_environment(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, readable by its owner only (root: the
    token stays out of the kiosk user's files; systemd reads it as root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """The unit's start step; 0 when the file was written, 1 when the config could not be
    read (the file is then removed, so the unit's defaults apply)."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m firmware_app.doctor.kiosk",
        description="Write the kiosk's page addresses from [ui] in lane.toml.",
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="lane.toml (default: %(default)s)")
    parser.add_argument("--env", required=True, type=Path, help="the EnvironmentFile to write")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the lane to answer"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(FileNotFoundError):
        args.env.unlink()  # never a stale address
    try:
        config = config_mod.load(args.config)
    except ConfigError as e:
        print(f"kiosk: {e}: the kiosk opens the default address", file=out, flush=True)
        return 1
    if config.ui_problem:  # the lane runs without its screen; nothing to point at
        print(f"kiosk: {config.ui_problem}: the kiosk opens the default address", file=out)
        return 1
    ui = config.ui
    write_environment(args.env, kiosk_environment(ui))
    if not ui.enabled:
        print(
            f"kiosk: [ui] enabled = false in {args.config}: the lane serves no screen to show",
            file=out,
            flush=True,
        )
        return 0
    showing = f"kiosk: showing {page_url(ui, '/', token=False)}"
    if args.wait > 0:
        showing += f"; {wait_for_lane(ui, wait_s=args.wait)}"
    print(showing, file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
