"""The doctor's device checks: scanner, keypad, scale, printer, customer display, drawer
switch, GPIO pins.

Each check opens its device itself, the way the lane's driver would, asks it one
thing and lets it go again; none of them moves anything (the drawer is never
kicked, the printer prints nothing). The customer display answers nothing, so its
check shows a test text on it instead: what the technician sees is the answer. So
the doctor is run with the lane stopped (``systemctl stop firmware-lane``): a
device the lane holds is reported as in use.

Every check takes the device access it needs as arguments (input node lister, key
source factory, serial factory, printer transport, pin factory, who holds a file),
so hw_sim and the tests run the very same checks over simulated devices.
"""

from __future__ import annotations

import contextlib
import errno
import os
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from firmware_app.config import (
    CustomerDisplayConfig,
    DrawerConfig,
    KeypadConfig,
    PrinterConfig,
    ScaleConfig,
    ScannerConfig,
)
from firmware_app.doctor.result import (
    DEVICE_ADVICE,
    CheckResult,
    errno_words,
    in_use,
    one_line,
    path_problem,
)
from firmware_app.drivers.discovery import (
    InputDiscovery,
    Location,
    NodeLister,
    Selector,
)
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.hid import SourceFactory
from firmware_app.drivers.scale_frames import ScaleProtocol, take_frame
from firmware_app.lane.weighing import ScaleStatus, format_kg

SerialFactory = Callable[..., Any]  # serial.Serial or anything opened like it
UsersOf = Callable[[str], Sequence[str]]  # "pid 812 (firmware-lane)" for each other holder
READ_SLICE_S = 0.05
POLE_WRITE_S = 2.0  # a test text of 60 bytes leaves a 9600-baud port in 60 ms
CANDIDATES_SHOWN = 6  # input devices listed when a match finds none


# --- who holds a device ----------------------------------------------------------------


def users_of(path: str, *, proc: str = "/proc") -> list[str]:
    """The other processes that have ``path`` open, as ``pid 812 (firmware-lane)``.

    Reads ``/proc/PID/fd``: complete as root, this user's processes otherwise. The
    printer's port is opened without a lock, so this is how a running lane is told
    apart from a silent printer.
    """
    try:
        target = os.path.realpath(path)
        os.stat(target)
    except OSError:
        return []
    me = str(os.getpid())
    found = []
    with contextlib.suppress(OSError):
        for pid in sorted((p for p in os.listdir(proc) if p.isdigit()), key=int):
            if pid != me and _holds(f"{proc}/{pid}", target):
                found.append(f"pid {pid} ({_command(f'{proc}/{pid}')})")
    return found


def _holds(process: str, target: str) -> bool:
    try:
        fds = os.listdir(f"{process}/fd")
    except OSError:
        return False  # gone, or not ours to look at
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"{process}/fd/{fd}") == target:
                return True
    return False


