"""The kiosk: firmware-lane-kiosk.service (cage and Chromium on tty1 showing the lane's
page), its customer-screen drop-in (sway, a page per output), scripts/kiosk-browser
(the browser's flags, run against a stand-in browser that records them) and the unit's
start step (the pages' addresses from lane.toml, against a real HTTP server)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_app import config as config_mod
from firmware_app.config import UiConfig
from firmware_app.doctor import kiosk
from firmware_app.doctor.screen import page_url
from hw_sim.broker import free_port
from tests.drivers.healthz import Answer, HealthServer
from tests.pi.test_units import directives, one, values
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
KIOSK = "firmware-lane-kiosk.service"
DROP_IN = UNITS / "firmware-lane-kiosk.service.d" / "customer-screen.conf"
SWAY_CONF = UNITS / "kiosk" / "sway.conf"
SCREENS_CONF = UNITS / "kiosk" / "screens.conf"
BROWSER = ROOT / "scripts" / "kiosk-browser"
INSTALLED_BROWSER = "/opt/firmware-lane/bin/kiosk-browser"
VENV_PYTHON = "/opt/firmware-lane/venv/bin/python"
ENV_FILE = "/run/firmware-lane-kiosk.env"
TOKEN = "0123456789abcdefABCDEF"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)


# --- the unit -------------------------------------------------------------------------------


def test_kiosk_runs_cage_and_the_browser_on_the_lanes_page() -> None:
    argv = shlex.split(one(KIOSK, "Service", "ExecStart"))
    assert argv == ["/usr/bin/cage", "-d", "-s", "--", INSTALLED_BROWSER, "cashier"]
    # The defaults, before lane.toml is read, are the config's own default address.
    environment = " ".join(values(KIOSK, "Service", "Environment")).split()
    assert f"LANE_SCREEN_URL={page_url(UiConfig(), '/')}" in environment
    assert f"LANE_CUSTOMER_URL={page_url(UiConfig(), '/customer')}" in environment
    assert page_url(UiConfig(), "/") == "http://127.0.0.1:8080/"


def test_kiosk_follows_the_lane_and_always_restarts() -> None:
    wants = " ".join(values(KIOSK, "Unit", "Wants")).split()
    after = " ".join(values(KIOSK, "Unit", "After")).split()
    assert "firmware-lane.service" in wants
    assert "firmware-lane.service" in after
    assert {"systemd-logind.service", "dbus.socket"} <= set(wants)
    assert {"systemd-logind.service", "getty@tty1.service"} <= set(after)
    # Not bound to the lane: a lane restart must not blank the screen.
    assert not values(KIOSK, "Unit", "BindsTo") and not values(KIOSK, "Unit", "PartOf")
    assert one(KIOSK, "Service", "Restart") == "always"
    restart_sec = one(KIOSK, "Service", "RestartSec")
    assert restart_sec.endswith("s") and 2 <= int(restart_sec[:-1]) <= 30
    assert one(KIOSK, "Unit", "StartLimitIntervalSec") == "0"
    assert one(KIOSK, "Install", "WantedBy") == "multi-user.target"


def test_kiosk_is_a_login_session_of_its_own_user_on_tty1() -> None:
    assert one(KIOSK, "Service", "User") == "lane-kiosk"
    assert one(KIOSK, "Service", "Group") == "lane-kiosk"
    assert not values(KIOSK, "Service", "SupplementaryGroups")  # its groups come from /etc/group
    assert one(KIOSK, "Service", "PAMName") == "login"
    assert one(KIOSK, "Service", "TTYPath") == "/dev/tty1"
    assert one(KIOSK, "Service", "StandardInput") == "tty-fail"
    for key in ("TTYReset", "TTYVHangup", "TTYVTDisallocate"):
        assert one(KIOSK, "Service", key) == "yes", key
    assert one(KIOSK, "Service", "UtmpIdentifier") == "tty1"
    assert one(KIOSK, "Unit", "Conflicts") == "getty@tty1.service"
    assert one(KIOSK, "Unit", "ConditionPathExists") == "/dev/tty0"
    environment = " ".join(values(KIOSK, "Service", "Environment")).split()
    assert "XDG_SESSION_TYPE=wayland" in environment
    # The text display of the lane uses the same console name the doctor guards.
    assert one(KIOSK, "Service", "TTYPath") == kiosk.KIOSK_CONSOLE


def test_kiosk_profile_lives_in_memory_and_is_new_at_every_start() -> None:
    assert one(KIOSK, "Service", "RuntimeDirectory") == "firmware-lane-kiosk"
    assert one(KIOSK, "Service", "RuntimeDirectoryMode") == "0700"
    assert not values(KIOSK, "Service", "RuntimeDirectoryPreserve")  # removed at each stop
    environment = " ".join(values(KIOSK, "Service", "Environment")).split()
    assert "HOME=/run/firmware-lane-kiosk" in environment
    assert "WLR_LIBINPUT_NO_DEVICES=1" in environment


def test_the_start_step_reads_lane_toml_as_root_and_never_stops_the_kiosk() -> None:
    command = one(KIOSK, "Service", "ExecStartPre")
    prefix, _, rest = command.partition("/")
    assert set(prefix) == {"-", "+"}  # failure ignored; run with full privileges (as root)
    argv = shlex.split("/" + rest)
    assert argv[:4] == [VENV_PYTHON, "-I", "-m", "firmware_app.doctor.kiosk"]
    assert argv[4:] == [
        "--config",
        "/etc/firmware-lane/lane.toml",
        "--env",
        ENV_FILE,
        "--wait",
        "30",
    ]
    assert one(KIOSK, "Service", "EnvironmentFile") == f"-{ENV_FILE}"
    wait = float(argv[-1])
    timeout = one(KIOSK, "Service", "TimeoutStartSec")
    assert int(timeout.rstrip("s")) > wait + 15  # the wait, and Python starting on a Pi
    # The module the unit names is there, and takes those arguments.
    done = subprocess.run(
        [sys.executable, "-I", "-m", "firmware_app.doctor.kiosk", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--config", "--env", "--wait"):
        assert option in done.stdout


def test_the_drop_in_swaps_cage_for_sway() -> None:
    lines = [line for line in DROP_IN.read_text().splitlines() if line and line[0] not in "#;"]
    assert lines == [
        "[Service]",
        "ExecStart=",
        "ExecStart=/usr/bin/sway --config /opt/firmware-lane/kiosk/sway.conf",
    ]


def verify_copy(tmp_path: Path, *, drop_in: str | None = None) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` of the kiosk unit (and the lane's, which it wants), with
    programs not installed here pointed at one that is."""
    assert SYSTEMD_ANALYZE is not None
    for name in (KIOSK, "firmware-lane.service"):
        text = (UNITS / name).read_text()
        for program in (VENV_PYTHON, INSTALLED_BROWSER, "/usr/bin/cage", "/usr/bin/sway"):
            text = text.replace(program, sys.executable)
        text = text.replace("/opt/firmware-lane/venv/bin/firmware-lane", sys.executable)
        (tmp_path / name).write_text(text)
    if drop_in is not None:
        (tmp_path / f"{KIOSK}.d").mkdir()
        (tmp_path / f"{KIOSK}.d" / "customer-screen.conf").write_text(drop_in)
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", f"./{KIOSK}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_has_nothing_to_say_of_the_kiosk(tmp_path: Path) -> None:
    drop_in = DROP_IN.read_text().replace("/usr/bin/sway", sys.executable)
    result = verify_copy(tmp_path, drop_in=drop_in)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@needs_systemd_analyze
