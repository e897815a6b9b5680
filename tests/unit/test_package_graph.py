"""The package graph holds: lane ← drivers, store ← sync ← app (DESIGN.md).

Each package's modules are imported in a fresh interpreter and ``sys.modules`` is
read afterwards, so what a module pulls in by any path counts, not only what its
own ``import`` lines say: the core can load no peewee, paho or device library,
whatever it imports on the way.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import firmware_app

ROOT = Path(firmware_app.__file__).resolve().parents[1]

# Modules every layer may use: the package itself and its leaf modules (no imports of
# other firmware_app packages).
LEAVES = {
    "firmware_app",
    "firmware_app.config",
    "firmware_app.errors",
    "firmware_app.ids",
    "firmware_app.reminders",
}
DEVICE_LIBRARIES = {"serial", "evdev", "gpiozero", "escpos", "PIL"}
STORE_LIBRARIES = {"peewee", "sqlite3", "_sqlite3"}
NETWORK_LIBRARIES = {"paho", "jsonschema", "fastjsonschema"}

# package: (firmware_app packages it may load, third-party roots it must not load)
LAYERS: dict[str, tuple[set[str], set[str]]] = {
    "lane": ({"lane"}, DEVICE_LIBRARIES | STORE_LIBRARIES | NETWORK_LIBRARIES),
    "drivers": ({"lane", "drivers"}, STORE_LIBRARIES | {"paho"}),
    "store": ({"lane", "store"}, DEVICE_LIBRARIES | {"paho"}),
    "sync": ({"lane", "store", "sync"}, DEVICE_LIBRARIES),
}

PROBE = """
import importlib, json, pkgutil, sys
import firmware_app.{package} as package
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(package: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(package=package)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def firmware_packages(modules: set[str]) -> dict[str, set[str]]:
    """Loaded firmware_app modules outside the leaves, by their package."""
    found: dict[str, set[str]] = {}
    for name in modules - LEAVES:
        parts = name.split(".")
        if parts[0] == "firmware_app" and len(parts) > 1:
            found.setdefault(parts[1], set()).add(name)
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_a_package_loads_only_the_layers_below_it(package: str) -> None:
    allowed, forbidden = LAYERS[package]
    modules = loaded_by(package)
    strays = {p: names for p, names in firmware_packages(modules).items() if p not in allowed}
    assert not strays, f"importing firmware_app.{package} loads {strays}"
    libraries = {name.split(".")[0] for name in modules} & forbidden
    assert not libraries, f"importing firmware_app.{package} loads {sorted(libraries)}"


def test_every_top_level_package_is_placed() -> None:
    """A new package must say where it sits in the graph (here, or as an app package)."""
    app = {"app", "doctor", "ui"}
    packages = {m.name for m in pkgutil.iter_modules(firmware_app.__path__) if m.ispkg}
    assert packages <= set(LAYERS) | app, packages - set(LAYERS) - app
