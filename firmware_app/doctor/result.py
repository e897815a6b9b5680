"""What one doctor check found: a name, passed / failed / not checked, and one line.

Kept apart from the checks so that the device and service checks and the runner
(``firmware_app.doctor``) share it without importing each other.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Mapping
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


# What to do about an error, by errno, for a device node and for the lane's own files.
DEVICE_ADVICE: Mapping[int, str] = {
    errno.ENOENT: "unplugged, or no udev link of that name? (scripts/lane-ids)",
    errno.ENODEV: "the device went away: unplugged? (dmesg | tail)",
    errno.ENXIO: "the device went away: unplugged? (dmesg | tail)",
    errno.EACCES: "is the lane user in the device's group? (ls -l the device; id lane)",
    errno.EPERM: "is the lane user in the device's group? (ls -l the device; id lane)",
    errno.EBUSY: in_use(),
    errno.EAGAIN: in_use(),
    errno.EIO: "check the cable and the USB adapter",
}
FILE_ADVICE: Mapping[int, str] = {
    errno.ENOENT: "has the lane run here yet? (it makes lane.data_dir and its databases)",
    errno.EACCES: "run the doctor with sudo (it acts as the owner of lane.data_dir)",
    errno.EPERM: "run the doctor with sudo (it acts as the owner of lane.data_dir)",
}


def errno_words(code: int, strerror: str | None = None) -> str:
    """An errno in words, as a phrase: ``no such file or directory``."""
    text = strerror or os.strerror(code)
    return text[:1].lower() + text[1:]


def errno_text(error: OSError, advice: Mapping[int, str] | None = None) -> str:
    """``no such file or directory: <advice>``: the error in words (without the file
    name, which the line names already), then what to do where ``advice`` knows."""
    if error.errno is None:
        return one_line(str(error))
    words = errno_words(error.errno, error.strerror)
    hint = (advice or {}).get(error.errno, "")
    return f"{words}: {hint}" if hint else words


def path_problem(path: str, advice: Mapping[int, str] | None = None) -> str:
    """Why ``path`` cannot be opened (``""`` when it exists), naming it and where a udev
    link points when its target is gone, then the error in words and ``advice``."""
    try:
        os.stat(path)
    except OSError as e:
        where = path
        with contextlib.suppress(OSError):
            if os.path.islink(path):
                where += f" (link to {os.readlink(path)})"
        return f"{where}: {errno_text(e, advice)}"
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
