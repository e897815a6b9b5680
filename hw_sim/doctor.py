"""``python -m hw_sim --doctor``: the doctor's checks against simulated devices.

Brings up the simulated hardware of one lane, without the lane: scanner and keypad
on a simulated ``/dev/input`` (``SimulatedInputBus``), an 8217 scale, an ESC/POS
printer and a CD5220 customer display on pseudo-terminals, the drawer on
gpiozero's MockFactory pins, real ``lane.db`` and ``catalog.db`` files, and a
broker (a private mosquitto unless ``--broker``). Then runs ``firmware_app.doctor``
over them, through its ``DeviceAccess`` seam: the very checks a technician runs on
the Pi.

Faults (``--fault NAME``, repeatable) put the simulated lane in a state the doctor
must catch, so a technician can see each ✗ line before meeting it on a real lane.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TextIO

from gpiozero import DigitalInputDevice
from gpiozero.pins.mock import MockFactory

from firmware_app import config as config_mod
from firmware_app.doctor import DeviceAccess, run_doctor
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.catalog_doc import parse_catalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.outbox import Outbox
from firmware_app.sync.contract import encode
from hw_sim.broker import free_port
from hw_sim.drawer import SimulatedDrawer
from hw_sim.hid import SimulatedHidDevice, SimulatedInputBus
from hw_sim.pole_display import SimulatedPoleDisplay
from hw_sim.printer import SimulatedPrinter
from hw_sim.scale import SimulatedScale

SAMPLE_CATALOG = Path(__file__).parent / "samples" / "catalog.json"
SCANNER_USB = (0x0C2E, 0x0B61)  # a Honeywell scanner's ids
KEYPAD_USB = (0x04D9, 0x1203)
WEIGHT_G = 532
OLD_MESSAGE = timedelta(hours=2)
OFFLINE_URL = "mqtt://127.0.0.1:1"  # no mosquitto to start: nothing listens there

FAULTS: dict[str, str] = {
    "scanner-unplug": "the scanner's USB cable is out",
    "keypad-unplug": "the keypad's USB cable is out",
    "scale-unplug": "the scale's cable is out: its port stays, nothing answers",
    "scale-adapter-pull": "the scale's USB serial adapter is out: its port is gone",
    "printer-paper-out": "the printer has no paper",
    "printer-cover-open": "the printer's cover is open",
    "printer-unplug": "the printer's cable is out: no status answer",
    "pole-adapter-pull": "the customer display's USB serial adapter is out: its port is gone",
    "drawer-open": "the drawer stands open (not a fault: the line says so)",
    "gpio-busy": "another program holds the drawer's kick pin",
    "broker-down": "no broker at the configured address",
    "db-corrupt": "lane.db is damaged",
    "outbox-old": "a sale message has waited two hours for the store server",
    "disk-full": "the data directory's disk is nearly full",
    "clock-unsynced": "no NTP: the clock is not synchronised",
}


def corrupt_database(path: Path) -> None:
    """Overwrite the file's second page with garbage, as a bad SD card sector would."""
    with path.open("r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 4096)


class SimulatedLaneHardware:
    """One lane's simulated devices, its data files and the ``DeviceAccess`` that
    reaches them; ``faults`` (names of ``FAULTS``) applied on construction."""

    def __init__(
        self,
        data_dir: Path,
        out: Path,
        *,
        broker_url: str,
        store: str = "S001",
        lane: str = "01",
        faults: Iterable[str] = (),
    ) -> None:
        self.faults = tuple(faults)
        unknown = [f for f in self.faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault {unknown[0]!r}: one of {', '.join(FAULTS)}")
        self._closers: list[Callable[[], object]] = []
        try:
            self._build(data_dir, out, broker_url, store, lane)
        except BaseException:
            self.close()
            raise

    def _build(self, data_dir: Path, out: Path, broker_url: str, store: str, lane: str) -> None:
        self.bus = SimulatedInputBus()
        self.scanner = self._owned(SimulatedHidDevice("Sim Scanner"))
        self.keypad = self._owned(SimulatedHidDevice("Sim POS Keypad"))
        scanner_path = self.bus.attach(self.scanner, vendor=SCANNER_USB[0], product=SCANNER_USB[1])
        keypad_path = self.bus.attach(self.keypad, vendor=KEYPAD_USB[0], product=KEYPAD_USB[1])
        self.scale = self._owned(SimulatedScale(link=data_dir / "lane-scale"))
        self.scale.set_weight(WEIGHT_G)
        self.printer = self._owned(SimulatedPrinter(out, render_png=False))
        self.pole = self._owned(SimulatedPoleDisplay(out, link=data_dir / "lane-pole"))
        self.pins = MockFactory()
        self.config = config_mod.parse(
            {
                "lane": {"store": store, "lane": lane, "data_dir": str(data_dir / "data")},
                "scanner": {"match": f"usb:{SCANNER_USB[0]:04x}:{SCANNER_USB[1]:04x}"},
                "keypad": {"path": keypad_path},
                "scale": {"port": self.scale.port},
                "printer": {"port": self.printer.port},
                "customer_display": {"enabled": True, "port": self.pole.port},
                "mqtt": {"url": broker_url},
                # The screen's address is free: the doctor finds the lane stopped there,
                # whatever else this machine serves on the default 8080.
                "ui": {"listen": f"127.0.0.1:{free_port()}"},
            },
            source="hw_sim",
        )
        self.scanner_path = scanner_path
        self.drawer = self._owned(SimulatedDrawer(self.pins, self.config.drawer))
        self._databases()
        self.synchronized: bool | None = True
        self.disk_usage: Callable[[str], Any] = shutil.disk_usage
        for fault in self.faults:
            self._apply(fault)

    def _owned(self, thing: Any) -> Any:
        self._closers.append(thing.close)
        return thing

    def _databases(self) -> None:
        """A lane database and a catalog with the sample catalog, as after set-up."""
        db = open_database(self.config.database)
        db.close()
        catalog_db = open_catalog(self.config.catalog_database)
        try:
            StoreCatalog(catalog_db).apply(parse_catalog(SAMPLE_CATALOG.read_bytes()))
        finally:
            catalog_db.close()

    def _apply(self, fault: str) -> None:
        if fault == "scanner-unplug":
            self.scanner.unplug()
        elif fault == "keypad-unplug":
            self.keypad.unplug()
        elif fault == "scale-unplug":
            self.scale.unplug()
        elif fault == "scale-adapter-pull":
            self.scale.pull_adapter()
        elif fault == "printer-paper-out":
            self.printer.paper("out")
        elif fault == "printer-cover-open":
            self.printer.cover(True)
        elif fault == "printer-unplug":
            self.printer.unplug()
        elif fault == "pole-adapter-pull":
            self.pole.pull_adapter()
        elif fault == "drawer-open":
            self.drawer.open_with_key()
        elif fault == "gpio-busy":
            holder = DigitalInputDevice(self.config.drawer.kick_pin, pin_factory=self.pins)
            self._closers.append(holder.close)
        elif fault == "broker-down":
            self.config = _with_broker(self.config, f"mqtt://127.0.0.1:{free_port()}")
        elif fault == "db-corrupt":
            corrupt_database(self.config.database)
        elif fault == "outbox-old":
            self._old_message()
        elif fault == "disk-full":
            self.disk_usage = _nearly_full
        elif fault == "clock-unsynced":
            self.synchronized = False

    def _old_message(self) -> None:
        db = open_database(self.config.database)
        try:
            at = datetime.now().astimezone() - OLD_MESSAGE
            topic = f"pos/{self.config.store}/lanes/{self.config.lane}/events"
            with db.atomic():
                Outbox(db).append(topic, lambda seq: encode({"seq": seq, "event": "no_sale"}), at)
        finally:
            db.close()

    def access(self) -> DeviceAccess:
        """What the doctor reaches the simulated devices through."""
        return DeviceAccess(
            input_lister=self.bus.nodes,
            input_source=self.bus.open,
            pin_factory=self.pins,
            # Every simulated device lives in this process: nobody else can hold one
            # (and the simulated /dev/input paths may exist on this machine for real).
            users_of=lambda path: (),
            ntp_synchronized=lambda: self.synchronized,
            disk_usage=self.disk_usage,
        )

    def close(self) -> None:
        """Unplug and remove everything. Idempotent."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()

    def __enter__(self) -> SimulatedLaneHardware:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _with_broker(config: config_mod.Config, url: str) -> config_mod.Config:
    return replace(config, mqtt=replace(config.mqtt, url=url))


class DiskUsage(NamedTuple):
    """What ``shutil.disk_usage`` returns, in bytes."""

    total: int
    used: int
    free: int


def _nearly_full(path: str) -> DiskUsage:
    """A 16 GB card with 50 MB left."""
    total, free = 16 * 1024**3, 50 * 1024**2
    return DiskUsage(total, total - free, free)


def run(
    *,
    faults: Iterable[str],
    broker_url: str,
    data_dir: Path | None,
    out: Path,
    store: str,
    lane: str,
    echo: TextIO = sys.stdout,
) -> int:
    """Build the simulated lane with ``faults``, run the doctor, return its exit code."""
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hw_sim-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        hardware = stack.enter_context(
            SimulatedLaneHardware(
                data_dir, out, broker_url=broker_url, store=store, lane=lane, faults=faults
            )
        )
        for fault in hardware.faults:
            print(f"hw_sim: fault {fault}: {FAULTS[fault]}", file=echo)
        code = run_doctor(hardware.config, access=hardware.access(), out=echo)
    return code