def test_verify_reads_the_drop_in(tmp_path: Path) -> None:
    """The check above covers the drop-in: a mistake in it is reported."""
    drop_in = DROP_IN.read_text().replace("ExecStart=/usr/bin/sway", "ExecStrt=/usr/bin/sway")
    assert "Unknown key 'ExecStrt'" in verify_copy(tmp_path, drop_in=drop_in).stderr


def test_every_directive_is_in_its_section() -> None:
    sections = {section for section, _, _ in directives(KIOSK)}
    assert sections == {"Unit", "Service", "Install"}


# --- the browser ------------------------------------------------------------------------------


def stand_in_browser(tmp_path: Path, *, then: str = "") -> Path:
    """A ``chromium`` that writes its arguments, one a line, to args.N (N counting its
    runs) and then runs ``then`` (shell)."""
    program = tmp_path / "bin" / "chromium"
    program.parent.mkdir(exist_ok=True)
    program.write_text(
        "#!/bin/sh\n"
        f'n=$(ls {tmp_path} | grep -c "^args\\.") \n'
        f'printf "%s\\n" "$@" > {tmp_path}/args.$n\n'
        f"{then}\n"
    )
    program.chmod(0o755)
    return program


def browse(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    # Only the stand-in browser and the few tools the scripts use: never a real browser.
    tools = tmp_path / "tools"
    if not tools.exists():
        tools.mkdir()
        for name in ("rm", "mkdir", "ls", "grep", "sleep"):
            found = shutil.which(name)
            assert found is not None, name
            (tools / name).symlink_to(found)
    base = {
        "PATH": f"{tmp_path / 'bin'}:{tools}",
        "KIOSK_STATE": str(tmp_path / "state"),
    }
    return subprocess.run(
        [str(BROWSER), *args],
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recorded(tmp_path: Path, run: int = 0) -> list[str]:
    return (tmp_path / f"args.{run}").read_text().splitlines()


KIOSK_FLAGS = [
    "--ozone-platform=wayland",
    "--no-first-run",
    "--no-default-browser-check",
    "--noerrdialogs",
    "--disable-infobars",
    "--hide-crash-restore-bubble",
    "--disable-features=Translate,TranslateUI",
    "--disable-pinch",
    "--overscroll-history-navigation=0",
    "--touch-events=enabled",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--password-store=basic",
]


def test_the_cashiers_page_in_kiosk_mode_with_a_fresh_profile(tmp_path: Path) -> None:
    stand_in_browser(tmp_path)
    stale = tmp_path / "state" / "chromium-cashier" / "Default" / "Preferences"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"session": {"restore_on_startup": 1}}')
    done = browse(
        tmp_path, "cashier", env={"LANE_SCREEN_URL": f"http://127.0.0.1:8080/?token={TOKEN}"}
    )
    assert done.returncode == 0, done.stderr
    argv = recorded(tmp_path)
    assert argv[:2] == ["--kiosk", f"http://127.0.0.1:8080/?token={TOKEN}"]
    assert f"--user-data-dir={tmp_path / 'state' / 'chromium-cashier'}" in argv
    assert set(KIOSK_FLAGS) <= set(argv)
    assert not stale.exists()  # nothing of the last run to restore
    assert "--no-sandbox" not in argv


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8080/"),
        ({"LANE_SCREEN_URL": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000/"),
        (
            {"LANE_SCREEN_URL": "http://127.0.0.1:9000/", "KIOSK_URL": "http://127.0.0.1:9001/"},
            "http://127.0.0.1:9001/",
        ),
    ],
)
def test_which_address_the_cashiers_page_opens(
    tmp_path: Path, env: dict[str, str], url: str
) -> None:
    stand_in_browser(tmp_path)
    assert browse(tmp_path, "cashier", env=env).returncode == 0
    assert recorded(tmp_path)[:2] == ["--kiosk", url]


def test_the_customers_page_is_an_app_window(tmp_path: Path) -> None:
    stand_in_browser(tmp_path)
    done = browse(
        tmp_path,
        "customer",
        env={
            "LANE_CUSTOMER_URL": "http://127.0.0.1:8080/customer",
            "KIOSK_FLAGS": "--force-device-scale-factor=1.25 --disable-gpu",
        },
    )
    assert done.returncode == 0, done.stderr
    argv = recorded(tmp_path)
    assert argv[:2] == ["--kiosk", "--app=http://127.0.0.1:8080/customer"]
    assert f"--user-data-dir={tmp_path / 'state' / 'chromium-customer'}" in argv
    assert argv[-2:] == ["--force-device-scale-factor=1.25", "--disable-gpu"]
    assert set(KIOSK_FLAGS) <= set(argv)


def test_chromium_browser_is_found_too(tmp_path: Path) -> None:
    program = stand_in_browser(tmp_path)
    program.rename(program.with_name("chromium-browser"))
    assert browse(tmp_path, "cashier").returncode == 0
    assert recorded(tmp_path)[0] == "--kiosk"


def test_bad_use_and_no_browser(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    done = browse(tmp_path, "manager")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "kiosk-browser: usage: kiosk-browser [--respawn] cashier|customer",
    )
    done = browse(tmp_path, "cashier")
    assert done.returncode == 1
    assert "no chromium here (sudo apt install chromium)" in done.stderr


def test_the_browsers_exit_status_is_the_scripts(tmp_path: Path) -> None:
    stand_in_browser(tmp_path, then="exit 3")
    assert browse(tmp_path, "cashier").returncode == 3  # cage ends, systemd restarts both


def test_respawn_starts_the_page_again_until_the_compositor_is_gone(tmp_path: Path) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir()
    display = runtime / "wayland-7"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(display))
    # The third run takes the compositor's socket away, as sway ending would.
    stand_in_browser(tmp_path, then=f'[ "$n" -lt 2 ] || rm -f {display}; exit 1')
    try:
        done = browse(
            tmp_path,
            "--respawn",
            "customer",
            env={
                "XDG_RUNTIME_DIR": str(runtime),
                "WAYLAND_DISPLAY": "wayland-7",
                "KIOSK_RESPAWN_S": "0",
            },
        )
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("args.*")) == ["args.0", "args.1", "args.2"]
    assert done.stderr.count("kiosk-browser: showing the customer page") == 3
    assert "the customer page's browser stopped (exit 1): starting it again in 0 s" in done.stderr
    assert done.stderr.rstrip().endswith(f"no compositor at {display}: stopping")


