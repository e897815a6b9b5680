"""A whole lane on simulated hardware, driven by a script.

The lane runs its real code (``LaneApp``: drivers, core, store, sync); only the
hardware underneath is simulated: key events through pipes for the scanner and
keypad, an 8217 scale, an ESC/POS printer and a customer display (``--pole``:
CD5220, ESC/POS or LED; ``customer-display.log``) on pseudo-terminals, the drawer
on gpiozero's MockFactory. Each script command acts on a device and then waits
until the lane has handled what it caused, as hands at a real lane would.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from gpiozero.pins.mock import MockFactory

from firmware_app import config as config_mod
from firmware_app.app.bootstrap import Hardware, LaneApp
from firmware_app.drivers.payment import SimulatedTerminal
from firmware_app.drivers.text_display import TextDisplay
from firmware_app.lane.ports import Role
from firmware_app.lane.state import Mode
from firmware_app.lane.weighing import ScaleStatus
from firmware_app.store.catalog_doc import parse_catalog
from hw_sim.drawer import SimulatedDrawer
from hw_sim.hid import SimulatedHidDevice
from hw_sim.pole_display import SimulatedPoleDisplay
from hw_sim.printer import SimulatedPrinter
from hw_sim.scale import SimulatedScale
from hw_sim.script import Command

log = logging.getLogger(__name__)

SAMPLE_CATALOG = Path(__file__).parent / "samples" / "catalog.json"
CASHIERS = (
    ("1001", Role.CASHIER, "1234"),
    ("9001", Role.SUPERVISOR, "9999"),
    # Roles and approvals: a second supervisor and a technician.
    ("9002", Role.SUPERVISOR, "8888"),
    ("7001", Role.TECHNICIAN, "7777"),
)
SIM_KEYS = {
    "KEY_F1": "PAIDIN",
    "KEY_F2": "PAIDOUT",
    "KEY_F3": "XREPORT",
    "KEY_F4": "ZREPORT",
    "KEY_F5": "TRAINING",
    "KEY_F6": "PRICE",  # price override and discounts
    "KEY_F7": "DISC",
    "KEY_F8": "YES",  # the answers to questions (age checks, confirmations)
    "KEY_F9": "NO",
}
SETTLE_S = 5.0  # how long a command may take to reach the lane before the run gives up
OFFLINE_URL = "mqtt://127.0.0.1:1"  # nothing listens there: the lane sells offline


class SimError(RuntimeError):
    """The simulated lane did not do what a command asked within its time."""


@dataclass
class SimOptions:
    out: Path
    data_dir: Path | None = None
    catalog: Path | None = None
    broker_url: str | None = None
    store: str = "S001"
    lane: str = "01"
    echo: TextIO = sys.stdout
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # config tables
    ui_port: int | None = None  # serve the screens at http://127.0.0.1:PORT/
    pole: str = "cd5220"  # the customer display's command set: cd5220 | escpos | led8


class SimClock:
    """The simulated lane's clock: real time, until ``clock TIME`` sets it to TIME, from
    which it runs on (aware, in TIME's offset)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._zone: tzinfo | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            offset, zone = self._offset, self._zone
        now = datetime.now().astimezone() if zone is None else datetime.now(zone)
        return now + offset

    def set(self, when: datetime) -> None:
        with self._lock:
            self._zone = when.tzinfo
            self._offset = when - datetime.now(when.tzinfo)


class Tee:
    """A text stream writing to the console and a log file."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


class SimLane:
    """The simulated devices, the lane on top of them, and the script's verbs."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        options.out.mkdir(parents=True, exist_ok=True)
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="hw_sim-") if options.data_dir is None else None
        )
        self.data_dir = options.data_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        # Device links, as udev gives a real lane (/dev/lane-scale): a re-plugged
        # USB adapter comes back behind the same name.
        self._dev = tempfile.TemporaryDirectory(prefix="hw_sim-dev-")
        self.scanner = SimulatedHidDevice("sim-scanner")
        self.keypad = SimulatedHidDevice("sim-keypad")
        self.scale = SimulatedScale(link=Path(self._dev.name) / "lane-scale")
        self.printer = SimulatedPrinter(options.out)
        # The customer display, as [customer_display] of a lane with one (/dev/lane-pole).
        self.pole = SimulatedPoleDisplay(
            options.out, protocol=options.pole, link=Path(self._dev.name) / "lane-pole"
        )
        self.pins = MockFactory()
        self.terminal = SimulatedTerminal()
        self.clock = SimClock()
        self.config = self._config()
        self.drawer = SimulatedDrawer(self.pins, self.config.drawer)
        self._screen_log = open(options.out / "screen.log", "a", encoding="utf-8")  # noqa: SIM115
        self.display = TextDisplay(
            Tee(options.echo, self._screen_log), setup=_setup(self.config), language="en"
        )
        self.app = LaneApp(
            self.config,
            hardware=Hardware(
                scanner_source=lambda path: self.scanner.source(),
                keypad_source=lambda path: self.keypad.source(),
                pin_factory=self.pins,
                terminal=self.terminal,
                display=self.display,
                clock=self.clock,
            ),
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.app.run, args=(self.stop,), name="lane")
        self.printed = 0
        try:
            self._seed()
        except BaseException:
            self.close()  # a catalog the lane refuses: nothing of the run is left behind
            raise

    def _config(self) -> config_mod.Config:
        tables: dict[str, dict[str, Any]] = {
            "lane": {
                "store": self.options.store,
                "lane": self.options.lane,
                "data_dir": str(self.data_dir),
            },
            "scanner": {"path": "sim-scanner"},
            # Keys the default map leaves to touch get function keys here, so that a
            # script can press them (cash movements, training mode, reports, price override and
            # discounts).
            "keypad": {"path": "sim-keypad", "map": dict(SIM_KEYS)},
            "scale": {"port": self.scale.port, "poll_ms": 100, "timeout_ms": 300},
            "printer": {"port": self.printer.port},
            "customer_display": {
                "enabled": True,
                "port": self.pole.port,
                "protocol": self.options.pole,
            },
            "drawer": {"confirm_ms": 300},
            "mqtt": {
                "url": self.options.broker_url or OFFLINE_URL,
                "ack_timeout_s": 5,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 2,
            },
            "display": {"language": "en"},
            "approvals": {"badge_prefix": "SV"},  # supervisor badges: SV9001, SV9002
            # Members: 13-digit cards with a GS1 check digit (hw_sim/samples/members.json),
            # a point per 1.00 while the sample catalog has no loyalty rule.
            "members": {"lengths": [13], "check_digit": "mod10-gs1", "points_per": "1.00"},
            "ui": {
                "enabled": self.options.ui_port is not None,
                "listen": f"127.0.0.1:{self.options.ui_port or 8080}",
            },
        }
        for name, values in self.options.overrides.items():
            tables.setdefault(name, {}).update(values)
        return config_mod.parse(tables, source="hw_sim")

    def _seed(self) -> None:
        """The catalog and the simulated cashiers, unless the data dir has them.

        A ``catalog`` named for the run is the one it sells from, even when a kept
        data dir holds a newer version. Raises ``CatalogError`` when the lane refuses it.
        """
        catalog = self.options.catalog
        if catalog is not None or self.app.catalog.count() == 0:
            change = parse_catalog((catalog or SAMPLE_CATALOG).read_bytes())
            self.app.catalog.apply(change, allow_older=True)
        now = datetime.now().astimezone()
        for cashier_id, role, pin in CASHIERS:
            if self.app.cashiers.verify(cashier_id, pin) is None:
                self.app.cashiers.add(cashier_id, role, pin, now=now)

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        self.app.start()
        self.thread.start()
        self.wait_for(lambda: self.loop.device_states().get("scanner") == "ok", "scanner ready")
        self.wait_for(lambda: self.loop.device_states().get("keypad") == "ok", "keypad ready")

    @property
    def loop(self):
        return self.app.loop

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.app.close()
        for device in (self.scanner, self.keypad, self.scale, self.printer, self.pole):
            device.close()
        self._screen_log.close()
        self._dev.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = SETTLE_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SimError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def settle(self) -> None:
        """Wait until the lane has handled every event so far, the terminal included."""
        self.wait_for(
            lambda: self.loop.idle() and self.loop.state.mode is not Mode.TERMINAL, "the lane"
        )

    def wait_idle(self) -> None:
        self.settle()
        self.wait_printed()
        self.echo_receipts()

    def wait_printed(self) -> None:
        """Wait until what the lane could print has reached the simulated paper."""
        spooler = self.app.spooler
        if spooler is not None:
            self.wait_for(spooler.idle, "the receipt printer")
            self.settle()  # what the spooler told the lane (receipts pending, printed)
        self.printer.idle(timeout=SETTLE_S)

    def echo_receipts(self) -> None:
        receipts = list(self.printer.receipts)
        for text in receipts[self.printed :]:
            border = "-" * 48
            self.options.echo.write(f"{border}\n{text.rstrip()}\n{border}\n")
        self.printed = len(receipts)

    # --- the script's verbs --------------------------------------------------------------

    def run(self, command: Command) -> None:
        handler = getattr(self, f"_do_{command.verb}")
        handler(*command.args)

    def _do_scan(self, data: str) -> None:
        before = self.loop.counts["scan"]
        self.scanner.type_text(data)
        self.wait_for(lambda: self.loop.counts["scan"] > before, f"the scan of {data!r}")
        self.settle()

    def _do_key(self, *names: str) -> None:
        before = self.loop.counts["key"]
        self.keypad.press_names(names, self.config.keypad.keymap)
        self.wait_for(lambda: self.loop.counts["key"] >= before + len(names), "the keys")
        self.settle()
        self.wait_printed()
        self.echo_receipts()

    def _do_clock(self, when: str) -> None:
        self.clock.set(datetime.fromisoformat(when))
        self.settle()

    def _do_type(self, text: str) -> None:
        self._do_key(*("DOT" if ch == "." else ch for ch in text))

    def _do_scale(self, what: str) -> None:
        if what in ("unplug", "pull"):
            self.scale.unplug() if what == "unplug" else self.scale.pull_adapter()
            self.wait_for(
                lambda: self._scale_status() is ScaleStatus.SILENT, "the scale to go silent"
            )
            return
        if what in ("plug", "replug"):
            self.scale.plug() if what == "plug" else self.scale.plug_adapter()
            self.wait_for(
                lambda: self._scale_status() not in (None, ScaleStatus.SILENT), "the scale"
            )
            return
        expected = {
            "motion": ScaleStatus.MOVING,
            "over": ScaleStatus.OVER,
            "under": ScaleStatus.UNDER,
        }
        if what in expected:
            getattr(
                self.scale, {"motion": "set_motion", "over": "set_over", "under": "set_under"}[what]
            )()
            self.wait_for(lambda: self._scale_status() is expected[what], f"scale {what}")
            return
        self.scale.set_weight(int(Decimal(what) * 1000))
        shown = self.scale.shown  # the scale's own figure (its zero, its tare)

        def arrived() -> bool:
            reading = self.loop.state.scale if self._scale_status() else None
            if not shown.steady_weight:
                return reading is not None and reading.status is not ScaleStatus.STABLE
            return (
                reading is not None
                and reading.status is ScaleStatus.STABLE
                and reading.grams == shown.grams
            )

        self.wait_for(arrived, f"scale {what} kg")

    def _scale_status(self) -> ScaleStatus | None:
        self.settle()
        reading = self.loop.state.scale
        return reading.status if reading else None

    def _do_printer(self, *words: str) -> None:
        if words == ("unplug",):
            self.printer.unplug()
        elif words == ("plug",):
            self.printer.plug()
        elif words[:2] == ("paper", "out-after"):
            self.printer.paper_out_after(int(words[2]))
        elif words[0] == "paper":
            self.printer.paper(words[1])
        elif words[0] == "cutter":
            self.printer.cutter_error(words[1] == "jam")
        else:
            self.printer.cover(words[1] == "open")
        if self.app.spooler is not None and words[:2] != ("paper", "out-after"):
            # A technician fixing the printer: the lane looks at once, not at its next poll.
            self.app.spooler.wake()
            self.wait_idle()

    def _do_drawer(self, what: str) -> None:
        if what in ("jam", "stick"):
            self.drawer.jam(kicks=2 if what == "jam" else 1)
        elif what == "unjam":
            self.drawer.unjam()
        elif what == "key":
            self.drawer.open_with_key()
            self.wait_for(lambda: self.loop.state.drawer_open, "the drawer to open")
        else:
            self.drawer.close_drawer()
            self.wait_for(lambda: not self.loop.state.drawer_open, "the drawer to close")

    def _do_scanner(self, what: str) -> None:
        self._hid(self.scanner, "scanner", what)

    def _do_keypad(self, what: str) -> None:
        self._hid(self.keypad, "keypad", what)

    def _hid(self, device: SimulatedHidDevice, name: str, what: str) -> None:
        if what == "unplug":
            device.unplug()
            self.wait_for(
                lambda: self.loop.device_states().get(name) == "missing", f"the {name} to go"
            )
        else:
            device.plug()
            self.wait_for(
                lambda: self.loop.device_states().get(name) == "ok",
                f"the {name} to come back",
                timeout=SETTLE_S + 5,
            )

    def _do_terminal(self, what: str) -> None:
        self.terminal.decline = what == "decline"

    def _do_sleep(self, seconds: str) -> None:
        time.sleep(float(seconds))

    def _do_wait(self, what: str) -> None:
        self.wait_idle()


def _setup(config: config_mod.Config):
    from firmware_app.app.bootstrap import lane_setup

    return lane_setup(config)