def _command(process: str) -> str:
    try:
        return Path(f"{process}/comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "?"


def _busy(path: str, holders: Sequence[str]) -> CheckResult | None:
    return None if not holders else _fail_in_use(path, f"in use by {', '.join(holders)}")


def _fail_in_use(path: str, why: str) -> CheckResult:
    return CheckResult("", False, f"{path}: {why} — {in_use()}")


# --- scanner and keypad ----------------------------------------------------------------


def hid_selectors(scanner: ScannerConfig, keypad: KeypadConfig) -> dict[str, Selector]:
    """The scanner's and the keypad's selectors, as the drivers build them."""
    from firmware_app.drivers.keypad import KeypadDecoder

    keys = frozenset(KeypadDecoder(keypad.keymap).keys)
    return {
        "scanner": Selector(scanner.path, scanner.match),
        "keypad": Selector(keypad.path, keypad.match, keys),
    }


def check_input(
    device: str,
    selectors: dict[str, Selector],
    *,
    grab: bool,
    lister: NodeLister,
    source_factory: SourceFactory,
    holders: UsersOf,
) -> CheckResult:
    """Find ``device`` (``scanner``/``keypad``) as the lane would, with the other one
    registered too (so a node both would read is caught), open it and grab it."""
    discovery = InputDiscovery(lister=lister)
    for name, selector in selectors.items():
        discovery.register(name, selector)
    selector = selectors[device]
    try:
        location = discovery.locate(device)
    except DeviceError as e:
        return CheckResult(device, False, _with_candidates(str(e), selector, e, lister))
    if os.path.exists(location.path):
        busy = _busy(location.path, holders(location.path))
        if busy is not None:
            return busy.named(device)
    try:
        source = source_factory(location.path)
    except (DeviceError, OSError) as e:
        return CheckResult(device, False, _named(str(e), location.path))
    try:
        if grab:
            source.grab()
    except DeviceError as e:
        if "grabbed" in str(e):
            return _fail_in_use(location.path, "grabbed by another program").named(device)
        return CheckResult(device, False, _named(str(e), location.path))
    finally:
        source.close()
    return CheckResult(device, True, _found(location, selector, getattr(source, "name", "")))


def _found(location: Location, selector: Selector, name: str) -> str:
    if location.node is not None:
        return f"{location.node}, matched by {selector.match}"
    where = location.path
    if location.identity != os.path.abspath(location.path) and os.path.exists(location.path):
        where += f" → {location.identity}"
    return f"{where} ({name!r})" if name else where


def _with_candidates(text: str, selector: Selector, error: Exception, lister: NodeLister) -> str:
    """A match that found nothing: list what there is, so the technician can fix it."""
    if not (selector.by_match and isinstance(error, DeviceMissing)):
        return text
    try:
        nodes = list(lister())
    except OSError:
        return text
    if not nodes:
        return f"{text}; no input devices at all"
    shown = ", ".join(str(node) for node in nodes[:CANDIDATES_SHOWN])
    more = f" and {len(nodes) - CANDIDATES_SHOWN} more" if len(nodes) > CANDIDATES_SHOWN else ""
    return f"{text}; input devices: {shown}{more}"


def _named(text: str, path: str) -> str:
    return text if path in text else f"{path}: {text}"


def _unready(name: str, enabled: bool, port: str, holders: UsersOf) -> CheckResult | None:
    """Why a serial device cannot be checked at all (disabled, its port missing, or held
    by another program), or None to go on."""
    if not enabled:
        return CheckResult(name, None, f"{name} disabled in config")
    problem = path_problem(port, DEVICE_ADVICE)
    if problem:
        return CheckResult(name, False, problem)
    busy = _busy(port, holders(port))
    return None if busy is None else busy.named(name)


# --- scale --------------------------------------------------------------------------------


def check_scale(
    config: ScaleConfig, *, serial_factory: SerialFactory, holders: UsersOf
) -> CheckResult:
    """One weight request, answered within ``scale.timeout_ms``, and what it says."""
    from firmware_app.drivers.scale_protocols import protocol_for

    unready = _unready("scale", config.enabled, config.port, holders)
    if unready is not None:
        return unready
    port = config.port
    try:
        protocol = protocol_for(config.protocol)
        line = serial_factory(
            port=port,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
            timeout=READ_SLICE_S,
            write_timeout=config.timeout_ms / 1000,
            exclusive=True,  # as the lane opens it: a running lane holds the lock
        )
    except DeviceError as e:
        return CheckResult("scale", False, str(e))
    except (OSError, ValueError, termios.error) as e:
        return _open_failed("scale", port, e)
    try:
        frame = _ask(line, protocol, config.timeout_ms / 1000)
    except OSError as e:
        return CheckResult("scale", False, f"{port}: went away: {one_line(str(e))}")
    finally:
        with contextlib.suppress(OSError):
            line.close()
    settings = f"{config.baudrate} {config.bytesize}{config.parity}{config.stopbits}"
    if frame is None:
        return CheckResult(
            "scale",
            False,
            f"{port}: {protocol.name}: no answer within {config.timeout_ms} ms "
            f"(scale on? cable in? scale set to {settings}?)",
        )
    return _reading(port, protocol, frame)


def _open_failed(name: str, port: str, error: Exception) -> CheckResult:
    # termios.error (setting up the line) is not an OSError: its errno is its first arg.
    code = getattr(error, "errno", None)
    if code is None and isinstance(error, termios.error) and error.args:
        code = error.args[0]
    if code in (errno.EAGAIN, errno.EBUSY) or "lock" in str(error):
        return _fail_in_use(port, "locked by another program").named(name)
    if code is not None:
        advice = DEVICE_ADVICE.get(code)
        words = errno_words(code)
        return CheckResult(
            name, False, f"{port}: {words}: {advice}" if advice else f"{port}: {words}"
        )
    return CheckResult(name, False, f"{port}: {one_line(str(error))}")


def _ask(line: Any, protocol: ScaleProtocol, timeout_s: float) -> bytes | None:
    """The answer frame to one weight request, or None when none came in time."""
    line.reset_input_buffer()
    line.write(protocol.request)
    deadline = time.monotonic() + timeout_s
    buffer = b""
    while time.monotonic() < deadline:
        chunk = line.read_until(protocol.terminator, protocol.max_frame)
        frame, buffer = take_frame(buffer + chunk, protocol)
        if frame is not None:
            return frame
    return None


def _reading(port: str, protocol: ScaleProtocol, frame: bytes) -> CheckResult:
    answer = protocol.read(frame)
    reading = answer.reading
    said = {
        ScaleStatus.MOVING: "weight moving",
        ScaleStatus.OVER: "over capacity",
        ScaleStatus.UNDER: "under zero",
    }
    if reading.status is ScaleStatus.STABLE and reading.grams is not None:
        net = " net" if answer.net else ""
        return CheckResult(
            "scale", True, f"{port}: {protocol.name}, {format_kg(reading.grams)} kg{net} stable"
        )
    if reading.status in said:
        return CheckResult("scale", True, f"{port}: {protocol.name}, {said[reading.status]}")
    reason = answer.reason or reading.status.value
    return CheckResult(
        "scale", False, f"{port}: {protocol.name}: answer {frame!r} unusable: {reason}"
    )


# --- printer ------------------------------------------------------------------------------


def check_printer(
    config: PrinterConfig, *, transport_factory: Any, holders: UsersOf
) -> CheckResult:
    """``DLE EOT`` 1, 2 and 4: on-line, cover, paper. Nothing is printed."""
    from firmware_app.drivers.printer import PrinterFault, SerialPrinter

    unready = _unready("printer", config.enabled, config.port, holders)
    if unready is not None:
        return unready
    port = config.port
    if not config.status_check:
        return _printer_opens(config, transport_factory)
    try:
        with SerialPrinter(config, transport_factory=transport_factory) as printer:
            status = printer.status()
    except PrinterFault as e:
        return CheckResult("printer", False, _printer_text(str(e), port))
    if status.problem:
        return CheckResult("printer", False, f"{port}: {status.problem} ({status.detail})")
    paper = {"ok": "paper ok", "near-end": "paper near end: change the roll soon"}[status.paper]
    return CheckResult("printer", True, f"{port}: online, cover closed, {paper}")


def _printer_opens(config: PrinterConfig, transport_factory: Any) -> CheckResult:
    """Some printers misbehave when polled (``printer.status_check`` off): the port is
    only opened and closed."""
    from firmware_app.drivers.printer_transport import LIBRARY_ERRORS

    try:
        transport_factory(config).close()
    except LIBRARY_ERRORS as e:
        return CheckResult("printer", False, f"{config.port}: {one_line(str(e))}")
    return CheckResult(
        "printer", True, f"{config.port}: opens; status not asked (printer.status_check off)"
    )


def _printer_text(text: str, port: str) -> str:
    text = one_line(text).removeprefix(f"receipt printer on {port}: ")
    return f"{port}: {text}"


# --- customer display ---------------------------------------------------------------------


def check_pole(
    config: CustomerDisplayConfig, *, serial_factory: SerialFactory, holders: UsersOf
) -> CheckResult:
    """Open the port as the lane does and send a test text (``LANE DOCTOR`` and the
    settings on a character display, ``88888888`` on an LED): a display answers
    nothing, so whether it shows the text is for the technician to see."""
    from firmware_app.drivers.pole_frames import LED_TEST, test_frame

    if not config.enabled:
        return CheckResult("pole", None, "customer display disabled in config")
    unready = _unready("pole", True, config.port, holders)
    if unready is not None:
        return unready
    port = config.port
    words = ("LANE DOCTOR", f"{config.protocol.upper()} {config.baudrate} 8N1")
    frame = test_frame(config.protocol, words, config.columns)
    try:
        line = serial_factory(
            port=port,
            baudrate=config.baudrate,  # 8N1: pyserial's defaults, as the driver's
            timeout=0,
            write_timeout=POLE_WRITE_S,
            exclusive=True,  # as the lane opens it: a running lane holds the lock
        )
    except DeviceError as e:
        return CheckResult("pole", False, str(e))
    except (OSError, ValueError, termios.error) as e:
        return _open_failed("pole", port, e)
    try:
        sent = _sent(line, frame)
    except (OSError, termios.error) as e:
        return CheckResult("pole", False, f"{port}: went away: {one_line(str(e))}")
    finally:
        with contextlib.suppress(OSError, termios.error):
            line.close()
    settings = f"{config.protocol}, {config.baudrate} 8N1"
    if not sent:
        return CheckResult(
            "pole", False, f"{port}: {settings}: the display takes no data (cable? power?)"
        )
    shown = LED_TEST if config.protocol == "led8" else " / ".join(words)
    return CheckResult(
        "pole", True, f"{port}: {settings}: test sent, the display should read {shown}"
    )


def _sent(line: Any, frame: bytes) -> bool:
    """Write ``frame``; False when it did not leave the port within ``POLE_WRITE_S``."""
    import serial

    try:
        line.write(frame)
    except serial.SerialTimeoutException:
        return False
    deadline = time.monotonic() + POLE_WRITE_S
    while line.out_waiting:
        if time.monotonic() >= deadline:
            line.reset_output_buffer()  # the close must not wait for it
            return False
        time.sleep(0.005)
    return True


# --- drawer and its pins ------------------------------------------------------------------


def check_gpio(config: DrawerConfig, *, pin_factory: Any) -> CheckResult:
    """Claim the kick and switch pins as the drawer driver does, then release them. The
    kick is claimed at its inactive level and never driven active."""
    from gpiozero import DigitalInputDevice, DigitalOutputDevice

    from firmware_app.drivers.drawer import claim

    if not config.enabled:
        return CheckResult("gpio", None, "drawer disabled in config")
    claims: list[tuple[int, str, Callable[[], Any]]] = [
        (
            config.kick_pin,
            "kick",
            lambda: DigitalOutputDevice(
                config.kick_pin,
                active_high=config.kick_active_high,
                initial_value=False,
                pin_factory=pin_factory,
            ),
        ),
        (
            config.switch_pin,
            "switch",
            lambda: DigitalInputDevice(config.switch_pin, pull_up=True, pin_factory=pin_factory),
        ),
    ]
    held: list[Any] = []
    try:
        for pin, role, build in claims:
            try:
                # As the driver claims them: gpiozero's notes on each pin library it could
                # not load end up in the line, not on stderr.
                held.append(claim(pin, role, build))
            except DeviceError as e:
                return _pin_failed(pin, role, e)
    finally:
        for device in reversed(held):
            with contextlib.suppress(Exception):
                device.close()
    return CheckResult(
        "gpio", True, f"GPIO{config.kick_pin} (kick), GPIO{config.switch_pin} (switch): free"
    )


def _pin_failed(pin: int, role: str, error: DeviceError) -> CheckResult:
    return CheckResult("gpio", False, f"GPIO{pin} ({role}): {_pin_error(error)}")


def _pin_error(error: DeviceError) -> str:
    """The pin factory's error behind the driver's, without the holder's repr (gpiozero's
    MockFactory names the whole device object), with the in-use hint when another program
    holds it, and what to install when there is no pin library at all."""
    from firmware_app.drivers.drawer import NoPinLibrary

    if isinstance(error, NoPinLibrary):
        return error.reason
    cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
    text = one_line(str(cause)).split(" by <", 1)[0] or type(cause).__name__
    if type(cause).__name__ == "GPIOPinInUse" or "in use" in text or "busy" in text.lower():
        return f"{text} — {in_use()}"
    return text


def check_drawer(config: DrawerConfig, *, pin_factory: Any) -> CheckResult:
    """The switch, read through the drawer driver itself (so the polarity is the one
    the lane uses). Open or closed are both fine: the line says which."""
    from firmware_app.drivers.drawer import GpioDrawer

    if not config.enabled:
        return CheckResult("drawer", None, "drawer disabled in config")
    try:
        with GpioDrawer(config, pin_factory=pin_factory) as drawer:
            is_open = drawer.is_open
    except DeviceError as e:
        where = f"GPIO{config.kick_pin} (kick), GPIO{config.switch_pin} (switch)"
        return CheckResult("drawer", False, f"{where}: {_pin_error(e)}")
    contact = "open" if is_open == (config.open_when_switch == "open") else "closed"
    state = "open" if is_open else "closed"
    return CheckResult(
        "drawer",
        True,
        f"switch GPIO{config.switch_pin}: drawer {state} (contact {contact}, "
        f"open_when_switch = {config.open_when_switch})",
    )
