"""The machine a benchmark ran on: CPU model, cores, RAM, kernel, Python and SQLite
versions, and the load average (others may share the machine)."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path


def cpu_model(cpuinfo: str) -> str:
    """The board's ``Model`` (a Raspberry Pi's), else the first ``model name`` (x86) of
    /proc/cpuinfo."""
    for key in ("Model", "model name", "Hardware"):
        for line in cpuinfo.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine()


def ram_gb(meminfo: str) -> float:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def describe() -> list[str]:
    """Lines for above the table."""
    return [
        f"- CPU: {cpu_model(_read('/proc/cpuinfo'))}, {os.cpu_count()} cores "
        f"({platform.machine()})",
        f"- RAM: {ram_gb(_read('/proc/meminfo')):.1f} GB",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLite {sqlite3.sqlite_version}",
        f"- load average (1, 5, 15 min) at the start: {load()}",
    ]
