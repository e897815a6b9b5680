"""The lane's TOML config: loaded once, validated, turned into frozen dataclasses.

Every error names the file, the key and the reason, so a technician can fix the
file without reading code: ``lane.toml: scale.poll_ms: expected an integer from
50 to 5000, got 'fast'``. Unknown keys are errors too: a typo must not silently
fall back to a default. The commented example ``firmware_app/lane.example.toml``
documents every key.

``load`` checks every value ``run`` uses (a value it accepts never stops the
daemon); ``config_check.check_files`` then looks at the files and directories
the config names, as ``config check`` and ``run`` do before anything starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware_app.errors import ConfigError
from firmware_app.lane.labels import LabelFormat, LabelFormatError
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.restrictions import hours_of
from firmware_app.lane.rules import (
    CHECK_DIGITS,
    ApprovalRules,
    CashRounding,
    MemberRules,
    SaleRules,
)
from firmware_app.lane.state import Action

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MATCH_PATTERN = re.compile(r"^$|^name:.+$|^usb:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")
# A broker's host: a name, an IPv4 address or an IPv6 one (its brackets stripped, maybe
# with a zone: fe80::1%eth0).
# A host name's label (RFC 1123; an underscore, which some site DNS use, is let through).
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
# Amounts in minor units stay below 10**12 (ten billion yuan): exact in SQLite and JSON.
MAX_AMOUNT_DIGITS = 12

# A plain USB numeric keypad plus a few letter keys and F1–F9 (spec/lane-input.md).
DEFAULT_KEYMAP: Mapping[str, str] = {
    **{f"KEY_KP{d}": str(d) for d in range(10)},
    **{f"KEY_{d}": str(d) for d in range(10)},
    "KEY_KPDOT": "DOT",
    "KEY_DOT": "DOT",
    "KEY_KPENTER": "ENTER",
    "KEY_ENTER": "ENTER",
    "KEY_BACKSPACE": "CLEAR",
    "KEY_ESC": "CLEAR",
    "KEY_KPASTERISK": "QTY",
    "KEY_KPSLASH": "PLU",
    "KEY_KPMINUS": "VOID",
    "KEY_KPPLUS": "SUBTOTAL",
    "KEY_NUMLOCK": "CASH",
    "KEY_TAB": "00",
    "KEY_S": "SIGNON",
    "KEY_O": "SIGNOFF",
    "KEY_Q": "QTY",
    "KEY_P": "PLU",
    "KEY_V": "VOID",
    "KEY_X": "CANCEL",
    "KEY_T": "SUBTOTAL",
    "KEY_C": "CASH",
    "KEY_D": "CARD",
    "KEY_M": "MOBILE",
    "KEY_B": "MEMBER",
    "KEY_N": "NOSALE",
    "KEY_R": "RETURN",
    "KEY_E": "REPRINT",
    "KEY_U": "SUSPEND",
    "KEY_Y": "RESUME",
    "KEY_Z": "ZERO",
    "KEY_A": "TARE",
    # The full checkout's keys, on the function keys (a POS keyboard's programmable keys
    # send them too); the same keys hw_sim's keypad presses.
    "KEY_F1": "PAIDIN",
    "KEY_F2": "PAIDOUT",
    "KEY_F3": "XREPORT",
    "KEY_F4": "ZREPORT",
    "KEY_F5": "TRAINING",
    "KEY_F6": "PRICE",
    "KEY_F7": "DISC",
    "KEY_F8": "YES",
    "KEY_F9": "NO",
}

KEY_NAMES = frozenset(
    [str(d) for d in range(10)]
    + ["00", "DOT", "CLEAR", "ENTER", "SIGNON", "SIGNOFF", "QTY", "PLU", "VOID", "CANCEL"]
    + ["SUBTOTAL", "CASH", "CARD", "MOBILE", "MEMBER", "NOSALE", "ZERO", "TARE"]
    + ["RETURN", "REPRINT", "SUSPEND", "RESUME", "PRICE", "DISC", "PAIDIN", "PAIDOUT"]
    + ["XREPORT", "ZREPORT", "TRAINING", "YES", "NO"]
)

DEFAULT_LABELS = (
    "20IIIIIPPPPPC",  # price label: 5-digit PLU, price in minor units
    "21IIIIIWWWWWC",  # weight label: 5-digit PLU, weight in grams
)


@dataclass(frozen=True)
class ScannerConfig:
    """USB HID barcode scanner (keyboard wedge)."""

    path: str = "/dev/lane-scanner"
    layout: str = "us"
    timeout_ms: int = 80  # a gap longer than this between keys drops a partial code
    max_length: int = 128  # longer scans are dropped as garbage
    grab: bool = True
    gs_substitute: str = ""  # character some scanners send in place of GS (FNC1)
    match: str = ""  # instead of path: "name:Honeywell*" or "usb:0c2e:0b61" (vendor:product)


@dataclass(frozen=True)
class KeypadConfig:
    """USB POS keypad; ``keymap`` maps evdev key names to lane key names."""

    path: str = "/dev/lane-keypad"
    grab: bool = True
    match: str = ""  # instead of path: "name:…*" or "usb:VVVV:PPPP"
    keymap: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYMAP))


@dataclass(frozen=True)
class ScaleConfig:
    """Serial weighing scale."""

    enabled: bool = True
    port: str = "/dev/lane-scale"
    protocol: str = "8217"
    baudrate: int = 9600
    bytesize: int = 7
    parity: str = "E"
    stopbits: int = 1
    poll_ms: int = 200  # how often the lane asks for a weight
    timeout_ms: int = 500  # no complete answer within this: the scale is silent
    stable_readings: int = 1  # equal no-motion answers in a row before a weight is stable
    min_weight_g: int = 0  # no sale below this (legal for trade: e.g. 20 e = 40 g for e = 2 g)


@dataclass(frozen=True)
class PrinterConfig:
    """Serial ESC/POS receipt printer."""

    enabled: bool = True
    port: str = "/dev/lane-printer"
    baudrate: int = 19200
    flow_control: str = "none"  # none | rtscts | xonxoff
    paper_mm: int = 80  # 58 (32 columns) or 80 (48 columns)
    columns: int = 48
    chinese_mode: bool = True  # FS & before GB18030 text (Chinese-market printers)
    encoding: str = "gb18030"
    status_check: bool = (
        True  # DLE EOT before and after each receipt (off for printers that misbehave)
    )
    logo: str = ""  # PNG printed as a raster image above the header; empty: none
    receipt_code: str = "qr"  # qr | barcode | none: the receipt number as a code
    pending_keep_min: int = 30  # a receipt that could not print waits this long for the printer


@dataclass(frozen=True)
class DrawerConfig:
    """Cash drawer on GPIO (BCM numbers). See docs/wiring.md."""

    enabled: bool = True
    kick_pin: int = 17  # header pin 11, drives the MOSFET gate
    switch_pin: int = 27  # header pin 13, open switch to ground, pull-up on
    pulse_ms: int = 100  # kick pulse; hard limit 500 ms to protect the coil
    kick_active_high: bool = True
    open_when_switch: str = "open"  # switch contact when the drawer is open: open | closed
    confirm_ms: int = 1000  # the switch must show open this soon after a kick, else retry once
    open_alert_s: int = 60  # open longer than this: alert on screen and an audit event
    block_sale_while_open: bool = False  # no new sale starts while the drawer is open


@dataclass(frozen=True)
class MqttConfig:
    """Broker connection. ``password`` is a secret and is never logged."""

    url: str = "mqtt://localhost:1883"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    topic_root: str = "pos"
    keepalive_s: int = 30
    ack_timeout_s: float = 30.0  # unacknowledged messages are sent again after this
    max_inflight: int = 100
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    acked_retention_h: float = 24.0  # acknowledged outbox rows are deleted after this
    backlog_warning_min: float = 60.0  # oldest unacknowledged message older: warn

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


@dataclass(frozen=True)
class PaymentConfig:
    """Payment terminal. ``simulated`` approves everything unless ``decline``."""

    terminal: str = "simulated"
    decline: bool = False
    timeout_s: int = 120  # no answer from the terminal this long: the charge counts as not paid


@dataclass(frozen=True)
class DisplayConfig:
    """Where cashier messages go: a text device (``/dev/tty1``) or ``-`` for stdout."""

    device: str = "-"
    language: str = "zh"


@dataclass(frozen=True)
class UiConfig:
    """The cashier's screen and the customer page, served by the daemon (docs/screen.md).

    ``listen`` is ``host:port`` (``[::1]:8080`` for IPv6); any address but loopback
    needs ``token``. ``language`` is the screens' (``zh`` | ``en``); ``idle_text`` the
    customer page's lines between sales; ``customer_done_s`` how long the customer
    sees what was paid and the change."""

    enabled: bool = True
    listen: str = "127.0.0.1:8080"
    token: str = ""
    language: str = "zh"
    idle_text: tuple[str, ...] = ("欢迎光临 WELCOME",)
    customer_done_s: int = 20

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


@dataclass(frozen=True)
class CustomerDisplayConfig:
    """A serial pole display facing the customer (drivers/pole_display.py):
    ``cd5220`` or ``escpos`` (2×20 VFD command sets) or ``led8`` (8-digit LED)."""

    enabled: bool = False
    port: str = "/dev/lane-pole"
    protocol: str = "cd5220"  # cd5220 | escpos | led8
    baudrate: int = 9600
    columns: int = 20


@dataclass(frozen=True)
class ReceiptConfig:
    header: tuple[str, ...] = ("超市 SUPERMARKET",)
    footer: tuple[str, ...] = ("谢谢惠顾 THANK YOU",)
    language: str = "zh-en"  # zh | en | zh-en


@dataclass(frozen=True)
class BackupConfig:
    """Online backups of the databases to a second medium (see store/backup.py)."""

    dir: str = ""  # e.g. "/mnt/lane-backup" (a USB stick); empty: backups are off
    generations: int = 14  # backups kept; older ones of this lane are deleted
    interval_min: int = 60  # how often the timer runs `firmware-lane backup` (documentation)
    require_mount: bool = True  # refuse a dir on the lane's own filesystem (same SD card)


@dataclass(frozen=True)
class Config:
    path: str
    store: str
    lane: str
    data_dir: str
    log_level: str
    timezone: str
    keep_days: int
    rules: SaleRules
    scanner: ScannerConfig
    keypad: KeypadConfig
    scale: ScaleConfig
    printer: PrinterConfig
    drawer: DrawerConfig
    mqtt: MqttConfig
    payment: PaymentConfig
    display: DisplayConfig
    receipt: ReceiptConfig
    backup: BackupConfig = field(default_factory=BackupConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    customer_display: CustomerDisplayConfig = field(default_factory=CustomerDisplayConfig)
    # Why [ui] could not be used (file, key, reason), or "": the lane then runs without
    # the screen, selling with the keypad, and says so (config check, log, status).
    ui_problem: str = ""

    @property
    def database(self) -> Path:
        """Sales, journal, outbox, cashiers."""
        return Path(self.data_dir) / "lane.db"

    @property
    def catalog_database(self) -> Path:
        """The catalog, in a file of its own (see store.db)."""
        return Path(self.data_dir) / "catalog.db"


class _Table:
    """One TOML table being read: typed getters that name the key in every error."""

    def __init__(self, source: str, name: str, data: Any) -> None:
        self.source = source
        self.name = name
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: {name}: expected a table, got {data!r}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, key: str, reason: str) -> ConfigError:
        where = f"{self.name}.{key}" if self.name else key
        return ConfigError(f"{self.source}: {where}: {reason}")

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def table(self, key: str) -> _Table:
        self.used.add(key)
        name = f"{self.name}.{key}" if self.name else key
        return _Table(self.source, name, self.data.get(key))

    def text(self, key: str, default: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self._get(key, default)
        if key not in self.data and pattern is not None and not pattern.fullmatch(value):
            raise self.fail(key, "required")
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {value!r}")
        # fullmatch: "$" alone would let a trailing newline through ("S001\n").
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(key, f"{value!r} does not match {pattern.pattern}")
        return value

    def path(
        self, key: str, default: str, *, required: bool = False, absolute: bool = False
    ) -> str:
        """A file or device path: no NUL (the system refuses it), and when ``required``
        not empty, when ``absolute`` starting with ``/``."""
        value = self.text(key, default)
        if "\x00" in value:
            raise self.fail(key, f"{value!r} holds a NUL character")
        if required and not value:
            raise self.fail(key, "required (empty)")
        if absolute and not os.path.isabs(value):
            raise self.fail(key, f"expected an absolute path (/…), got {value!r}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"expected an integer from {lo} to {hi}, got {value!r}")
        return value

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self.fail(key, f"expected a number from {lo} to {hi}, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._get(key, default)
        if value not in choices:
            raise self.fail(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        return tuple(value)

    def money(self, key: str, default: str, minor_digits: int) -> int:
        """A currency amount written as a decimal string (``"5000.00"``), in minor units."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(key, f'expected an amount like "100.00", got {value!r}')
        try:
            return minor_units(str(value), minor_digits)
        except ValueError as e:
            raise self.fail(key, str(e)) from e

    def check_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key (check the spelling)")


