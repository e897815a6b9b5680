"""The public docs keep up with the code: every audit event type the lane can emit and
every device its status reports (with each of its state words) are in docs/mqtt.md,
and every config section is in README's Configuration list. The names are found in
the code itself, so a new one fails here until it is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from firmware_app import config as config_mod
from firmware_app.lane.devices import DEVICE_WORDS, Device
from firmware_app.sync import states

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "firmware_app").rglob("*.py"))


def section(path: Path, heading: str) -> str:
    """The text of the section under ``heading`` (a whole heading line), up to the next
    heading of the same or a higher level."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.M)
    end = following.search(text, start + len(heading) + 2)
    return text[start : end.start() if end else len(text)]


def trees() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SOURCES]


def literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def event_types() -> dict[str, str]:
    """Every event type passed to ``ctx.audit(state, TYPE, …)`` or ``AuditEvent(TYPE, …)``,
    with where it is emitted. A type that is not a literal fails: it cannot be checked."""
    found: dict[str, str] = {}
    for path, tree in trees():
        wrappers = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "audit"
        ]
        inside = {id(n) for w in wrappers for n in ast.walk(w)}  # ``audit`` passes its type on
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in inside:
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "audit":
                arg = node.args[1] if len(node.args) > 1 else None
            elif isinstance(func, ast.Name) and func.id == "AuditEvent":
                arg = node.args[0] if node.args else None
                arg = arg or next((k.value for k in node.keywords if k.arg == "type"), None)
            else:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            name = literal(arg)
            assert name is not None, f"{where}: the event type is not a string literal"
            found.setdefault(name, where)
    return found


def device_names() -> dict[str, str]:
    """Every device name the lane's code uses: ``Device.NAME``, and any name written
    as text (``DeviceState("name", …)``, ``DEVICE = "name"``, an input driver's
    ``device = "name"``, literal keys of a status ``"devices"`` mapping), with the
    sync thread's names."""
    found: dict[str, str] = {}

    def add(name: str | None, path: Path, node: ast.AST) -> None:
        if name and name != "hid":  # the input drivers' base class, never a device
            found.setdefault(name, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")

    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "Device":
                add(
                    Device[node.attr].value if node.attr in Device.__members__ else None, path, node
                )
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DeviceState":
                add(literal(node.args[0]) if node.args else None, path, node)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id in ("DEVICE", "device"):
                    add(literal(node.value), path, node)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if literal(key) == "devices" and isinstance(value, ast.Dict):
                        for inner in value.keys:
                            add(literal(inner), path, node)
    for name in (states.BROKER, states.OUTBOX):
        found.setdefault(name, "firmware_app/sync/states.py")
    return found


def config_sections(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The top-level tables ``config.parse`` reads (watched as it reads a minimal file)."""
    seen: set[str] = set()
    table = config_mod._Table.table

    def watching(self: Any, key: str) -> Any:
        if not self.name:
            seen.add(key)
        return table(self, key)

    monkeypatch.setattr(config_mod._Table, "table", watching)
    config_mod.parse({"lane": {"store": "S1", "lane": "1"}})
    return seen


def test_the_code_is_read_at_all() -> None:
    assert {"sign_on", "reprint", "drawer_alarm", "lane_restored"} <= set(event_types())
    assert {"scanner", "keypad", "scale", "printer", "drawer", "clock"} <= set(device_names())


def test_every_event_type_is_in_the_contract() -> None:
    events = section(ROOT / "docs" / "mqtt.md", "## `lane.event/1`")
    missing = {
        name: where for name, where in event_types().items() if f"| `{name}` |" not in events
    }
    assert not missing, f"docs/mqtt.md, lane.event/1: no row for {missing}"


def test_every_status_device_is_in_the_contract() -> None:
    status = section(ROOT / "docs" / "mqtt.md", "## `lane.status/1` (retained)")
    missing = {name: where for name, where in device_names().items() if f"`{name}`" not in status}
    assert not missing, f"docs/mqtt.md, lane.status/1: no word on {missing}"


def test_every_device_name_in_the_code_is_a_typed_device() -> None:
    untyped = {name: where for name, where in device_names().items() if name not in set(Device)}
    assert not untyped, f"device names that are not a Device: {untyped}"


def status_words() -> dict[str, set[str]]:
    """docs/mqtt.md's status table: each device's words, as written in backquotes (a
    row may name several devices; config keys like `scale.timeout_ms` are not words)."""
    status = section(ROOT / "docs" / "mqtt.md", "## `lane.status/1` (retained)")
    table: dict[str, set[str]] = {}
    for line in status.splitlines():
        cells = line.split("|")
        if not line.startswith("| `") or len(cells) < 4:
            continue
        words = set(re.findall(r"`(\w+)`", cells[2]))
        for name in re.findall(r"`(\w+)`", cells[1]):
            table[name] = words
    return table


def test_each_devices_state_words_are_the_contracts() -> None:
    typed = {device.value: {word.value for word in words} for device, words in DEVICE_WORDS.items()}
    assert set(DEVICE_WORDS) == set(Device)
    assert status_words() == typed


def test_every_config_section_is_in_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    configuration = section(ROOT / "README.md", "## Configuration")
    sections = config_sections(monkeypatch)
    assert {"lane", "mqtt", "backup"} <= sections
    missing = sorted(name for name in sections if f"`[{name}]`" not in configuration)
    assert not missing, f"README.md, Configuration: sections not listed: {missing}"
