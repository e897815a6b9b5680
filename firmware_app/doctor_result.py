"""What one doctor check found: a name, passed / failed / not checked, and one line.

Kept apart from the checks so that the device and service checks and the runner
(``firmware_app.doctor``) share it without importing each other.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace

PASSED, FAILED, NOT_CHECKED = "✓", "✗", "–"
NAME_WIDTH = 10
SERVICE = "firmware-lane"


def in_use() -> str:
    """The hint for a device another program holds: most often the lane itself."""
    return f"is {SERVICE} running? systemctl stop {SERVICE}"


def one_line(text: str) -> str:
    """``text`` on one line: library errors sometimes span several."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def errno_text(error: OSError) -> str:
    """``[Errno 2] No such file or directory``: the error without the file name, which
    the line names already."""
    if error.errno is None:
        return one_line(str(error))
    return f"[Errno {error.errno}] {error.strerror or os.strerror(error.errno)}"


def path_problem(path: str) -> str:
    """Why ``path`` cannot be opened (``""`` when it exists), naming it: the errno text,
    and where a udev link points when its target is gone."""
    try:
        os.stat(path)
    except OSError as e:
        text = f"{path}: {errno_text(e)}"
        with contextlib.suppress(OSError):
            if os.path.islink(path):
                text += f" (link to {os.readlink(path)})"
        return text
    return ""


@dataclass(frozen=True)
class CheckResult:
    """``ok`` is True (passed), False (failed: the doctor exits 1) or None (not checked,
    e.g. a device disabled in the config: shown, never a failure). ``detail`` names the
    exact path or URL and, on failure, the error as the system gave it."""

    name: str
    ok: bool | None
    detail: str

    @property
    def failed(self) -> bool:
        return self.ok is False

    @property
    def mark(self) -> str:
        return NOT_CHECKED if self.ok is None else PASSED if self.ok else FAILED

    def line(self) -> str:
        """``✓ scale      /dev/lane-scale: 8217, 0.532 kg stable``."""
        return f"{self.mark} {self.name:<{NAME_WIDTH}} {one_line(self.detail)}"

    def named(self, name: str) -> CheckResult:
        return replace(self, name=name)