def os_error_text(error: OSError) -> str:
    """The reason an ``OSError`` gives, in words and without the file name the caller
    puts before it: ``no such file or directory``."""
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def minor_units(text: str, minor_digits: int) -> int:
    """``"5000.00"`` as 500000 (for 2 minor digits): exact, from 0 to below
    10**MAX_AMOUNT_DIGITS minor units; ``ValueError`` with the reason otherwise.

    Worked out on the decimal's digits and exponent, never in a decimal context, whose
    precision would round ``"1.0000…01"`` and whose exponent limit overflows on
    ``"1e999999999"``.
    """
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or (amount.is_signed() and amount != 0):
        raise ValueError(f'expected an amount like "100.00", got {text!r}')
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant:
        return 0
    exponent += len(digits) - len(significant)  # the trailing zeros went into it
    if exponent + minor_digits < 0:
        raise ValueError(f"{text!r} has more than {minor_digits} decimals")
    if len(significant) + exponent + minor_digits > MAX_AMOUNT_DIGITS:
        raise ValueError(
            f"{text!r} is too large (at most {MAX_AMOUNT_DIGITS} digits in minor units)"
        )
    return int(significant) * 10 ** (exponent + minor_digits)


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; raises ``ConfigError`` naming file, key and reason."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror or e}") from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from e
    # The parser's limits raise outside TOMLDecodeError: arrays or inline tables nested
    # past Python's recursion limit, an integer of more than 4300 digits.
    except RecursionError as e:
        raise ConfigError(f"{source}: not valid TOML: nested too deeply") from e
    except ValueError as e:
        raise ConfigError(f"{source}: not valid TOML: {str(e).split(';')[0]}") from e
    config = parse(data, source=source)
    if _mode(path) & stat.S_IWOTH:
        raise ConfigError(
            f"{source}: writable by everyone: anyone on the lane could change it; "
            f"run: chmod o-w {source}"
        )
    if config.mqtt.password and _mode(path) & stat.S_IROTH:
        raise ConfigError(
            f"{source}: mqtt.password: the file holds a secret but is readable by everyone; "
            f"run: chmod o-r {source}"
        )
    key = config.mqtt.key_file
    if key and _mode(key) & stat.S_IROTH:
        raise ConfigError(
            f"{source}: mqtt.key_file: {key} is readable by everyone; run: chmod o-r {key}"
        )
    return config


