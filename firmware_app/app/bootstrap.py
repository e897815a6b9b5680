"""The composition root: config -> adapters -> one lane loop.

``LaneApp`` wires the real drivers by default; hw_sim passes ``Hardware`` with
simulated key sources, a MockFactory pin factory and its own terminal and
display, and the very same drivers run on top of them. Nothing starts until
``start()``; nothing here runs on import.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import peewee

from firmware_app import __version__
from firmware_app.app.catalog_updates import CatalogUpdates
from firmware_app.app.clock import CLOCK_OK, ClockWatch, boottime, clock_state, ntp_synchronized
from firmware_app.app.displays import CustomerFeed, Display, Displays
from firmware_app.app.loop import Inbox, LaneLoop
from firmware_app.config import Config, os_error_text
from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.payment import PaymentTerminal, SimulatedTerminal
from firmware_app.drivers.ports import InputDevice
from firmware_app.drivers.text_display import TextDisplay, open_display
from firmware_app.errors import ConfigError, StoreError
from firmware_app.ids import uuid7
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.ports import Ports
from firmware_app.lane.rules import LaneSetup, ReceiptSetup
from firmware_app.lane.state import LaneState, Mode
from firmware_app.lane.view import ScreenSetup
from firmware_app.store import reports  # training mode, X and Z reports
from firmware_app.store.cashiers import Cashiers
from firmware_app.store.catalog import StoreCatalog
from firmware_app.store.db import open_catalog, open_database
from firmware_app.store.outbox import Outbox
from firmware_app.store.returns import SaleLookup  # returns
from firmware_app.store.sales import SalesStore
from firmware_app.store.sqlite_files import READ_ONLY, disk_full, on_read_only_fs
from firmware_app.sync.contract import LaneUplink, Topics
from firmware_app.sync.members import MemberAnswers
from firmware_app.ui.errors import UiError

if TYPE_CHECKING:
    from firmware_app.ui.server import ScreenServer

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 600.0
PRUNE_BATCH = 500


@dataclass
class Hardware:
    """What hw_sim (or a test) puts under the real drivers; None means the real thing."""

    scanner_source: Callable[[str], Any] | None = None
    keypad_source: Callable[[str], Any] | None = None
    pin_factory: Any = None
    terminal: PaymentTerminal | None = None
    display: Display | None = None
    clock: Callable[[], datetime] | None = None
    input_lister: Callable[[], Any] | None = None  # the kernel's input nodes, for discovery


def make_clock(config: Config) -> Callable[[], datetime]:
    """Aware local time: the configured zone, or the system's."""
    if config.timezone:
        zone = ZoneInfo(config.timezone)
        return lambda: datetime.now(zone)
    return lambda: datetime.now().astimezone()


def report_zone(config: Config) -> tzinfo:
    """The zone of the lane's business dates: the configured one, or the system's."""
    if config.timezone:
        return ZoneInfo(config.timezone)
    return datetime.now().astimezone().tzinfo or UTC


def screen_setup(config: Config) -> ScreenSetup:
    return ScreenSetup(
        language=config.ui.language,
        idle_text=config.ui.idle_text,
        done_s=config.ui.customer_done_s,
    )


def lane_setup(config: Config) -> LaneSetup:
    return LaneSetup(
        store=config.store,
        lane=config.lane,
        rules=config.rules,
        receipt=ReceiptSetup(
            header=config.receipt.header,
            footer=config.receipt.footer,
            language=config.receipt.language,
        ),
    )


