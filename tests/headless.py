"""The config of a lane with no devices (no scanner or keypad at their paths, no scale,
printer or drawer) in ``tmp_path``, for tests that build the lane as ``run`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def headless_config(tmp_path: Path, url: str, **tables: dict[str, Any]) -> dict[str, Any]:
    """Store S001, lane 01, its data in ``tmp_path/data``, the broker at ``url``; each of
    ``tables`` (``mqtt`` merged, the others added) as given."""
    raw: dict[str, Any] = {
        "lane": {"store": "S001", "lane": "01", "data_dir": str(tmp_path / "data")},
        "scanner": {"path": str(tmp_path / "none")},
        "keypad": {"path": str(tmp_path / "none")},
        "scale": {"enabled": False},
        "printer": {"enabled": False},
        "drawer": {"enabled": False},
        "mqtt": {"url": url, **tables.pop("mqtt", {})},
    }
    return {**raw, **tables}
