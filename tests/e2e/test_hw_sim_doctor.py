"""End to end: ``python -m hw_sim --doctor`` brings up the simulated devices without the lane
and runs the doctor over them; ``--fault`` gives the ✗ lines a technician must recognise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hw_sim.broker import MosquittoBroker
from tests.e2e.sim import ROOT

pytestmark = pytest.mark.e2e


def run_doctor(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "hw_sim", "--doctor", "--out", str(tmp_path / "out"),
        "--data-dir", str(tmp_path / "data"), *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_all_checks_pass_on_the_simulated_lane(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    done = run_doctor(tmp_path, "--broker", mosquitto.url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 16
    # The screen and kiosk lines need the running lane and systemd, which the simulated
    # lane's doctor has neither of: they say so (–) without failing.
    devices, screens = lines[:14], lines[14:]
    assert all(line.startswith("✓ ") for line in devices)
    assert [line[2:13].strip() for line in screens] == ["screen", "kiosk"]
    assert not any(line.startswith("✗ ") for line in screens), screens


def test_faults_give_their_lines_and_exit_1(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    done = run_doctor(
        tmp_path, "--broker", mosquitto.url, "--fault", "scale-unplug",
        "--fault", "printer-paper-out",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "hw_sim: fault scale-unplug: the scale's cable is out" in out
    scale = tmp_path / "data" / "lane-scale"
    assert f"✗ scale      {scale}: 8217: no answer within 500 ms" in out
    assert "✗ printer    /dev/pts/" in out and ": paper out (" in out
    assert out.count("✗ ") == 2


def test_an_unknown_fault_is_bad_usage(tmp_path: Path) -> None:
    done = run_doctor(tmp_path, "--fault", "gremlins")
    assert done.returncode == 2
    assert "invalid choice: 'gremlins'" in done.stderr


def test_a_fault_without_the_doctor_is_bad_usage(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("wait idle\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "hw_sim", "--script", str(script), "--fault", "scale-unplug"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--fault goes with --doctor" in done.stderr
