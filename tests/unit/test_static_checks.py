"""Static checks as tests: mypy --strict on the lane core, ruff lint and format everywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CODE = ["firmware_app", "hw_sim", "tests", "bench"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("mypy", path=str(BIN)) is None, reason="needs the test extras")
def test_core_type_checks_strictly() -> None:
    result = run(sys.executable, "-m", "mypy", "firmware_app/lane")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("ruff", path=str(BIN)) is None, reason="needs the test extras")
def test_ruff_lint_and_format() -> None:
    ruff = str(BIN / "ruff")
    lint = run(ruff, "check", *CODE)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(ruff, "format", "--check", *CODE)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