# --- sway's config ------------------------------------------------------------------------------


def sway_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_sway_puts_a_page_on_each_output() -> None:
    lines = sway_lines(SWAY_CONF)
    assert lines.index("set $cashier HDMI-A-1") < lines.index(
        "include /etc/firmware-lane-kiosk/screens.conf"
    )
    assert "workspace cashier output $cashier" in lines
    assert "workspace customer output $customer" in lines
    assert 'assign [app_id="^chrome-.*__customer"] workspace customer' in lines
    assert "input type:touch map_to_output $cashier" in lines
    assert lines[-2:] == [
        f"exec {INSTALLED_BROWSER} --respawn customer",
        f"exec {INSTALLED_BROWSER} --respawn cashier",
    ]
    assert "xwayland disable" in lines
    assert not [
        line for line in lines if line.startswith(("bar", "exec swayidle", "output * dpms"))
    ]
    assert sway_lines(SCREENS_CONF) == ["set $cashier HDMI-A-1", "set $customer HDMI-A-2"]


SWAY = shutil.which("sway")
NOBODY = 65534


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory an unprivileged user can read (pytest's own is root's alone)."""
    with tempfile.TemporaryDirectory(prefix="kiosk-") as name:
        path = Path(name)
        path.chmod(0o755)
        yield path


@pytest.mark.skipif(SWAY is None, reason="sway is not installed")
def test_sway_accepts_the_config(open_dir: Path) -> None:
    screens = open_dir / "screens.conf"
    screens.write_text(SCREENS_CONF.read_text())
    config = open_dir / "sway.conf"
    config.write_text(
        SWAY_CONF.read_text().replace("/etc/firmware-lane-kiosk/screens.conf", str(screens))
    )
    bad = open_dir / "bad.conf"
    bad.write_text(config.read_text().replace("map_to_output", "map_to_outputs"))
    assert sway_check(config, open_dir) == (0, [])
    code, errors = sway_check(bad, open_dir)
    assert code != 0 and any("map_to_outputs" in line for line in errors)


def sway_check(config: Path, directory: Path) -> tuple[int, list[str]]:
    """``sway --validate``, headless, as an unprivileged user (sway refuses root)."""
    runtime = directory / "xdg"
    runtime.mkdir(exist_ok=True, mode=0o700)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "WLR_BACKENDS": "headless",
        "WLR_RENDERER": "pixman",
        "WLR_LIBINPUT_NO_DEVICES": "1",
    }
    command = [str(SWAY), "--validate", "--config", str(config)]
    if os.geteuid() == 0:
        os.chown(runtime, NOBODY, NOBODY)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    # The working directory too is one the unprivileged user may enter (a checkout
    # under a private directory is not).
    done = subprocess.run(
        command, env=env, cwd=directory, capture_output=True, text=True, timeout=60, check=False
    )
    errors = [line for line in done.stderr.splitlines() if "[sway/config" in line]
    assert done.returncode == 0 or errors, done.stderr
    return done.returncode, errors


# --- the start step -----------------------------------------------------------------------------


def write_lane_toml(tmp_path: Path, ui: str) -> Path:
    path = tmp_path / "lane.toml"
    path.write_text(f'[lane]\nstore = "S001"\nlane = "01"\n\n[ui]\n{ui}\n')
    return path


def start_step(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = kiosk.main(list(args), out=out)
    return code, out.getvalue()


def environment_file(path: Path) -> dict[str, str]:
    pairs = [
        line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#")
    ]
    return dict(pairs)


def test_the_start_step_writes_the_pages_addresses_with_the_token(tmp_path: Path) -> None:
    with HealthServer(Answer(token=TOKEN)) as server:
        config = write_lane_toml(tmp_path, f'listen = "0.0.0.0:{server.port}"\ntoken = "{TOKEN}"')
        env = tmp_path / "run" / "kiosk.env"
        code, out = start_step("--config", str(config), "--env", str(env), "--wait", "5")
    assert code == 0
    assert environment_file(env) == {
        "LANE_SCREEN_URL": f"http://127.0.0.1:{server.port}/?token={TOKEN}",
        "LANE_CUSTOMER_URL": f"http://127.0.0.1:{server.port}/customer?token={TOKEN}",
    }
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert out == (
        f"kiosk: showing http://127.0.0.1:{server.port}/; the lane answers at "
        f"127.0.0.1:{server.port} (run 3f9c2a1e)\n"
    )
    assert TOKEN not in out  # the journal never shows it
    assert server.paths == [f"/healthz?token={TOKEN}"]


def test_a_config_that_cannot_be_read_leaves_the_defaults(tmp_path: Path) -> None:
    env = tmp_path / "kiosk.env"
    env.write_text("LANE_SCREEN_URL=http://127.0.0.1:1/\n")  # from an earlier start
    config = write_lane_toml(tmp_path, 'listen = "localhost:8080"')
    code, out = start_step("--config", str(config), "--env", str(env))
    assert code == 1
    assert not env.exists()
    assert out.startswith(f"kiosk: {config}: ") and "ui.listen" in out
    assert out.rstrip().endswith("the kiosk opens the default address")


def test_a_disabled_screen_is_said_in_the_journal(tmp_path: Path) -> None:
    config = write_lane_toml(tmp_path, "enabled = false")
    env = tmp_path / "kiosk.env"
    code, out = start_step("--config", str(config), "--env", str(env), "--wait", "30")
    assert code == 0
    assert environment_file(env)["LANE_SCREEN_URL"] == "http://127.0.0.1:8080/"
    assert "[ui] enabled = false" in out


class Clock:
    """Seconds that pass only when slept; ``at_sleep`` runs at each sleep."""

    def __init__(self, at_sleep: object = None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.at_sleep = at_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if callable(self.at_sleep):
            self.at_sleep(self.sleeps)


def test_the_start_step_waits_for_the_lane_to_come_up() -> None:
    port = free_port()
    servers: list[HealthServer] = []

    def lane_starts(sleeps: int) -> None:
        if sleeps == 3:  # the lane's server comes up during the third pause
            servers.append(HealthServer(port=port))

    clock = Clock(lane_starts)
    try:
        line = kiosk.wait_for_lane(ui_on(port), wait_s=30, clock=clock, sleep=clock.sleep)
    finally:
        for server in servers:
            server.close()
    assert line == f"the lane answers at 127.0.0.1:{port} (run 3f9c2a1e)"
    assert clock.sleeps == 3


def ui_on(port: int, **ui: str) -> UiConfig:
    lane = {"store": "S1", "lane": "1"}
    return config_mod.parse({"lane": lane, "ui": {"listen": f"127.0.0.1:{port}", **ui}}).ui


def test_the_start_step_gives_up_waiting(tmp_path: Path) -> None:
    clock = Clock()
    port = free_port()
    line = kiosk.wait_for_lane(ui_on(port), wait_s=2, clock=clock, sleep=clock.sleep)
    assert line == f"nothing answers on 127.0.0.1:{port} after 2 s: starting the browser anyway"
    assert clock.sleeps == 4  # every 0.5 s


def test_a_refused_token_is_not_waited_out() -> None:
    clock = Clock()
    with HealthServer(Answer(token=TOKEN)) as server:
        ui = ui_on(server.port, token="Y" * 16)
        line = kiosk.wait_for_lane(ui, wait_s=30, clock=clock, sleep=clock.sleep)
    assert line == f"the lane's screen at 127.0.0.1:{server.port}: refused the token (HTTP 403)"
    assert clock.sleeps == 0


# --- under a real compositor, headless ------------------------------------------------------
#
# cage and sway with wlroots' headless backend (no display, no GPU: pixman) and Chromium:
# what a Pi's screen would show, minus the Pi. Skipped where they are not installed.

CAGE, CHROMIUM, SETPRIV = shutil.which("cage"), shutil.which("chromium"), shutil.which("setpriv")
needs_a_compositor = pytest.mark.skipif(
    None in (CAGE, SWAY, CHROMIUM) or (os.geteuid() == 0 and SETPRIV is None),
    reason="cage, sway and chromium are not all installed",
)
PAGE = "<html lang='en'><title>Lane</title><body><h1>lane</h1></body></html>"


def headless(
    directory: Path, command: list[str], outputs: int, **env: str
) -> subprocess.Popen[str]:
    """``command`` (a compositor) on ``outputs`` headless outputs, as an unprivileged user,
    in a session of its own; its Wayland socket and profiles under ``directory``."""
    runtime = directory / "xdg"
    runtime.mkdir(mode=0o700)
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "KIOSK_STATE": str(runtime),
        "WLR_BACKENDS": "headless",
        "WLR_RENDERER": "pixman",
        "WLR_HEADLESS_OUTPUTS": str(outputs),
        "WLR_LIBINPUT_NO_DEVICES": "1",
        # Test-only: this machine gives Chromium no user namespaces and no GPU.
        "KIOSK_FLAGS": "--no-sandbox --disable-gpu",
    }
    if os.geteuid() == 0:
        os.chown(runtime, NOBODY, NOBODY)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    log = (directory / "compositor.log").open("w")
    return subprocess.Popen(
        command,
        env=base | env,
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    """The compositor and everything it started (its session's process group), gone for
    good: a browser still closing its profile would race the directory's removal."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            break  # nobody of the group is left
        time.sleep(0.05)
    process.wait(10)


def public_browser(directory: Path) -> Path:
    """kiosk-browser where an unprivileged user can run it."""
    copy = directory / "kiosk-browser"
    copy.write_text(BROWSER.read_text())
    copy.chmod(0o755)
    return copy


@needs_a_compositor
def test_cage_shows_the_cashiers_page_and_keeps_it(open_dir: Path) -> None:
    with HealthServer(Answer(body=PAGE, headers={"Content-Type": "text/html"})) as server:
        url = f"http://127.0.0.1:{server.port}/"
        command = [str(CAGE), "-d", "-s", "--", str(public_browser(open_dir)), "cashier"]
        cage = headless(open_dir, command, 1, LANE_SCREEN_URL=url)
        try:
            wait_until(lambda: "/" in server.paths, "the page asked for", timeout=60)
            time.sleep(3)  # a browser that quits after loading (as an app window does) shows here
            assert cage.poll() is None, (open_dir / "compositor.log").read_text()
        finally:
            stop(cage)


@needs_a_compositor
def test_sway_puts_each_page_on_its_own_output(open_dir: Path) -> None:
    screens = open_dir / "screens.conf"
    screens.write_text("set $cashier HEADLESS-1\nset $customer HEADLESS-2\n")
    config = open_dir / "sway.conf"
    config.write_text(
        SWAY_CONF.read_text()
        .replace("/etc/firmware-lane-kiosk/screens.conf", str(screens))
        .replace(INSTALLED_BROWSER, str(public_browser(open_dir)))
    )
    with HealthServer(Answer(body=PAGE, headers={"Content-Type": "text/html"})) as server:
        base = f"http://127.0.0.1:{server.port}"
        sway = headless(
            open_dir,
            [str(SWAY), "--config", str(config)],
            2,
            LANE_SCREEN_URL=f"{base}/",
            LANE_CUSTOMER_URL=f"{base}/customer",
        )
        try:
            wait_until(lambda: len(views(open_dir)) == 2, "two browser windows", timeout=90)
            placed = views(open_dir)
        finally:
            stop(sway)
    assert sorted(placed) == [
        ("HEADLESS-1", "cashier", "chromium", 1),
        ("HEADLESS-2", "customer", "chrome-127.0.0.1__customer-Default", 1),
    ]
    assert {"/", "/customer"} <= set(server.paths)


def views(directory: Path) -> list[tuple[str, str, str, int]]:
    """(output, workspace, app id, fullscreen mode) of every window sway shows."""
    sockets = list((directory / "xdg").glob("sway-ipc.*.sock"))
    if not sockets:
        return []
    command = ["swaymsg", "-s", str(sockets[0]), "-t", "get_tree", "-r"]
    if os.geteuid() == 0:
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        return []
    found: list[tuple[str, str, str, int]] = []

    def walk(node: dict[str, Any], output: str = "", workspace: str = "") -> None:
        if node.get("type") == "output":
            output = node["name"]
        if node.get("type") == "workspace":
            workspace = node["name"]
        if node.get("app_id"):
            found.append((output, workspace, node["app_id"], node.get("fullscreen_mode", 0)))
        for child in node.get("nodes", []) + node.get("floating_nodes", []):
            walk(child, output, workspace)

    walk(json.loads(done.stdout))
    return found
