"""The systemd units: ``systemd-analyze verify`` finds nothing to say (where it is
installed), the service is what the lane needs (notify, watchdog, restart, its user,
hardening, its devices), and each ExecStart is a command line the real CLI accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_app.app import cli

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
NAMES = ("firmware-lane.service", "firmware-lane-backup.service", "firmware-lane-backup.timer")
EXEC = "/opt/firmware-lane/venv/bin/firmware-lane"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)


def directives(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; keys may repeat, as systemd allows."""
    section = ""
    found = []
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def values(name: str, section: str, key: str) -> list[str]:
    return [v for s, k, v in directives(name) if (s, k) == (section, key)]


def one(name: str, section: str, key: str) -> str:
    found = values(name, section, key)
    assert len(found) == 1, f"{name}: [{section}] {key}: {found}"
    return found[0]


def verify(directory: Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *(f"./{n}" for n in NAMES)],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_has_nothing_to_say(tmp_path: Path) -> None:
    # The venv is not installed here: point ExecStart at a program that exists, so any
    # other complaint (a misspelt key, a bad value, a missing unit) shows.
    for name in NAMES:
        text = (UNITS / name).read_text()
        (tmp_path / name).write_text(text.replace(EXEC, sys.executable))
    result = verify(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@needs_systemd_analyze
def test_verify_of_the_units_as_shipped_complains_only_of_the_missing_venv() -> None:
    result = verify(UNITS)
    lines = [line for line in result.stderr.splitlines() if line]
    missing = f"Command {EXEC} is not executable: No such file or directory"
    assert lines == [
        f"firmware-lane.service: {missing}",
        f"firmware-lane-backup.service: {missing}",
    ]


@needs_systemd_analyze
def test_verify_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    """The check above means something: verify reports what it does not know."""
    text = (UNITS / "firmware-lane.service").read_text().replace(EXEC, sys.executable)
    (tmp_path / "firmware-lane.service").write_text(text.replace("WatchdogSec=", "WatchdogSecs="))
    for name in NAMES[1:]:
        (tmp_path / name).write_text((UNITS / name).read_text().replace(EXEC, sys.executable))
    assert "Unknown key 'WatchdogSecs'" in verify(tmp_path).stderr


def test_lane_service_notifies_is_watched_and_always_restarts() -> None:
    unit = "firmware-lane.service"
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    watchdog = one(unit, "Service", "WatchdogSec")
    assert watchdog.endswith("s") and int(watchdog[:-1]) >= 10  # well above the loop's 0.5 s
    assert one(unit, "Service", "Restart") == "always"
    assert one(unit, "Unit", "StartLimitIntervalSec") == "0"
    assert one(unit, "Service", "User") == "lane"
    assert one(unit, "Service", "Group") == "lane"
    assert one(unit, "Service", "SupplementaryGroups").split() == [
        "input",
        "dialout",
        "gpio",
        "tty",
    ]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_lane_service_is_hardened_and_sees_only_its_devices() -> None:
    unit = "firmware-lane.service"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ReadWritePaths": "/var/lib/firmware-lane",
        "DevicePolicy": "closed",
        "CapabilityBoundingSet": "",
    }.items():
        assert one(unit, "Service", key) == value, key
    allowed = set(values(unit, "Service", "DeviceAllow"))
    assert allowed == {
        "char-input rw",
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-ttyAMA rw",
        "char-ttyS rw",
        "char-gpiochip rw",
        "/dev/gpiochip0 rw",
        "/dev/gpiomem rw",
    }
    # The lane must reach the devices; PrivateDevices would hide them all.
    assert not values(unit, "Service", "PrivateDevices")


def test_lane_service_lets_the_lane_read_the_clock_state_and_use_gpio() -> None:
    unit = "firmware-lane.service"
    # firmware_app/clock.py asks adjtimex whether NTP synchronised the clock;
    # ProtectClock= would forbid the call and hide an unsynchronised clock.
    assert not values(unit, "Service", "ProtectClock")
    assert "adjtimex" in values(unit, "Service", "SystemCallFilter")
    assert one(unit, "Service", "CapabilityBoundingSet") == ""  # so it cannot set it
    # lgpio's pipes go to the runtime directory, the one place besides the data it writes.
    assert one(unit, "Service", "RuntimeDirectory") == "firmware-lane"
    assert "LG_WD=/run/firmware-lane" in values(unit, "Service", "Environment")


def test_backup_runs_on_a_timer_and_writes_only_data_and_the_stick() -> None:
    service, timer = "firmware-lane-backup.service", "firmware-lane-backup.timer"
    assert one(service, "Service", "Type") == "oneshot"
    assert one(service, "Service", "User") == "lane"
    assert one(service, "Service", "ReadWritePaths").split() == [
        "/var/lib/firmware-lane",
        "-/mnt/lane-backup",
    ]
    assert "/mnt/lane-backup" in one(service, "Unit", "RequiresMountsFor").split()
    assert one(service, "Service", "ProtectSystem") == "strict"
    assert one(timer, "Timer", "Unit") == service
    assert one(timer, "Install", "WantedBy") == "timers.target"
    assert one(timer, "Timer", "OnBootSec")
    # In step with the config's documented default interval.
    from firmware_app.config import BackupConfig

    assert one(timer, "Timer", "OnUnitActiveSec") == f"{BackupConfig().interval_min}min"


def command_line(unit: str) -> list[str]:
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert argv[0] == EXEC
    return argv[1:]


def test_lane_exec_start_is_a_command_the_cli_takes() -> None:
    argv = command_line("firmware-lane.service")
    assert argv == ["run", "--config", "/etc/firmware-lane/lane.toml"]
    args = cli._parser().parse_args(argv)
    assert args.command == "run"
    assert args.config_opt == "/etc/firmware-lane/lane.toml"


def test_backup_exec_start_is_a_command_the_cli_takes() -> None:
    argv = command_line("firmware-lane-backup.service")
    assert argv == ["backup", "--config", "/etc/firmware-lane/lane.toml"]
    parser = cli._parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    if "backup" not in commands:
        pytest.skip("firmware-lane backup is not in this build's command line yet")
    assert parser.parse_args(argv).command == "backup"