def _mode(path: str | os.PathLike[str]) -> int:
    """The file's permission bits; 0 when it cannot be looked at (``check_files`` says why)."""
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def parse(data: Mapping[str, Any], *, source: str = "config") -> Config:
    """Validate an already-decoded TOML document."""
    root = _Table(source, "", dict(data))
    lane_t = root.table("lane")
    store = lane_t.text("store", "", ID_PATTERN)
    lane = lane_t.text("lane", "", ID_PATTERN)
    data_dir = lane_t.path("data_dir", "/var/lib/firmware-lane", absolute=True)
    log_level = lane_t.choice("log_level", "info", ("debug", "info", "warning", "error"))
    timezone = _timezone(lane_t)
    keep_days = lane_t.integer("keep_days", 90, 1, 3650)
    lane_t.check_unknown()

    scale = _scale(root.table("scale"))
    drawer = _drawer(root.table("drawer"))
    payment = _payment(root.table("payment"))
    rules = replace(
        _sale_rules(root.table("sale"), root.table("labels")),
        min_weight_g=scale.min_weight_g,
        drawer_alert_s=drawer.open_alert_s,
        block_sale_while_open=drawer.block_sale_while_open,
        payment_timeout_s=payment.timeout_s,
    )
    rules = replace(rules, approvals=_approvals(root.table("approvals"), rules.member_prefix))
    rules = replace(rules, department_hours=_department_hours(root.table("restrictions")))
    rules = replace(rules, members=_members(root.table("members"), rules.minor_digits))
    ui, ui_problem = _ui_or_problem(root.table("ui"))
    config = Config(
        path=source,
        store=store,
        lane=lane,
        data_dir=data_dir,
        log_level=log_level,
        timezone=timezone,
        keep_days=keep_days,
        rules=rules,
        scanner=_scanner(root.table("scanner")),
        keypad=_keypad(root.table("keypad")),
        scale=scale,
        printer=_printer(root.table("printer")),
        drawer=drawer,
        mqtt=_mqtt(root.table("mqtt")),
        payment=payment,
        display=_display(root.table("display")),
        receipt=_receipt(root.table("receipt")),
        backup=_backup(root.table("backup")),
        ui=ui,
        ui_problem=ui_problem,
        customer_display=_customer_display(root.table("customer_display")),
    )
    root.check_unknown()
    return config


