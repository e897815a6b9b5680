"""Running ``python -m hw_sim`` from end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = "mqtt://127.0.0.1:1"  # nothing listens there: the lane sells offline


def sim_command(tmp_path: Path, script: str, *extra: str, name: str = "script.txt") -> list[str]:
    """The command line running ``script`` with its data and output under ``tmp_path``."""
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    return [
        sys.executable, "-m", "hw_sim", "--script", str(path), "--out", str(tmp_path / "out"),
        "--data-dir", str(tmp_path / "data"), *extra,
    ]  # fmt: skip


def run_sim(tmp_path: Path, script: str, *extra: str, name: str = "script.txt"):
    """Run a script to its end; returns the completed process (stdout, stderr as text)."""
    return subprocess.run(
        sim_command(tmp_path, script, *extra, name=name),
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
