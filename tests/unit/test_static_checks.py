"""mypy --strict holds for the lane core (STYLE.md: type hints everywhere)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("mypy", path=str(Path(sys.executable).parent)) is None,
                    reason="mypy is installed with the test extras")
def test_core_type_checks_strictly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "firmware_app/lane"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