class LaneApp:
    """Everything one lane runs, built from its config."""

    def __init__(self, config: Config, *, hardware: Hardware | None = None) -> None:
        hw = hardware or Hardware()
        self.config = config
        self.clock = hw.clock or make_clock(config)
        self.db = _opened(open_database, config.database)
        self.topics = Topics(config.mqtt.topic_root, config.store, config.lane)
        try:
            self.catalog_db = _opened(open_catalog, config.catalog_database)
        except BaseException:
            self.db.close()
            raise
        self.catalog = StoreCatalog(self.catalog_db)
        self.cashiers = Cashiers(self.db)
        self.outbox = Outbox(self.db)
        self.sales = SalesStore(self.db, messages=LaneUplink(self.topics))
        self.setup = lane_setup(config)
        self.inputs: list[InputDevice] = []
        self.drawer_fault = ""
        self._next_housekeeping = 0.0
        # The clock, as the retained status reports it (devices.clock): never on the
        # cashier's screen, where "unsynced" on a lane without NTP would never go away.
        self.clock_watch = ClockWatch()
        self.clock_word = CLOCK_OK
        self._ntp: bool | None = None
        self._next_ntp_check = 0.0
        self.closed = False
        try:
            self._build(hw)
        except BaseException:
            self.close()
            raise

    def _build(self, hw: Hardware) -> None:
        config = self.config
        ports = Ports(
            catalog=self.catalog,
            cashiers=self.cashiers,
            new_id=uuid7,
            reports=reports.StoreReports(self.db, report_zone(config)),  # X and Z reports
            # Returns: this lane's finished sales by receipt number.
            returns=SaleLookup(
                self.db,
                self.setup.lane,
                keep_days=config.keep_days,
                clock=self.clock,
            ),
        )
        display = hw.display or TextDisplay(
            _display_stream(config),
            setup=self.setup,
            language=config.display.language,
        )
        self.printer = self._printer()
        self.drawer = self._drawer(hw)
        self.scale = self._scale()
        # The inbox first: everything that posts events is built with it, so the
        # loop below is built whole, with its spooler and its uplink.
        self.inbox = Inbox()
        self.screen = self._screen()
        self.customer_display = self._customer_display()
        views: list[Display] = [display]
        if self.screen is not None:
            views.append(self.screen)
        if self.customer_display is not None:
            views.append(
                CustomerFeed(
                    self.customer_display,
                    setup=self.setup,
                    screen=screen_setup(config),
                    clock=self.clock,
                )
            )
        self.spooler = self._spooler()
        self.member_answers = MemberAnswers(self.inbox.post)  # members: the store's answers
        self.sync = self._sync()
        self.loop = LaneLoop(
            inbox=self.inbox,
            setup=self.setup,
            ports=ports,
            sales=self.sales,
            display=Displays(*views),
            printer=self.spooler,
            drawer=self.drawer,
            terminal=hw.terminal or SimulatedTerminal(decline=config.payment.decline),
            clock=self.clock,
            initial=self.restore(),
            scale=self.scale,
            uplink=self.sync,
        )
        if self.drawer_fault:
            self.inbox.post(DeviceState(Device.DRAWER, StateWord.MISSING, self.drawer_fault))
        self.inputs = self._inputs(hw)
        self.catalog_updates = CatalogUpdates(
            self.catalog,
            request_snapshot=self.sync.request_catalog,
            on_applied=lambda version: self.sync.status_changed(),
            clock=self.clock,
        )

    def restore(self) -> LaneState:
        """The state the lane was in when it stopped: who was signed on, the open sale."""
        cashier = self.sales.load_session()
        sale = self.sales.load_open_sale()
        state = LaneState(
            next_receipt_no=self.sales.next_receipt_no(),
            last_receipt=self.sales.print_queue.last_receipt(),
            # Training mode survives a restart, with its own receipt numbers.
            training=reports.load_training(self.sales.m),
            next_training_no=reports.next_training_no(self.sales.m),
        )
        parked, next_park_no = self.sales.load_parked()  # suspend and resume
        state = replace(state, parked=parked, next_park_no=next_park_no)
        if cashier is not None:
            state = replace(state, mode=Mode.READY, cashier=cashier)
        if sale is not None:
            lines = len(sale.live_lines)
            log.info("open sale %s restored with %d lines", sale.id, lines)
            state = replace(state, sale=sale, message=Message.of(Msg.SALE_RESTORED, lines=lines))
        return state

    def _printer(self):
        if not self.config.printer.enabled:
            return None
        from firmware_app.drivers.printer import SerialPrinter

        return SerialPrinter(self.config.printer)

    def _spooler(self):
        if self.printer is None:
            return None
        from firmware_app.app.spooler import ReceiptSpooler

        return ReceiptSpooler(
            self.printer,
            self.sales.print_queue,
            post=self.inbox.post,
            setup=self.setup,
            clock=self.clock,
            keep=timedelta(minutes=self.config.printer.pending_keep_min),
            status_check=self.config.printer.status_check,
        )

    def _screen(self) -> ScreenServer | None:
        ui = self.config.ui
        if not ui.enabled:
            return None
        from firmware_app.ui.server import ScreenServer

        return ScreenServer(
            host=ui.host,
            port=ui.port,
            token=ui.token,
            setup=self.setup,
            screen=screen_setup(self.config),
            clock=self.clock,
            post=self.inbox.post,
        )

    def _customer_display(self) -> Any:
        """The serial pole display facing the customer, or None (drivers/pole_display.py).
        A port that is no serial port at all: the lane sells without it, and says why."""
        if not self.config.customer_display.enabled:
            return None
        from firmware_app.drivers.pole_display import open_pole_display

        try:
            return open_pole_display(self.config.customer_display, self.inbox.post)
        except DeviceError as e:
            log.error("customer display unavailable: %s", e)
            self.inbox.post(DeviceState(Device.CUSTOMER_DISPLAY, StateWord.ERROR, str(e)))
            return None

    def _scale(self):
        if not self.config.scale.enabled:
            return None
        from firmware_app.drivers.scale import SerialScale

        return SerialScale(self.config.scale)

    def _drawer(self, hw: Hardware):
        if not self.config.drawer.enabled:
            return None
        from firmware_app.drivers.drawer import GpioDrawer

        try:
            return GpioDrawer(self.config.drawer, pin_factory=hw.pin_factory)
        except DeviceError as e:
            # The lane still sells (card, mobile; cash with a key to the drawer).
            log.error("drawer unavailable: %s", e)
            self.drawer_fault = str(e)
            return None

    def _inputs(self, hw: Hardware) -> list[InputDevice]:
        from firmware_app.drivers.discovery import InputDiscovery
        from firmware_app.drivers.keypad import Keypad
        from firmware_app.drivers.scanner import Scanner

        # One discovery for both, built before either starts: a scanner and a keypad
        # never read the same input device, and a keyboard that is neither is never taken.
        discovery = InputDiscovery(lister=hw.input_lister) if hw.input_lister else InputDiscovery()
        devices: list[InputDevice] = []
        scanner_kw = {"source_factory": hw.scanner_source} if hw.scanner_source else {}
        keypad_kw = {"source_factory": hw.keypad_source} if hw.keypad_source else {}
        devices.append(Scanner(self.config.scanner, discovery=discovery, **scanner_kw))
        devices.append(Keypad(self.config.keypad, discovery=discovery, **keypad_kw))
        if self.scale is not None:
            devices.append(self.scale)
        if self.drawer is not None:
            devices.append(self.drawer)
        return devices

    def _sync(self):
        from firmware_app.sync.service import SyncService

        return SyncService(
            self.config.mqtt,
            store_id=self.config.store,
            lane_id=self.config.lane,
            outbox=self.outbox,
            status=self.status,
            on_downlink=self.on_downlink,
            on_state=self.on_sync_state,
        )

    def status(self) -> dict[str, Any]:
        """What the retained ``status`` message reports (called from the sync thread)."""
        return {
            "version": __version__,
            "catalog_version": self.catalog.version(),
            "devices": {**self.loop.device_states(), "clock": self.clock_word},
        }

    def on_sync_state(self, name: Device, state: StateWord, detail: str) -> None:
        """The broker's or the outbox's state changed (called on the sync thread): the lane
        shows it like a device's, and the retained status carries it in ``devices``."""
        self.inbox.post(DeviceState(name, state, detail))

    def on_downlink(self, topic: str, payload: bytes) -> None:
        """Downlink messages other than acks (called on the sync thread)."""
        if topic in (self.topics.store_catalog, self.topics.lane_catalog):
            self.catalog_updates.submit(topic, payload)
        elif topic == self.topics.member:  # members: checked here, then to the inbox
            self.member_answers.handle(topic, payload)
        else:
            log.info("downlink on %s ignored", topic)

    # --- running -----------------------------------------------------------------------

    def start(self) -> None:
        self._start_screen()
        for device in self.inputs:
            device.start(self.inbox.post)
        if self.spooler is not None:
            self.spooler.start()
        self.catalog_updates.start()
        self.sync.start()

    def _start_screen(self) -> None:
        """Serve the screens; when they cannot start the lane still sells with the
        keypad, and says why in the log, the status and on the text display."""
        if self.config.ui_problem:
            log.error("%s; the lane sells with the keypad", self.config.ui_problem)
            self.inbox.post(DeviceState(Device.SCREEN, StateWord.ERROR, self.config.ui_problem))
            return
        if self.screen is None:
            return
        try:
            self.screen.start()
        except UiError as e:
            log.error("%s; the lane sells with the keypad", e)
            self.inbox.post(DeviceState(Device.SCREEN, StateWord.ERROR, str(e)))
            return
        self.inbox.post(DeviceState(Device.SCREEN, StateWord.OK))

    def run(self, stop: threading.Event, *, heartbeat: Callable[[], None] | None = None) -> None:
        """The lane loop on this thread, until ``stop``; ``heartbeat`` on every turn."""
        self.loop.run(stop, on_tick=self.housekeeping, heartbeat=heartbeat)

    def housekeeping(self) -> None:
        """Now and then, on the lane loop (the writer of sales): delete finished sales
        older than ``keep_days`` that the store server has, a batch at a time."""
        self._watch_clock()
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        cutoff = self.clock() - timedelta(days=self.config.keep_days)
        try:
            deleted = self.sales.prune(cutoff, batch=PRUNE_BATCH)
        except Exception:
            log.exception("housekeeping failed; trying again later")
            deleted = 0
        if deleted:
            log.info("deleted %d finished sales older than %d days", deleted, self.config.keep_days)
        # A full batch means more may be waiting: come back soon, else in ten minutes.
        self._next_housekeeping = now + (1.0 if deleted >= PRUNE_BATCH else HOUSEKEEPING_S)

    def _watch_clock(self) -> None:
        """A clock without NTP or one that jumped: warned in the log and in ``status``;
        sale times carry their UTC offset whatever happens."""
        mono = boottime()  # CLOCK_BOOTTIME: a suspend is not taken for a jump
        jump = self.clock_watch.observe(time.time(), mono)
        if jump is not None:
            log.warning("%s: sale times around %s may be off", jump, self.clock().isoformat())
        if mono >= self._next_ntp_check:
            self._ntp = ntp_synchronized()
            self._next_ntp_check = mono + 60.0
        word = clock_state(self._ntp, self.clock_watch, mono)
        if word != self.clock_word:
            if word == CLOCK_OK:
                log.info("clock: ok")
            else:
                log.warning("clock: %s", word)
            self.clock_word = word
            self.sync.status_changed()

    def close(self) -> None:
        """Stop everything; the open sale stays in the database. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for device in reversed(getattr(self, "inputs", [])):
            _quietly(device.close)
        if getattr(self, "screen", None) is not None:
            _quietly(self.screen.stop)
        if getattr(self, "customer_display", None) is not None:
            _quietly(self.customer_display.close)
        if getattr(self, "spooler", None) is not None:
            _quietly(self.spooler.close)
        if getattr(self, "printer", None) is not None:
            _quietly(self.printer.close)
        if getattr(self, "sync", None) is not None:
            _quietly(self.sync.close)
        if getattr(self, "catalog_updates", None) is not None:
            _quietly(self.catalog_updates.close)
        _quietly(self.db.close)
        _quietly(self.catalog_db.close)


def _quietly(close: Callable[[], object]) -> None:
    try:
        close()
    except Exception:
        log.exception("while closing")


def _display_stream(config: Config):
    device = config.display.device
    try:
        return open_display(device)
    except OSError as e:
        raise ConfigError(f"{config.path}: display.device: {device}: {os_error_text(e)}") from e


def _opened(open_db: Callable[[Path], peewee.SqliteDatabase], path: Path) -> peewee.SqliteDatabase:
    """``open_db(path)``, its failure as one ``StoreError`` naming the file: a database
    that is no database, a data directory that cannot be made, a full disk, a file
    system remounted read-only."""
    try:
        return open_db(path)
    except (OSError, sqlite3.Error, peewee.PeeweeException) as e:
        if on_read_only_fs(path):  # SQLite says only "unable to open database file"
            raise StoreError(f"{path}: cannot open: {READ_ONLY}") from e
        if disk_full(path):  # SQLite says only "disk I/O error": no room for the WAL index
            raise StoreError(
                f"{path}: cannot open: the disk is full (df -h {path.parent}): "
                "the lane starts once there is room"
            ) from e
        reason = os_error_text(e) if isinstance(e, OSError) else str(e)
        raise StoreError(f"{path}: cannot open: {reason}") from e


def run_daemon(config: Config) -> int:
    """``firmware-lane run``: until SIGTERM or SIGINT; the open sale is kept.

    Under systemd (``Type=notify``, see systemd/firmware-lane.service) it says READY=1
    once the database is open and the devices were tried, pings the watchdog from the
    lane loop, so a hung loop gets the lane restarted, and says STOPPING=1 on a signal.
    """
    from firmware_app.app.notify import Notifier
    from firmware_app.store.lock import LaneLock

    logging.getLogger().setLevel(config.log_level.upper())
    # Held for the daemon's life: a restore cannot swap lane.db under a selling lane,
    # and a second daemon on the same data_dir is refused with the holder's pid.
    try:
        lock = LaneLock.for_lane(config.data_dir, "the lane daemon").acquire()
    except OSError as e:  # the data directory could not be made
        raise StoreError(f"{config.data_dir}: {os_error_text(e)}") from e
    stop = threading.Event()
    notifier = Notifier.from_env()
    try:
        app = LaneApp(config)
    except BaseException:
        lock.release()
        raise

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        notifier.stopping(f"signal {signum}: shutting down")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        app.start()
        log.info("lane %s/%s running (version %s)", config.store, config.lane, __version__)
        notifier.ready(f"lane {config.store}/{config.lane} running (version {__version__})")
        app.run(stop, heartbeat=notifier.watchdog)
    finally:
        app.close()
        notifier.close()
        lock.release()
    return 0
