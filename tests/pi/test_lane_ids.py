"""scripts/lane-ids over a sysfs tree laid out as the kernel lays it out: each USB
device with its ids and the nodes the lane can use, identical adapters told apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANE_IDS = ROOT / "scripts" / "lane-ids"
KEYBOARD_KEYS = "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe"
CONSUMER_KEYS = "3 0 0 0"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def link(path: Path, target: Path | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, path.parent) if isinstance(target, Path) else target, path)


def usb(sys_root: Path, port: str, ids: str, maker: str, model: str) -> Path:
    """A USB device as sysfs shows it: ``ids`` is vendor:product, as the device reports it."""
    hub = sys_root / "devices/platform/scb/fd500000.pcie/pci0000:00/usb1/1-1"
    device = hub / port
    vendor, product = ids.split(":")
    attributes = {"idVendor": vendor, "idProduct": product, "bDeviceClass": "00"}
    attributes |= {"manufacturer": maker, "product": model}
    for name, value in attributes.items():
        write(device / name, value)
    link(sys_root / "bus/usb/devices" / port, device)
    return device


def event(sys_root: Path, interface: Path, n: int, name: str, keys: str) -> None:
    input_dir = interface / "0003:0C2E:0B61.0001" / "input" / f"input{n + 2}"
    write(input_dir / "name", name)
    write(input_dir / "capabilities" / "key", keys)
    (input_dir / f"event{n}").mkdir(parents=True)
    link(sys_root / "class/input" / f"event{n}", input_dir / f"event{n}")


def tty(sys_root: Path, interface: Path, name: str) -> None:
    (interface / name).mkdir(parents=True)
    link(sys_root / "class/tty" / name, interface / name)


def fake_lane(tmp_path: Path) -> tuple[Path, Path]:
    sys_root, dev = tmp_path / "sys", tmp_path / "dev"
    hub = sys_root / "devices/platform/scb/fd500000.pcie/pci0000:00/usb1/1-1"
    for name, value in {"idVendor": "2109", "idProduct": "3431", "bDeviceClass": "09"}.items():
        write(hub / name, value)
    link(sys_root / "bus/usb/devices/1-1", hub)
    write(sys_root / "devices/platform/scb/fd500000.pcie/pci0000:00/usb1/idVendor", "1d6b")
    link(sys_root / "bus/usb/devices/usb1", hub.parent)

    scanner = usb(sys_root, "1-1.2", "0C2E:0b61", "Honeywell", "1900")
    event(sys_root, scanner / "1-1.2:1.0", 3, "Honeywell 1900", KEYBOARD_KEYS)
    event(sys_root, scanner / "1-1.2:1.1", 4, "Honeywell 1900 Consumer Control", CONSUMER_KEYS)
    link(sys_root / "bus/usb/devices/1-1.2:1.0", scanner / "1-1.2:1.0")  # interfaces too
    scale = usb(sys_root, "1-1.3", "067b:2303", "Prolific", "USB-Serial")
    tty(sys_root, scale / "1-1.3:1.0", "ttyUSB0")
    printer = usb(sys_root, "1-1.4", "067b:2303", "Prolific", "USB-Serial")
    tty(sys_root, printer / "1-1.4:1.0", "ttyUSB1")
    (sys_root / "devices/virtual/tty/tty0").mkdir(parents=True)
    link(sys_root / "class/tty/tty0", sys_root / "devices/virtual/tty/tty0")

    link(dev / "input/by-id/usb-Honeywell_1900-event-kbd", "../event3")
    link(dev / "serial/by-id/usb-Prolific_USB-Serial-if00-port0", "../../ttyUSB0")
    link(dev / "lane-scanner", "input/event3")
    return sys_root, dev


def lane_ids(sys_root: Path, dev: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(LANE_IDS), "--sys", str(sys_root), "--dev", str(dev)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lists_each_usb_device_with_ids_and_lane_nodes(tmp_path: Path) -> None:
    out = lane_ids(*fake_lane(tmp_path))
    lines = [line.rstrip() for line in out.splitlines()]
    assert "  port:1-1.2      0c2e:0b61  serial -                Honeywell 1900" in lines
    assert "      /dev/input/event3    keys: a scanner or keypad (Honeywell 1900)" in lines
    assert "                           /dev/input/by-id/usb-Honeywell_1900-event-kbd" in lines
    assert any(line.startswith("      /dev/input/event4    no typing keys") for line in lines)
    assert "      /dev/ttyUSB0         serial: a scale or printer" in lines
    assert "      /dev/ttyUSB1         serial: a scale or printer" in lines
    assert "1-1 " not in out and "2109" not in out  # hubs are not lane devices
    assert "tty0" not in out


def test_identical_adapters_without_serials_are_told_apart_by_port(tmp_path: Path) -> None:
    out = lane_ids(*fake_lane(tmp_path))
    assert (
        "067b:2303 is on more than one device: use the port instead "
        "(port:1-1.3, port:1-1.4) and keep each cable in its socket."
    ) in out


def test_shows_the_lane_links_as_they_are(tmp_path: Path) -> None:
    out = lane_ids(*fake_lane(tmp_path))
    assert "  /dev/lane-scanner  -> input/event3" in out
    assert "  /dev/lane-scale    -> (missing)" in out


def test_nothing_attached(tmp_path: Path) -> None:
    (tmp_path / "sys").mkdir()
    (tmp_path / "dev").mkdir()
    out = lane_ids(tmp_path / "sys", tmp_path / "dev")
    assert "none found: plug the devices in" in out
