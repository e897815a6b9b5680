"""``firmware-lane doctor``: is this lane ready to sell? One line per check, ✓ or ✗.

    ✓ config     /etc/firmware-lane/lane.toml (store S001, lane 01)
    ✓ scanner    /dev/lane-scanner → /dev/input/event3 ('Honeywell 1900')
    ✓ scale      /dev/lane-scale: 8217, 0.532 kg stable
    ✗ printer    /dev/lane-printer: no such file or directory: unplugged, or no udev link …
    – drawer     drawer disabled in config

The checks (``devices``, ``services``, ``screen``, ``kiosk``): scanner and keypad found
as the lane finds them; one scale reading; the printer's DLE EOT status; a test text
on the customer display (``pole``: it answers nothing, so the technician looks); the
GPIO pins free and the drawer switch; the broker reached with the lane's URL,
credentials and TLS; ``PRAGMA integrity_check`` on both databases; the outbox's depth
and oldest message; free disk space; the clock; the running lane's screen server
(``/healthz``) and the kiosk unit that shows it. Each check runs with a time limit, so a device
that never answers cannot hang the doctor. Devices are opened by the checks
themselves: run the doctor with the lane stopped (the screen line then says the lane
is stopped; run it again with the lane running to check the screen).

Exit code: 0 when no check failed (lines marked – were not checked: a device
disabled in the config), 1 when one did. ``DeviceAccess`` is how the checks reach
the hardware; hw_sim passes simulated devices through it.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import serial

from firmware_app.app.clock import ntp_synchronized
from firmware_app.config import Config
from firmware_app.doctor.result import DEVICE_ADVICE, CheckResult, path_problem
from firmware_app.doctor.units import KIOSK_UNIT, LANE_UNIT, UnitStatus, unit_status
from firmware_app.drivers.discovery import NodeLister, evdev_nodes
from firmware_app.drivers.hid import EvdevKeySource, SourceFactory
from firmware_app.errors import LaneError

__all__ = [
    "Check",
    "CheckResult",
    "DeviceAccess",
    "DoctorError",
    "doctor_checks",
    "print_test_receipt",
    "run_checks",
    "run_doctor",
]

DEVICE_TIMEOUT_S = 5.0
PRINTER_TIMEOUT_S = 15.0  # a printer holding CTS gets a 10 s write timeout in the driver
BROKER_TIMEOUT_S = 15.0
DATABASE_TIMEOUT_S = 70.0  # integrity_check stops itself at 60 s
SYSTEMCTL_SLACK_S = 6.0  # systemctl show gives up after 5 s


class DoctorError(LaneError):
    """A technician's command could not do its job; the message names what and why."""


def _serial_transport(config: Any) -> Any:
    from firmware_app.drivers.printer_transport import SerialTransport

    return SerialTransport(config)


def _users_of(path: str) -> Sequence[str]:
    from firmware_app.doctor.devices import users_of

    return users_of(path)


@dataclass(frozen=True)
class DeviceAccess:
    """How the checks reach the hardware and the system; each default is the real thing.

    ``input_lister`` lists the kernel's input nodes (for a ``match``), ``input_source``
    opens one (``EvdevKeySource``); ``serial_factory`` opens the scale's port
    (``serial.Serial``); ``printer_transport(PrinterConfig)`` the printer's;
    ``pin_factory`` is gpiozero's (None: its default for this board); ``users_of(path)``
    names the other processes holding a device; ``now`` is the lane's wall clock
    (None: ``lane.timezone``, else the system's zone); ``disk_usage`` is
    ``shutil.disk_usage``; ``unit_status(unit)`` is what systemd says of a unit (None
    where systemd cannot be asked).
    """

    input_lister: NodeLister = evdev_nodes
    input_source: SourceFactory = EvdevKeySource
    serial_factory: Callable[..., Any] = serial.Serial
    printer_transport: Callable[[Any], Any] = _serial_transport
    pin_factory: Any = None
    users_of: Callable[[str], Sequence[str]] = _users_of
    ntp_synchronized: Callable[[], bool | None] = ntp_synchronized
    now: Callable[[], datetime] | None = None
    disk_usage: Callable[[str], Any] = shutil.disk_usage
    unit_status: Callable[[str], UnitStatus | None] = unit_status