def _timezone(t: _Table) -> str:
    name = t.text("timezone", "")
    if not name:
        return name  # the system's zone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise t.fail(
            "timezone",
            f"unknown time zone {name!r} (a name `timedatectl list-timezones` shows, "
            'e.g. "Asia/Shanghai")',
        ) from e
    return name


def _sale_rules(t: _Table, labels_t: _Table) -> SaleRules:
    currency = t.text("currency", "CNY", re.compile(r"^[A-Z]{3}$"))
    minor_digits = t.integer("minor_digits", 2, 0, 4)
    step = t.money("cash_rounding", "0", minor_digits)
    mode = t.choice("cash_rounding_mode", "half-up", ("half-up", "down"))
    rules = SaleRules(
        currency=currency,
        minor_digits=minor_digits,
        cash_rounding=CashRounding(step=step, mode=mode),
        max_cash_tender=t.money("max_cash_tender", "5000.00", minor_digits),
        max_quantity=t.integer("max_quantity", 999, 1, 100000),
        max_scan_length=t.integer("max_scan_length", 128, 8, 4096),
        scale_stale_ms=t.integer("scale_stale_ms", 2000, 100, 60000),
        member_prefix=t.text("member_prefix", "M"),
        label_formats=_labels(labels_t),
        max_suspended=t.integer("max_suspended", 10, 1, 99),  # suspend and resume
        return_limit=t.money("return_limit", "200.00", minor_digits),  # returns
    )
    # Training mode, cash movements, reports: the reasons offered after PAIDIN / PAIDOUT.
    rules = replace(
        rules,
        paid_in_reasons=_reasons(t, "paid_in_reasons", rules.paid_in_reasons),
        paid_out_reasons=_reasons(t, "paid_out_reasons", rules.paid_out_reasons),
    )
    # Restrictions: the age an item marked only age_restricted asks for.
    rules = replace(rules, default_min_age=t.integer("default_min_age", 18, 1, 150))
    rules = _price_and_discounts(t, rules)  # price override and discounts
    t.check_unknown()
    return rules


