"""scripts/install-pi --kiosk and --customer-screen in a throwaway root (``--root DIR``): the
kiosk's unit, browser script and sway config where the units name them, the lane-kiosk
account, a second run that changes nothing, this lane's screens.conf kept, an upgrade
that keeps an installed kiosk current, and nothing of it without the options."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pi.test_install import (
    AS_ROOT,
    INSTALL,
    ROOT,
    ids,
    install,
    installed,
    mode,
    tree,
    with_accounts,
)
from tests.pi.test_units import one

KIOSK_FILES = {
    "lib/systemd/system/firmware-lane-kiosk.service": (
        "systemd/firmware-lane-kiosk.service",
        0o644,
    ),
    "opt/firmware-lane/bin/kiosk-browser": ("scripts/kiosk-browser", 0o755),
}
CUSTOMER_FILES = {
    "etc/systemd/system/firmware-lane-kiosk.service.d/customer-screen.conf": (
        "systemd/firmware-lane-kiosk.service.d/customer-screen.conf",
        0o644,
    ),
    "opt/firmware-lane/kiosk/sway.conf": ("systemd/kiosk/sway.conf", 0o644),
    "etc/firmware-lane-kiosk/screens.conf": ("systemd/kiosk/screens.conf", 0o644),
}
ANY_KIOSK = (
    "lib/systemd/system/firmware-lane-kiosk.service",
    "opt/firmware-lane/bin",
    "opt/firmware-lane/kiosk",
    "etc/firmware-lane-kiosk",
    "etc/systemd",
)


def assert_installed(root: Path, files: dict[str, tuple[str, int]]) -> None:
    for rel, (source, wanted) in files.items():
        assert (root / rel).read_bytes() == (ROOT / source).read_bytes(), rel
        assert mode(root / rel) == wanted, rel


def test_without_kiosk_nothing_of_it_is_installed(tmp_path: Path) -> None:
    out = installed(tmp_path, "--store", "S001", "--lane", "03")
    for rel in ANY_KIOSK:
        assert not (tmp_path / rel).exists(), rel
    assert "kiosk" not in out


def test_kiosk_installs_the_unit_and_the_browser_script(tmp_path: Path) -> None:
    out = installed(tmp_path, "--kiosk")
    assert_installed(tmp_path, KIOSK_FILES)
    for rel in CUSTOMER_FILES:
        assert not (tmp_path / rel).exists(), rel
    assert "installed /lib/systemd/system/firmware-lane-kiosk.service" in out
    # The unit runs what was installed, where it was installed.
    unit = tmp_path / "lib/systemd/system/firmware-lane-kiosk.service"
    argv = shlex.split(one_of(unit, "ExecStart"))
    assert (tmp_path / argv[4].lstrip("/")).is_file()
    # The lane itself is installed as without --kiosk.
    assert (tmp_path / "lib/systemd/system/firmware-lane.service").is_file()


def one_of(unit: Path, key: str) -> str:
    (value,) = [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(f"{key}=")
    ]
    return value


def test_customer_screen_adds_sway_and_this_lanes_outputs(tmp_path: Path) -> None:
    installed(tmp_path, "--customer-screen")
    assert_installed(tmp_path, KIOSK_FILES | CUSTOMER_FILES)
    assert mode(tmp_path / "etc/firmware-lane-kiosk") == 0o755
    # The paths the drop-in and sway's config name are the installed files.
    drop_in = tmp_path / "etc/systemd/system/firmware-lane-kiosk.service.d/customer-screen.conf"
    sway_conf = drop_in.read_text().split("--config ")[1].split()[0]
    assert (tmp_path / sway_conf.lstrip("/")).is_file()
    include = re.search(r"^include (\S+)$", (tmp_path / sway_conf.lstrip("/")).read_text(), re.M)
    assert include is not None and (tmp_path / include[1].lstrip("/")).is_file()
    assert (
        f"exec {'/opt/firmware-lane/bin/kiosk-browser'} --respawn cashier"
        in (tmp_path / sway_conf.lstrip("/")).read_text()
    )


def test_the_lanes_screens_conf_is_kept_and_the_rest_upgraded(tmp_path: Path) -> None:
    installed(tmp_path, "--customer-screen")
    screens = tmp_path / "etc/firmware-lane-kiosk/screens.conf"
    edited = screens.read_text().replace("set $cashier HDMI-A-1", "set $cashier DSI-1")
    screens.write_text(edited)
    sway_conf = tmp_path / "opt/firmware-lane/kiosk/sway.conf"
    sway_conf.write_text("# an older version\n")
    unit = tmp_path / "lib/systemd/system/firmware-lane-kiosk.service"
    unit.write_text("# an older version\n")

    out = installed(tmp_path)  # a plain upgrade: the kiosk stays and is brought up to date
    assert screens.read_text() == edited
    assert_installed(tmp_path, KIOSK_FILES)
    assert sway_conf.read_bytes() == (ROOT / "systemd/kiosk/sway.conf").read_bytes()
    assert "installed /etc/firmware-lane-kiosk/screens.conf" not in out


def test_back_to_one_screen_by_deleting_the_drop_in(tmp_path: Path) -> None:
    installed(tmp_path, "--customer-screen")
    drop_in = tmp_path / "etc/systemd/system/firmware-lane-kiosk.service.d/customer-screen.conf"
    drop_in.unlink()
    installed(tmp_path)
    assert not drop_in.exists()  # an upgrade does not bring it back
    assert_installed(tmp_path, KIOSK_FILES)


@pytest.mark.parametrize("accounts", [False, pytest.param(True, marks=AS_ROOT)])
def test_a_second_run_changes_nothing(tmp_path: Path, accounts: bool) -> None:
    root = with_accounts(tmp_path) if accounts else tmp_path
    installed(root, "--store", "S001", "--lane", "03", "--customer-screen")
    before = tree(root)
    out = installed(root, "--store", "S001", "--lane", "03", "--customer-screen")
    assert tree(root) == before
    assert not re.search(r"^install-pi: (installed|created|added)", out, re.M), out


@AS_ROOT
def test_the_kiosk_user_sees_the_display_not_the_keys(tmp_path: Path) -> None:
    root = with_accounts(tmp_path)  # Debian's input and dialout, no video or render yet
    out = installed(root, "--kiosk")
    assert "created user lane-kiosk" in out
    user = ids(root, "passwd", "lane-kiosk")
    assert user[5:] == ["/run/firmware-lane-kiosk", "/usr/sbin/nologin"]
    assert int(user[2]) < 1000  # a system account
    assert int(ids(root, "group", "lane-kiosk")[2]) == int(user[3])
    for group in ("video", "render"):
        assert "lane-kiosk" in ids(root, "group", group)[3].split(","), group
    assert "lane-kiosk" not in ids(root, "group", "input")[3].split(",")
    assert "lane" not in ids(root, "group", "video")[3].split(",")
    # The unit runs as that user.
    assert one("firmware-lane-kiosk.service", "Service", "User") == "lane-kiosk"


def test_help_lists_the_screen_options() -> None:
    done = subprocess.run([str(INSTALL), "--help"], capture_output=True, text=True, check=True)
    assert "--kiosk " in done.stdout
    assert "--customer-screen " in done.stdout
    assert "implies --kiosk" in done.stdout


def test_a_config_that_fights_the_kiosk_is_warned_of(tmp_path: Path) -> None:
    # A venv as install-pi would have built it (this one's Python, which has the lane).
    bin_dir = tmp_path / "opt/firmware-lane/venv/bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (bin_dir / "python").chmod(0o755)
    (tmp_path / "etc/firmware-lane").mkdir(parents=True)
    (tmp_path / "etc/firmware-lane/lane.toml").write_text(
        '[lane]\nstore = "S001"\nlane = "03"\n\n[display]\ndevice = "/dev/tty1"\n\n'
        "[ui]\nenabled = false\n"
    )
    out = installed(tmp_path, "--kiosk")
    assert (
        'warning: [display] device = "/dev/tty1" in /etc/firmware-lane/lane.toml is the '
        'kiosk\'s console: set it to "-"'
    ) in out
    assert (
        "warning: [ui] enabled = false in /etc/firmware-lane/lane.toml: the kiosk has no page"
        in out
    )
    plain = installed(tmp_path / "other", "--store", "S001", "--lane", "03")
    assert "warning" not in plain


def test_an_unknown_option_is_still_refused(tmp_path: Path) -> None:
    result = install(tmp_path, "--kiosks")
    assert result.returncode == 1
    assert "unknown option '--kiosks'" in result.stderr
    assert list(tmp_path.iterdir()) == []
