"""``sudo firmware-lane …`` acts as the owner of ``data_dir``: files it creates there
(the database, its WAL files, lock files) stay writable by the daemon's user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import firmware_app

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as a technician's sudo has")


@pytest.fixture
def base() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to root, and the owner must reach it.
    path = Path(tempfile.mkdtemp(prefix="lane-owner-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _owner() -> pwd.struct_passwd:
    try:
        owner = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    # The owner runs this checkout's Python: every directory above it must let others in.
    for start in (Path(sys.executable), Path(firmware_app.__file__)):
        for parent in start.parents:
            if not parent.stat().st_mode & 0o001:
                pytest.skip(f"{parent} is closed to other users")
    return owner


def test_a_command_run_as_root_writes_as_the_data_dirs_owner(base: Path) -> None:
    owner = _owner()
    data = base / "data"
    data.mkdir()
    os.chown(data, owner.pw_uid, owner.pw_gid)
    config = base / "lane.toml"
    config.write_text(f'[lane]\nstore = "S001"\nlane = "01"\ndata_dir = "{data}"\n')
    config.chmod(0o644)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware_app.app.cli",
            "--config",
            str(config),
            "cashier",
            "add",
            "1001",
            "--role",
            "cashier",
        ],
        input="4711\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    made = sorted(data.iterdir())
    assert made, "the command created nothing"
    for path in made:
        assert path.stat().st_uid == owner.pw_uid, (
            f"{path.name} is owned by uid {path.stat().st_uid}"
        )


def test_a_root_owned_data_dir_is_left_to_root(base: Path) -> None:
    data = base / "data"
    data.mkdir()
    config = base / "lane.toml"
    config.write_text(f'[lane]\nstore = "S001"\nlane = "01"\ndata_dir = "{data}"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "firmware_app.app.cli",
            "--config",
            str(config),
            "cashier",
            "add",
            "1001",
            "--role",
            "cashier",
        ],
        input="4711\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert all(p.stat().st_uid == 0 for p in data.iterdir())