@dataclass(frozen=True)
class Check:
    """One check: ``run`` gives its result within ``timeout_s``, or the runner reports
    ``target`` (the path or URL it was trying) as not answering."""

    name: str
    target: str
    run: Callable[[], CheckResult] = field(repr=False)
    timeout_s: float = DEVICE_TIMEOUT_S


def lane_now(config: Config) -> Callable[[], datetime]:
    """The clock the lane stamps sales with: aware, in ``lane.timezone`` when it is set
    (and known; an unknown zone is the clock check's finding), else the system's."""
    if config.timezone:
        try:
            zone = ZoneInfo(config.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return lambda: datetime.now(zone)
    return lambda: datetime.now().astimezone()


def doctor_checks(config: Config, access: DeviceAccess | None = None) -> list[Check]:
    """Every check for ``config``, in the order they are shown."""
    from firmware_app.doctor import devices as dev
    from firmware_app.doctor import kiosk
    from firmware_app.doctor import screen as scr
    from firmware_app.doctor import services as svc

    a = access or DeviceAccess()
    now = a.now or lane_now(config)
    scanner, keypad = config.scanner, config.keypad
    checks = [
        Check(
            "config",
            config.path,
            lambda: CheckResult(
                "config", True, f"{config.path} (store {config.store}, lane {config.lane})"
            ),
        ),
    ]
    checks += [
        Check(name, str(cfg.match or cfg.path), _input_check(name, config, a))
        for name, cfg in (("scanner", scanner), ("keypad", keypad))
    ]
    checks += [
        Check(
            "scale",
            config.scale.port,
            lambda: dev.check_scale(
                config.scale, serial_factory=a.serial_factory, holders=a.users_of
            ),
            config.scale.timeout_ms / 1000 + DEVICE_TIMEOUT_S,  # the scale's own limit first
        ),
        Check(
            "printer",
            config.printer.port,
            lambda: dev.check_printer(
                config.printer, transport_factory=a.printer_transport, holders=a.users_of
            ),
            PRINTER_TIMEOUT_S,
        ),
        Check(
            "pole",
            config.customer_display.port,
            lambda: dev.check_pole(
                config.customer_display, serial_factory=a.serial_factory, holders=a.users_of
            ),
        ),
        Check(
            "gpio",
            f"GPIO{config.drawer.kick_pin}",
            lambda: dev.check_gpio(config.drawer, pin_factory=a.pin_factory),
        ),
        Check(
            "drawer",
            f"GPIO{config.drawer.switch_pin}",
            lambda: dev.check_drawer(config.drawer, pin_factory=a.pin_factory),
        ),
        Check(
            "broker",
            svc.broker_where(config.mqtt),
            lambda: svc.check_broker(config.mqtt, client_id=f"lane-{config.store}-{config.lane}"),
            BROKER_TIMEOUT_S,
        ),
        Check(
            "lane db",
            str(config.database),
            lambda: svc.check_database("lane db", config.database),
            DATABASE_TIMEOUT_S,
        ),
        Check(
            "catalog db",
            str(config.catalog_database),
            lambda: svc.check_database("catalog db", config.catalog_database),
            DATABASE_TIMEOUT_S,
        ),
        Check(
            "outbox",
            str(config.database),
            lambda: svc.check_outbox(
                config.database, warn_after_min=config.mqtt.backlog_warning_min, now=now()
            ),
        ),
        Check(
            "disk",
            config.data_dir,
            lambda: svc.check_disk(config.data_dir, disk_usage=a.disk_usage),
        ),
        Check(
            "clock",
            "the system clock",
            lambda: svc.check_clock(config, now=now, synchronized=a.ntp_synchronized),
        ),
        Check(
            "screen",
            scr.where(config.ui),
            lambda: scr.check_screen(
                config.ui,
                config_path=config.path,
                lane_status=lambda: a.unit_status(LANE_UNIT),
                problem=config.ui_problem,
            ),
            scr.HEALTH_TIMEOUT_S + SYSTEMCTL_SLACK_S,
        ),
        Check(
            "kiosk",
            KIOSK_UNIT,
            lambda: kiosk.check_kiosk(
                config.display.device, status=lambda: a.unit_status(KIOSK_UNIT)
            ),
            SYSTEMCTL_SLACK_S,
        ),
    ]
    return checks


def _input_check(name: str, config: Config, a: DeviceAccess) -> Callable[[], CheckResult]:
    from firmware_app.doctor import devices as dev

    def run() -> CheckResult:
        try:
            selectors = dev.hid_selectors(config.scanner, config.keypad)
        except ValueError as e:  # a key name evdev does not know, a bad match
            return CheckResult(name, False, str(e))
        grab = config.scanner.grab if name == "scanner" else config.keypad.grab
        return dev.check_input(
            name,
            selectors,
            grab=grab,
            lister=a.input_lister,
            source_factory=a.input_source,
            holders=a.users_of,
        )

    return run


def run_check(check: Check) -> CheckResult:
    """``check.run()`` on a thread of its own, waited for ``check.timeout_s``; a check
    that raises or overruns is a failed check, never a crashed doctor."""
    box: list[CheckResult] = []

    def work() -> None:
        try:
            box.append(check.run())
        except Exception as e:
            box.append(CheckResult(check.name, False, f"{check.target}: {type(e).__name__}: {e}"))

    thread = threading.Thread(target=work, name=f"doctor-{check.name}", daemon=True)
    thread.start()
    thread.join(check.timeout_s)
    if not box:
        # The thread is left behind (daemon): the doctor ends soon after anyway.
        return CheckResult(
            check.name, False, f"{check.target}: no answer within {check.timeout_s:g} s"
        )
    return box[0]


def run_checks(checks: Iterable[Check], out: TextIO) -> int:
    """Run ``checks`` in order, one line each on ``out`` as it finishes; the exit code:
    0 when none failed, 1 when any did."""
    failed = False
    for check in checks:
        result = run_check(check)
        print(result.line(), file=out, flush=True)
        failed = failed or result.failed
    return 1 if failed else 0


def run_doctor(
    config: Config, *, access: DeviceAccess | None = None, out: TextIO | None = None
) -> int:
    """``firmware-lane doctor``: every check, printed; returns the exit code."""
    return run_checks(doctor_checks(config, access), out or sys.stdout)


# --- test print ---------------------------------------------------------------------------------


def print_test_receipt(
    config: Config,
    *,
    transport_factory: Callable[[Any], Any] = _serial_transport,
    now: datetime | None = None,
) -> str:
    """``firmware-lane test-print``: the test receipt (``drivers.printer.test_receipt``)
    with this lane's printer settings, printed and cut. Returns what to tell the
    technician; raises ``DoctorError`` naming the port and the reason when it cannot."""
    from firmware_app.drivers.printer import PrinterFault, SerialPrinter, test_receipt

    printer_config = config.printer
    if not printer_config.enabled:
        raise DoctorError(f"{config.path}: printer.enabled is false: no printer to print on")
    problem = path_problem(printer_config.port, DEVICE_ADVICE)
    if problem:
        raise DoctorError(f"receipt printer {problem}")
    receipt = test_receipt(
        printer_config,
        lane=f"{config.store}-{config.lane}",
        now=now or lane_now(config)(),
    )
    try:
        with SerialPrinter(printer_config, transport_factory=transport_factory) as printer:
            status = printer.print_receipt(receipt)
    except PrinterFault as e:
        raise DoctorError(str(e).replace("\n", " ")) from e
    paper = f", paper {status.paper}" if status is not None else ""
    return f"test receipt printed on {printer_config.port}{paper}"
