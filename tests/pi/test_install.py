"""scripts/install-pi in a throwaway root (``--root DIR``): the files it lays down and
their modes and owners, the lane account in DIR/etc/passwd, a second run that changes
nothing, the technician's config and the lane's data kept, udev rules rewritten one
device at a time, bad options refused before anything is written, and a real venv."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-pi"
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="accounts and chown need root")
ALL_DEVICES = (
    "--scanner",
    "0c2e:0b61",
    "--keypad",
    "05e0:1200",
    "--scale",
    "067b:2303",
    "--printer",
    "0416:5011:ABC123",
)


def install(root: Path, *args: str, venv: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(INSTALL), "--root", str(root), *args]
    command += ["--python", sys.executable] if venv else ["--skip-venv"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def installed(root: Path, *args: str, venv: bool = False) -> str:
    result = install(root, *args, venv=venv)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def with_accounts(root: Path) -> Path:
    """A target whose /etc already has Debian's accounts files (and input, dialout)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\ninput:x:101:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\n")
    return root


def ids(root: Path, database: str, name: str) -> list[str]:
    for line in (root / "etc" / database).read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":")
    raise AssertionError(f"no {name} in {database}")


def tree(root: Path, *, skip: str = "opt/firmware-lane/venv") -> dict[str, tuple]:
    """Every path under root: type, mode, owner, mtime and content hash (or link target)."""
    state: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel == skip or rel.startswith(skip + "/"):
            continue
        st = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = ""
        state[rel] = (stat.filemode(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fresh_install_lays_out_every_file_with_its_mode(tmp_path: Path) -> None:
    out = installed(tmp_path, "--store", "S042", "--lane", "07", "--broker", "mqtt://10.1.2.3:1883")
    assert "skipping accounts and ownership" in out  # no DIR/etc/passwd here
    expected = {
        "etc/firmware-lane": 0o750,
        "etc/firmware-lane/lane.toml": 0o640,
        "var/lib/firmware-lane": 0o750,
        "mnt/lane-backup": 0o750,
        "opt/firmware-lane": 0o755,
        "lib/systemd/system/firmware-lane.service": 0o644,
        "lib/systemd/system/firmware-lane-backup.service": 0o644,
        "lib/systemd/system/firmware-lane-backup.timer": 0o644,
        "etc/udev/rules.d/99-firmware-lane.rules": 0o644,
        "etc/modules-load.d/firmware-lane.conf": 0o644,
        "usr/local/bin/firmware-lane": 0o755,
        "usr/local/bin/lane-ids": 0o755,
        "opt/firmware-lane/lane.example.toml": 0o644,
        "opt/firmware-lane/docs/operations.md": 0o644,
        "opt/firmware-lane/docs/wiring.md": 0o644,
    }
    for rel, wanted in expected.items():
        assert mode(tmp_path / rel) == wanted, rel
    for unit in (
        "firmware-lane.service",
        "firmware-lane-backup.service",
        "firmware-lane-backup.timer",
    ):
        assert (tmp_path / "lib/systemd/system" / unit).read_text() == (
            ROOT / "systemd" / unit
        ).read_text()
    config = (tmp_path / "etc/firmware-lane/lane.toml").read_text()
    assert re.search(r'^store = "S042"', config, re.M)
    assert re.search(r'^lane = "07"', config, re.M)
    assert re.search(r'^url = "mqtt://10\.1\.2\.3:1883"', config, re.M)
    # everything else is the commented example
    example = (ROOT / "firmware_app/lane.example.toml").read_text()
    assert len(config.splitlines()) == len(example.splitlines())
    modules = (tmp_path / "etc/modules-load.d/firmware-lane.conf").read_text().split()
    assert {"usbserial", "cdc_acm"} <= set(modules)
    wrapper = (tmp_path / "usr/local/bin/firmware-lane").read_text()
    run_as_lane = "runuser -u lane -- env LG_WD=/var/lib/firmware-lane "
    assert run_as_lane + "/opt/firmware-lane/venv/bin/firmware-lane" in wrapper
    assert not (tmp_path / "etc/fstab").exists()  # only with --backup-label


def test_the_config_is_valid_for_the_lane(tmp_path: Path) -> None:
    from firmware_app import config as config_mod

    installed(tmp_path, "--store", "S042", "--lane", "07", "--broker", "mqtts://store.local:8883")
    config = config_mod.load(tmp_path / "etc/firmware-lane/lane.toml")
    assert (config.store, config.lane) == ("S042", "07")
    assert config.mqtt.url == "mqtts://store.local:8883"
    assert config.data_dir == "/var/lib/firmware-lane"


@AS_ROOT
def test_lane_account_and_owners_come_from_the_target_passwd(tmp_path: Path) -> None:
    root = with_accounts(tmp_path)
    out = installed(root)
    assert "created user lane" in out
    user = ids(root, "passwd", "lane")
    assert user[5:] == ["/var/lib/firmware-lane", "/usr/sbin/nologin"]
    uid, gid = int(user[2]), int(user[3])
    assert int(ids(root, "group", "lane")[2]) == gid
    for group in ("input", "dialout", "gpio"):
        assert "lane" in ids(root, "group", group)[3].split(","), group
    owners = {
        "etc/firmware-lane": (0, gid),
        "etc/firmware-lane/lane.toml": (0, gid),
        "var/lib/firmware-lane": (uid, gid),
        "mnt/lane-backup": (uid, gid),
        "lib/systemd/system/firmware-lane.service": (0, 0),
        "usr/local/bin/firmware-lane": (0, 0),
    }
    for rel, owner in owners.items():
        st = (root / rel).stat()
        assert (st.st_uid, st.st_gid) == owner, rel


@AS_ROOT
def test_data_left_to_root_is_given_back_to_the_lane(tmp_path: Path) -> None:
    root = with_accounts(tmp_path)
    installed(root)
    data = root / "var/lib/firmware-lane"
    db = data / "lane.db"
    db.write_bytes(b"SQLite format 3\0")
    os.chown(db, 0, 0)  # `sudo firmware-lane cashier add` run without the wrapper
    installed(root)
    user = ids(root, "passwd", "lane")
    assert (db.stat().st_uid, db.stat().st_gid) == (int(user[2]), int(user[3]))
    assert db.read_bytes() == b"SQLite format 3\0"


@pytest.mark.parametrize("accounts", [False, pytest.param(True, marks=AS_ROOT)])
def test_a_second_run_changes_nothing(tmp_path: Path, accounts: bool) -> None:
    root = with_accounts(tmp_path) if accounts else tmp_path
    installed(root, "--store", "S001", "--lane", "03", *ALL_DEVICES, "--backup-label", "LANEBAK")
    before = tree(root)
    out = installed(
        root, "--store", "S001", "--lane", "03", *ALL_DEVICES, "--backup-label", "LANEBAK"
    )
    assert tree(root) == before
    assert not re.search(r"^install-pi: (installed|created|added)", out, re.M), out


def test_config_edits_and_data_survive_a_reinstall(tmp_path: Path) -> None:
    installed(tmp_path, "--store", "S001", "--lane", "03")
    config = tmp_path / "etc/firmware-lane/lane.toml"
    edited = config.read_text().replace('lane = "03"', 'lane = "04"') + "\n# till 4, by the door\n"
    config.write_text(edited)
    config.chmod(0o644)  # a technician's editor left it readable by all
    data = tmp_path / "var/lib/firmware-lane"
    (data / "lane.db").write_bytes(b"sales")
    (data / "catalog.db").write_bytes(b"items")

    out = installed(tmp_path, "--store", "S999", "--lane", "99")
    assert "kept /etc/firmware-lane/lane.toml" in out
    assert config.read_text() == edited
    assert mode(config) == 0o640  # the secret-holding file is closed again
    assert (data / "lane.db").read_bytes() == b"sales"
    assert (data / "catalog.db").read_bytes() == b"items"


def test_udev_rules_example_installed_without_ids_and_kept(tmp_path: Path) -> None:
    installed(tmp_path)
    rules = tmp_path / "etc/udev/rules.d/99-firmware-lane.rules"
    assert rules.read_text() == (ROOT / "udev/99-firmware-lane.rules").read_text()
    assert not [line for line in active(rules) if "SYMLINK" in line]  # examples stay comments


def active(rules: Path) -> list[str]:
    return [line for line in rules.read_text().splitlines() if line and not line.startswith("#")]


def test_udev_rules_from_ids_one_device_at_a_time(tmp_path: Path) -> None:
    installed(tmp_path, *ALL_DEVICES)
    rules = tmp_path / "etc/udev/rules.d/99-firmware-lane.rules"
    lines = {
        re.search(r'SYMLINK\+="([^"]+)"', line)[1]: line
        for line in active(rules)
        if "SYMLINK" in line
    }
    assert set(lines) == {"lane-scanner", "lane-keypad", "lane-scale", "lane-printer"}
    assert lines["lane-scanner"] == (
        'SUBSYSTEM=="input", KERNEL=="event*", ENV{ID_INPUT_KEYBOARD}=="1", '
        'ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61", SYMLINK+="lane-scanner", '
        'GROUP="input", MODE="0660"'
    )
    assert lines["lane-printer"] == (
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="0416", ATTRS{idProduct}=="5011", '
        'ATTRS{serial}=="ABC123", SYMLINK+="lane-printer", GROUP="dialout", MODE="0660", '
        'ENV{ID_MM_DEVICE_IGNORE}="1"'
    )

    # A technician's own rule is kept; only the scale's line changes.
    own = 'SUBSYSTEM=="tty", KERNEL=="ttyAMA0", SYMLINK+="lane-aux"\n'
    rules.write_text(rules.read_text() + own)
    before = rules.read_text().splitlines()
    installed(tmp_path, "--scale", "port:1-1.4")
    after = rules.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        (
            lines["lane-scale"],
            'SUBSYSTEM=="tty", KERNELS=="1-1.4", SYMLINK+="lane-scale", GROUP="dialout", '
            'MODE="0660", ENV{ID_MM_DEVICE_IGNORE}="1"',
        )
    ]


def test_every_rule_line_is_well_formed(tmp_path: Path) -> None:
    installed(tmp_path, *ALL_DEVICES)
    token = r'[A-Z_]+(\{[A-Za-z_]+\})?(==|!=|\+=|=)"[^"]*"'
    line_re = re.compile(rf"^{token}(, {token})*$")
    for rules in (
        tmp_path / "etc/udev/rules.d/99-firmware-lane.rules",
        ROOT / "udev/99-firmware-lane.rules",
    ):
        lines = active(rules)
        # the example lines too, once uncommented
        lines += [
            line[2:] for line in rules.read_text().splitlines() if line.startswith("# SUBSYSTEM")
        ]
        assert lines
        for line in lines:
            assert line_re.match(line), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "67b:2303"], "--scale: expected VVVV:PPPP, VVVV:PPPP:SERIAL or port:BUS-PORT"),
        (["--printer", "port:usb3"], "--printer: expected"),
        (["--scanner", "0c2e:0b61:bad serial"], "--scanner: expected"),
        (["--store", "S 1"], "--store: expected 1-32 of A-Z a-z 0-9 _ -, got 'S 1'"),
        (["--lane", ""], "--lane needs a value"),
        (["--broker", "http://x"], "--broker: expected mqtt://HOST:PORT"),
        (["--broker", 'mqtt://a"b'], "--broker: expected"),
        (["--backup-label", "a/b"], "--backup-label: expected"),
        (["--colour", "red"], "unknown option '--colour'"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, args: list[str], message: str
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    result = install(target, "--store", "S001", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert list(target.iterdir()) == []


def test_backup_stick_gets_one_fstab_line(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    fstab = tmp_path / "etc/fstab"
    fstab.write_text("proc /proc proc defaults 0 0\n")
    installed(tmp_path, "--backup-label", "LANEBACKUP")
    installed(tmp_path, "--backup-label", "LANEBACKUP")
    config = (tmp_path / "etc/firmware-lane/lane.toml").read_text()
    assert re.search(r'^dir = "/mnt/lane-backup"', config, re.M)  # backups go to the stick
    lines = fstab.read_text().splitlines()
    assert lines == [
        "proc /proc proc defaults 0 0",
        "LABEL=LANEBACKUP /mnt/lane-backup ext4 nofail,noatime,x-systemd.device-timeout=10s 0 2",
    ]


def test_a_real_venv_is_built_and_upgraded_in_place(tmp_path: Path) -> None:
    """The whole install with pip (about 10-60 s, from pip's cache or the package index)."""
    out = installed(tmp_path, "--store", "S001", "--lane", "03", venv=True)
    assert "creating /opt/firmware-lane/venv" in out
    venv = tmp_path / "opt/firmware-lane/venv"
    lane = venv / "bin/firmware-lane"
    config = tmp_path / "etc/firmware-lane/lane.toml"
    # Run from elsewhere than this checkout, so that only the venv can provide the code.
    check = subprocess.run(
        [str(lane), "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert "ok (store S001, lane 03)" in check.stdout

    # An older version in the venv is replaced by this checkout's on the next run.
    found = subprocess.run(
        [str(venv / "bin/python"), "-c", "import firmware_app.app.notify as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    module = Path(found.stdout.strip())
    assert str(module).startswith(str(venv))  # installed, not this checkout
    module.write_text("raise ImportError('an old version')\n")
    config_before = config.read_bytes()
    out = installed(tmp_path, venv=True)
    assert "creating" not in out
    assert module.read_text() == (ROOT / "firmware_app/app/notify.py").read_text()
    assert config.read_bytes() == config_before
    version = subprocess.run(
        [str(lane), "--version"], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert version.stdout.strip() == "firmware-lane 0.1.0"
