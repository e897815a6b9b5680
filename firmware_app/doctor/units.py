"""What systemd says about one of the lane's units, for the doctor's screen and kiosk lines.

Asked with ``systemctl show``, which any user may run. Where systemd cannot be asked
(a development machine, a container without systemd) the answer is ``None``, and the
checks say so instead of guessing.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

SYSTEMCTL_TIMEOUT_S = 5.0
LANE_UNIT = "firmware-lane.service"
KIOSK_UNIT = "firmware-lane-kiosk.service"


@dataclass(frozen=True)
class UnitStatus:
    """``systemctl show``'s LoadState (``loaded``, ``not-found``, ``masked``, …),
    ActiveState (``active``, ``activating``, ``inactive``, ``failed``, …) and SubState
    (``running``, ``auto-restart``, ``dead``, …)."""

    load: str
    active: str
    sub: str

    @property
    def installed(self) -> bool:
        return self.load not in ("not-found", "masked")

    @property
    def running(self) -> bool:
        return self.active == "active"

    def words(self) -> str:
        """``active (running)``, as ``systemctl status`` shows it."""
        return f"{self.active} ({self.sub})" if self.sub else self.active


def unit_status(
    unit: str, *, systemctl: str = "systemctl", timeout_s: float = SYSTEMCTL_TIMEOUT_S
) -> UnitStatus | None:
    """The unit's state, or None when systemd cannot be asked (no ``systemctl``, systemd
    not running, no answer within ``timeout_s``)."""
    command = [systemctl, "show", "--property=LoadState,ActiveState,SubState", "--", unit]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return parse_show(done.stdout)


def parse_show(text: str) -> UnitStatus | None:
    """``LoadState=loaded`` lines (``systemctl show``) as a ``UnitStatus``; None when
    LoadState or ActiveState is missing."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    if not values.get("LoadState") or not values.get("ActiveState"):
        return None
    return UnitStatus(values["LoadState"], values["ActiveState"], values.get("SubState", ""))