# --- restrictions ----------------------------------------------------------------------


def _department_hours(t: _Table) -> tuple[tuple[str, time, time], ...]:
    """``[restrictions]``: ``alcohol = ["08:00", "22:00"]``, a department's sale hours
    (local time, start inclusive, end exclusive; an end before the start: over midnight)."""
    rules = []
    for department in sorted(t.data):
        try:
            start, end = hours_of(t._get(department, None))
        except ValueError as e:
            raise t.fail(department, str(e)) from e
        rules.append((department, start, end))
    return tuple(rules)


def _price_and_discounts(t: _Table, rules: SaleRules) -> SaleRules:
    """PRICE's reasons and highest price; DISC's limits in percent, a cashier's at most
    a supervisor's."""
    cashier_max = t.integer("cashier_discount_max", rules.cashier_discount_max, 0, 99)
    supervisor_max = t.integer("supervisor_discount_max", rules.supervisor_discount_max, 1, 99)
    if cashier_max > supervisor_max:
        raise t.fail(
            "cashier_discount_max",
            f"{cashier_max} is above supervisor_discount_max {supervisor_max}",
        )
    max_price = t.money("max_override_price", "9999", rules.minor_digits)
    if max_price <= 0:
        raise t.fail("max_override_price", "expected an amount above zero")
    return replace(
        rules,
        price_reasons=_reasons(t, "price_reasons", rules.price_reasons),
        max_override_price=max_price,
        cashier_discount_max=cashier_max,
        supervisor_discount_max=supervisor_max,
    )


# --- roles and approvals ---------------------------------------------------------------

BADGE_PREFIX = re.compile(r"^[A-Za-z]{0,8}$")


def _approvals(t: _Table, member_prefix: str) -> ApprovalRules:
    """``[approvals]``: the actions a cashier does without a supervisor, those where a
    signed-on supervisor needs a second one, the badge prefix, and the PIN lockout. Its
    bounds keep guessing a 4-digit PIN at the keypad above three days."""
    rules = ApprovalRules(
        without_supervisor=_actions(t, "without_supervisor"),
        second_supervisor=_actions(t, "second_supervisor"),
        badge_prefix=t.text("badge_prefix", "", BADGE_PREFIX),
        pin_tries=t.integer("pin_tries", 5, 3, 10),
        lockout_min=t.integer("lockout_min", 15, 5, 1440),
    )
    prefix = rules.badge_prefix
    if (
        prefix
        and member_prefix
        and (prefix.startswith(member_prefix) or member_prefix.startswith(prefix))
    ):
        raise t.fail("badge_prefix", f"{prefix!r} overlaps sale.member_prefix {member_prefix!r}")
    t.check_unknown()
    return rules


def _actions(t: _Table, key: str) -> frozenset[Action]:
    known = {action.value: action for action in Action}
    names = t.strings(key, ())
    for name in names:
        if name not in known:
            raise t.fail(key, f"unknown action {name!r} (one of {', '.join(sorted(known))})")
    return frozenset(known[name] for name in names)


# Members and points.
MAX_MEMBER_DIGITS = 20


def _members(t: _Table, minor_digits: int) -> MemberRules:
    """[members]: which numbers are well formed, how long the store server may take to
    answer (seconds), and the points rule when the catalog has none (``points_per``: an
    amount, "0" = none; ``points``: what each full ``points_per`` earns)."""
    lengths = t._get("lengths", [])
    if (
        not isinstance(lengths, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in lengths)
        or not all(1 <= n <= MAX_MEMBER_DIGITS for n in lengths)
    ):
        raise t.fail("lengths", f"expected a list of digit counts from 1 to 20, got {lengths!r}")
    check = t.choice("check_digit", "none", CHECK_DIGITS)
    if check != "none" and 1 in lengths:
        raise t.fail("lengths", "a number with a check digit has at least 2 digits")
    timeout_s = t.number("answer_timeout", 1.0, 0.1, 10.0)
    per = t.money("points_per", "0", minor_digits)
    points = t.integer("points", 1, 1, 1000)
    t.check_unknown()
    return MemberRules(
        lengths=tuple(sorted(set(lengths))),
        check_digit=check,
        answer_timeout_ms=round(timeout_s * 1000),
        loyalty=Loyalty(per=per, points=points) if per > 0 else None,
    )


