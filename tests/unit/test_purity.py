"""The lane core stays pure: no I/O libraries, no clock, no randomness (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import firmware_app.lane

FORBIDDEN_MODULES = {
    "firmware_app.drivers",
    "firmware_app.sync",
    "firmware_app.store",
    "peewee",
    "paho",
    "evdev",
    "serial",
    "gpiozero",
    "escpos",
    "socket",
    "sqlite3",
    "os",
    "time",
    "random",
    "threading",
    "subprocess",
    "logging",
    "uuid",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "open", "print", "input"}

LANE = Path(firmware_app.lane.__file__).parent


def _modules() -> list[Path]:
    return sorted(LANE.glob("*.py"))


def test_core_imports_nothing_that_does_io() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = [m for m in FORBIDDEN_MODULES if name == m or name.startswith(m + ".")]
                assert not root, f"{path.name} imports {name}"


def test_core_never_reads_the_clock_or_files() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


CLOCK_OWNERS = {"datetime", "date", "time", "dt"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"}


def test_core_holds_no_reference_to_a_clock() -> None:
    """Not even uncalled, as a default (``clock=datetime.now``): time arrives with events."""
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in CLOCK_READS:
                owner = node.value
                name = getattr(owner, "id", getattr(owner, "attr", ""))
                assert name not in CLOCK_OWNERS, f"{path.name}:{node.lineno} {name}.{node.attr}"