def _reasons(t: _Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list of 1 to 9 short reasons (one key each on the keypad), none empty."""
    reasons = t.strings(key, default)
    if not 1 <= len(reasons) <= 9:
        raise t.fail(key, f"expected 1 to 9 reasons, got {len(reasons)}")
    for i, reason in enumerate(reasons):
        if not reason.strip() or len(reason) > 40:
            raise t.fail(f"{key}[{i}]", f"expected a reason of 1 to 40 characters, got {reason!r}")
    return reasons


def _labels(t: _Table) -> tuple[LabelFormat, ...]:
    patterns = t.strings("formats", DEFAULT_LABELS)
    t.check_unknown()
    formats = []
    for i, pattern in enumerate(patterns):
        try:
            formats.append(LabelFormat.parse(pattern))
        except LabelFormatError as e:
            raise t.fail(f"formats[{i}]", str(e)) from e
    return tuple(formats)


def _scanner(t: _Table) -> ScannerConfig:
    d = ScannerConfig()
    match = t.text("match", d.match, MATCH_PATTERN)
    c = ScannerConfig(
        path=t.path("path", d.path, required=not match),
        layout=t.choice("layout", d.layout, ("us", "de", "fr")),
        timeout_ms=t.integer("timeout_ms", d.timeout_ms, 10, 2000),
        max_length=t.integer("max_length", d.max_length, 8, 4096),
        grab=t.flag("grab", d.grab),
        gs_substitute=t.text("gs_substitute", d.gs_substitute, re.compile(r".?", re.DOTALL)),
        match=match,
    )
    t.check_unknown()
    return c


def _keypad(t: _Table) -> KeypadConfig:
    from evdev import ecodes  # the kernel's key names, as the keypad driver reads them

    d = KeypadConfig()
    match = t.text("match", d.match, MATCH_PATTERN)
    path = t.path("path", d.path, required=not match)
    grab = t.flag("grab", d.grab)
    keymap = dict(DEFAULT_KEYMAP)
    map_t = t.table("map")
    for evdev_name, lane_key in map_t.data.items():
        map_t.used.add(evdev_name)
        if not re.fullmatch(r"(KEY|BTN)_[A-Z0-9_]+", evdev_name):
            raise map_t.fail(evdev_name, "expected an evdev key name like KEY_KP7")
        if evdev_name not in ecodes.ecodes:
            raise map_t.fail(
                evdev_name, "no such evdev key (names as `evtest` shows them, e.g. KEY_F1)"
            )
        if not isinstance(lane_key, str):
            raise map_t.fail(evdev_name, f'expected a lane key name like "PLU", got {lane_key!r}')
        if lane_key == "":
            keymap.pop(evdev_name, None)  # "" removes a default mapping
            continue
        if lane_key not in KEY_NAMES:
            raise map_t.fail(evdev_name, f"{lane_key!r} is not a lane key name")
        keymap[evdev_name] = lane_key
    t.check_unknown()
    return KeypadConfig(path=path, grab=grab, match=match, keymap=keymap)


def _scale(t: _Table) -> ScaleConfig:
    d = ScaleConfig()
    enabled = t.flag("enabled", d.enabled)
    c = ScaleConfig(
        enabled=enabled,
        port=t.path("port", d.port, required=enabled),
        protocol=t.choice("protocol", d.protocol, ("8217", "scp01")),
        baudrate=t.integer("baudrate", d.baudrate, 1200, 115200),
        bytesize=t.integer("bytesize", d.bytesize, 7, 8),
        parity=t.choice("parity", d.parity, ("N", "E", "O")),
        stopbits=t.integer("stopbits", d.stopbits, 1, 2),
        poll_ms=t.integer("poll_ms", d.poll_ms, 50, 5000),
        timeout_ms=t.integer("timeout_ms", d.timeout_ms, 50, 5000),
        stable_readings=t.integer("stable_readings", d.stable_readings, 1, 10),
        min_weight_g=t.integer("min_weight_g", d.min_weight_g, 0, 10000),
    )
    t.check_unknown()
    return c


def _printer(t: _Table) -> PrinterConfig:
    d = PrinterConfig()
    paper_mm = t.integer("paper_mm", d.paper_mm, 58, 80)
    if paper_mm not in (58, 80):
        raise t.fail("paper_mm", f"expected 58 or 80, got {paper_mm}")
    enabled = t.flag("enabled", d.enabled)
    c = PrinterConfig(
        enabled=enabled,
        port=t.path("port", d.port, required=enabled),
        baudrate=t.integer("baudrate", d.baudrate, 1200, 921600),
        flow_control=t.choice("flow_control", d.flow_control, ("none", "rtscts", "xonxoff")),
        paper_mm=paper_mm,
        columns=t.integer("columns", 32 if paper_mm == 58 else 48, 24, 64),
        chinese_mode=t.flag("chinese_mode", d.chinese_mode),
        encoding=t.choice("encoding", d.encoding, ("gb18030", "cp437", "utf-8")),
        status_check=t.flag("status_check", d.status_check),
        logo=t.path("logo", d.logo),
        receipt_code=t.choice("receipt_code", d.receipt_code, ("qr", "barcode", "none")),
        pending_keep_min=t.integer("pending_keep_min", d.pending_keep_min, 1, 7 * 24 * 60),
    )
    t.check_unknown()
    return c


def _drawer(t: _Table) -> DrawerConfig:
    d = DrawerConfig()
    c = DrawerConfig(
        enabled=t.flag("enabled", d.enabled),
        kick_pin=t.integer("kick_pin", d.kick_pin, 0, 27),
        switch_pin=t.integer("switch_pin", d.switch_pin, 0, 27),
        pulse_ms=t.integer("pulse_ms", d.pulse_ms, 20, 500),
        kick_active_high=t.flag("kick_active_high", d.kick_active_high),
        open_when_switch=t.choice("open_when_switch", d.open_when_switch, ("open", "closed")),
        confirm_ms=t.integer("confirm_ms", d.confirm_ms, 100, 10000),
        open_alert_s=t.integer("open_alert_s", d.open_alert_s, 5, 3600),
        block_sale_while_open=t.flag("block_sale_while_open", d.block_sale_while_open),
    )
    if c.enabled and c.kick_pin == c.switch_pin:
        raise t.fail("switch_pin", f"must differ from kick_pin ({c.kick_pin})")
    t.check_unknown()
    return c


def _host_fault(host: str) -> str:
    """Why ``host`` can be no broker's name or address ("" when it can): an IP address
    (IPv6 with a zone too), or a name of dot-separated labels of letters, digits,
    hyphens and underscores, each 1 to 63 long and neither starting nor ending with a
    hyphen, 253 at most in all (a trailing dot allowed), the last not all digits."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return ""
    name = host.removesuffix(".")
    if len(name) > 253:
        return "longer than 253 characters"
    for label in name.split("."):
        if not label:
            return "an empty label"
        if not HOST_LABEL.fullmatch(label):
            return f"bad label {label[:63]!r}"
    if name.rsplit(".", 1)[-1].isdigit():  # a name never ends in digits: an address, mistyped
        return "not an IP address"
    return ""


def _broker_url(t: _Table, url: str) -> str:
    """``mqtt://HOST[:PORT]`` or ``mqtts://…``, nothing more: the login has keys of its
    own (a password in the URL would be logged), and paho takes no path."""
    expected = "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    if "@" in url:
        raise t.fail("url", "put the login in mqtt.username and mqtt.password, not in the url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as e:  # "Invalid IPv6 URL": an unclosed bracket
        raise t.fail("url", f"{expected}, got {url!r} ({e})") from e
    if parts.scheme not in ("mqtt", "mqtts") or not host:
        raise t.fail("url", f"{expected}, got {url!r}")
    why = _host_fault(host)
    if why:
        raise t.fail("url", f"{host!r} is no host name or address ({why})")
    try:
        port = parts.port
    except ValueError as e:
        raise t.fail("url", f"bad port in {url!r}: expected 1 to 65535") from e
    if port == 0:
        raise t.fail("url", f"bad port in {url!r}: expected 1 to 65535")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise t.fail("url", f"{expected}, got {url!r} (no path or query)")
    return url


def _mqtt(t: _Table) -> MqttConfig:
    d = MqttConfig()
    url = _broker_url(t, t.text("url", d.url))
    c = MqttConfig(
        url=url,
        username=t.text("username", d.username),
        password=t.text("password", d.password),
        ca_file=t.path("ca_file", d.ca_file),
        cert_file=t.path("cert_file", d.cert_file),
        key_file=t.path("key_file", d.key_file),
        topic_root=t.text("topic_root", d.topic_root, re.compile(r"^[A-Za-z0-9_/-]{1,64}$")),
        keepalive_s=t.integer("keepalive_s", d.keepalive_s, 5, 3600),
        ack_timeout_s=t.number("ack_timeout_s", d.ack_timeout_s, 0.1, 86400),
        max_inflight=t.integer("max_inflight", d.max_inflight, 1, 65535),
        reconnect_min_s=t.number("reconnect_min_s", d.reconnect_min_s, 0.05, 3600),
        reconnect_max_s=t.number("reconnect_max_s", d.reconnect_max_s, 0.05, 3600),
        acked_retention_h=t.number("acked_retention_h", d.acked_retention_h, 0, 24 * 365),
        backlog_warning_min=t.number("backlog_warning_min", d.backlog_warning_min, 1, 60 * 24 * 30),
    )
    if c.password and not c.username:
        raise t.fail("password", "a password needs a username")
    if c.cert_file and not c.tls:
        raise t.fail("cert_file", "a client certificate needs an mqtts:// url")
    for key in ("ca_file", "key_file"):
        if getattr(c, key) and not c.tls:
            raise t.fail(key, "needs an mqtts:// url (TLS files are unused without TLS)")
    if c.key_file and not c.cert_file:
        raise t.fail("key_file", "needs mqtt.cert_file (the client certificate it belongs to)")
    if c.reconnect_max_s < c.reconnect_min_s:
        raise t.fail(
            "reconnect_max_s", f"must not be below reconnect_min_s ({c.reconnect_min_s:g})"
        )
    t.check_unknown()
    return c


def _payment(t: _Table) -> PaymentConfig:
    d = PaymentConfig()
    c = PaymentConfig(
        terminal=t.choice("terminal", d.terminal, ("simulated",)),
        decline=t.flag("decline", d.decline),
        timeout_s=t.integer("timeout_s", d.timeout_s, 10, 3600),
    )
    t.check_unknown()
    return c


def _display(t: _Table) -> DisplayConfig:
    d = DisplayConfig()
    device = t.path("device", d.device, required=True)
    if device != "-" and not os.path.isabs(device):
        raise t.fail("device", f'expected "-" (stdout) or an absolute path, got {device!r}')
    c = DisplayConfig(
        device=device,
        language=t.choice("language", d.language, ("zh", "en")),
    )
    t.check_unknown()
    return c


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` -> ``("127.0.0.1", 8080)``; ``"[::1]:8080"`` -> ``("::1", 8080)``.
    Raises ``ValueError`` with the reason."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f'expected "host:port" (e.g. "127.0.0.1:8080"), got {listen!r}')
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)") from None
    # isascii: str.isdigit() also takes "１２" (read as 12) and "²" (which int() refuses).
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} is not a number from 1 to 65535")
    return host, int(port)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def _ui_or_problem(t: _Table) -> tuple[UiConfig, str]:
    """A bad [ui] never stops the lane: it runs without the screen (and says why)."""
    try:
        return _ui(t), ""
    except ConfigError as e:
        return UiConfig(enabled=False), str(e)


def _ui(t: _Table) -> UiConfig:
    d = UiConfig()
    listen = t.text("listen", d.listen)
    try:
        host, _ = split_listen(listen)
    except ValueError as e:
        raise t.fail("listen", str(e)) from None
    token = t.text("token", d.token)
    if token and not (16 <= len(token) <= 128 and token.isascii() and token.isalnum()):
        raise t.fail("token", "expected 16 to 128 letters and digits (e.g. `openssl rand -hex 16`)")
    if not is_loopback(host) and not token:
        raise t.fail(
            "listen",
            f"{listen} is reachable from other machines: set [ui] token too "
            "(16 or more letters and digits), or listen on 127.0.0.1",
        )
    c = UiConfig(
        enabled=t.flag("enabled", d.enabled),
        listen=listen,
        token=token,
        language=t.choice("language", d.language, ("zh", "en")),
        idle_text=t.strings("idle_text", d.idle_text),
        customer_done_s=t.integer("customer_done_s", d.customer_done_s, 1, 3600),
    )
    t.check_unknown()
    return c


def _customer_display(t: _Table) -> CustomerDisplayConfig:
    d = CustomerDisplayConfig()
    enabled = t.flag("enabled", d.enabled)
    c = CustomerDisplayConfig(
        enabled=enabled,
        port=t.path("port", d.port, required=enabled),
        protocol=t.choice("protocol", d.protocol, ("cd5220", "escpos", "led8")),
        baudrate=t.integer("baudrate", d.baudrate, 1200, 115200),
        columns=t.integer("columns", d.columns, 8, 40),
    )
    t.check_unknown()
    return c


def _receipt(t: _Table) -> ReceiptConfig:
    d = ReceiptConfig()
    c = ReceiptConfig(
        header=t.strings("header", d.header),
        footer=t.strings("footer", d.footer),
        language=t.choice("language", d.language, ("zh", "en", "zh-en")),
    )
    t.check_unknown()
    return c


def _backup(t: _Table) -> BackupConfig:
    d = BackupConfig()
    c = BackupConfig(
        dir=t.path("dir", d.dir),
        generations=t.integer("generations", d.generations, 1, 1000),
        interval_min=t.integer("interval_min", d.interval_min, 5, 7 * 24 * 60),
        require_mount=t.flag("require_mount", d.require_mount),
    )
    if c.dir and not os.path.isabs(c.dir):
        raise t.fail("dir", f"expected an absolute path, got {c.dir!r}")
    t.check_unknown()
    return c
