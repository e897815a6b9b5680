"""Serial ESC/POS receipt printer: an encoder and a transport, composed.

Wiring: the printer's RS-232 port goes through a USB-serial adapter (or the Pi's
UART and a MAX3232) to ``printer.port``, normally the udev link
``/dev/lane-printer``; 8N1 at ``printer.baudrate``. With ``flow_control =
"rtscts"`` the printer's BUSY/CTS line must be wired to the adapter's CTS.

``SerialPrinter`` lays each receipt out with ``ReceiptEncoder`` (pure) and sends
it in one ``_raw(bytes)`` call to a transport: python-escpos's ``Serial``
(opened lazily on the first print, and again after an error), or anything with
``_raw`` and ``close`` — python-escpos's ``Dummy`` records the bytes for tests.

python-escpos 3.1's ``Serial`` needs three corrections, made in ``SerialTransport``:
it never passes ``rtscts`` to pyserial (its ``dsrdtr=False`` does not switch RTS/CTS
on, whatever its docstring says), it has no write timeout (a printer holding CTS
would block the lane for ever), and its ``close()`` waits for all output to drain
(for ever, again, if the printer stopped reading). Its ``paper_status()`` also
reads "no answer" as "paper adequate"; ``read_status`` here treats it as silence.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import serial
from escpos.constants import RT_STATUS
from escpos.exceptions import Error as EscposError

from firmware_app.config import PrinterConfig
from firmware_app.drivers.errors import PrinterError
from firmware_app.drivers.escpos_encoder import ReceiptEncoder
from firmware_app.lane.receipt import Receipt

logger = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 10.0  # a 60-line receipt prints in about 2 s; longer means the printer stalled
STATUS_TIMEOUT_S = 0.5  # printers answer DLE EOT within a few ms, even while busy
DRAIN_S = 1.0  # on close, how long sent bytes may take to leave before they are dropped
DRAIN_POLL_S = 0.01
STATUS_FIXED_MASK = 0x93  # bits 0, 1, 4 and 7 of every DLE EOT answer are fixed ...
STATUS_FIXED_BITS = 0x12  # ... to 0, 1, 1 and 0: anything else is not a status byte

# DLE EOT n queries and the bits of their answers (Epson's real-time status).
OFFLINE_CAUSE = 2  # n = 2
COVER_OPEN = 0x04
PAPER_END_STOP = 0x20
ERROR = 0x40
PAPER_SENSOR = 4  # n = 4
PAPER_NEAR_END = 0x0C
PAPER_END = 0x60

# termios.error is not an OSError: pyserial lets it through from tcflush and tcsetattr.
LIBRARY_ERRORS = (serial.SerialException, OSError, termios.error, EscposError)


class Transport(Protocol):
    """What the printer needs from a transport (python-escpos's printer classes fit)."""

    def _raw(self, msg: bytes) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class StatusTransport(Protocol):
    """A transport that can also ask the printer for a real-time status byte."""

    def read_status(self, n: int) -> int | None: ...


TransportFactory = Callable[[PrinterConfig], Transport]


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself. ``paper`` is ``ok``, ``near-end`` or ``out``."""

    cover_open: bool
    paper: str
    error: bool

    @property
    def problem(self) -> str:
        """Why a receipt cannot be printed now, or ``""``."""
        if self.cover_open:
            return "cover open"
        if self.paper == "out":
            return "paper out"
        return "printer error" if self.error else ""


def valid_status(answer: int | None) -> bool:
    """Whether ``answer`` looks like a DLE EOT status byte (its fixed bits are right)."""
    return answer is not None and answer & STATUS_FIXED_MASK == STATUS_FIXED_BITS


def parse_status(offline_cause: int, paper_sensor: int) -> PrinterStatus:
    """The printer's state from its answers to DLE EOT 2 and DLE EOT 4."""
    if paper_sensor & PAPER_END or offline_cause & PAPER_END_STOP:
        paper = "out"
    elif paper_sensor & PAPER_NEAR_END:
        paper = "near-end"
    else:
        paper = "ok"
    return PrinterStatus(bool(offline_cause & COVER_OPEN), paper, bool(offline_cause & ERROR))


class SerialTransport:
    """python-escpos's ``Serial`` on ``config.port``, opened, with flow control,
    a write timeout and a close that never waits on a stalled printer."""

    def __init__(self, config: PrinterConfig) -> None:
        # Imported here: importing escpos.printer calls logging.basicConfig() and
        # creates a temporary directory, which must not happen on import of this module.
        from escpos.printer import Serial

        self.port = config.port
        self.printer: Any = Serial(
            devfile=config.port,
            baudrate=config.baudrate,
            timeout=STATUS_TIMEOUT_S,
            xonxoff=config.flow_control == "xonxoff",
            dsrdtr=False,  # on POSIX this only means "assert DTR on open", as printers expect
        )
        self.printer.open()
        self._device: serial.Serial = self.printer.device
        try:
            self._device.rtscts = config.flow_control == "rtscts"
            self._device.write_timeout = WRITE_TIMEOUT_S
        except BaseException:
            self.close()
            raise

    def _raw(self, msg: bytes) -> None:
        self.printer._raw(msg)

    def read_status(self, n: int) -> int | None:
        """The answer to DLE EOT ``n``, or ``None`` when the printer stays silent."""
        # Stale bytes (automatic status back, an earlier late answer) would answer for it.
        self._device.reset_input_buffer()
        self.printer._raw(RT_STATUS + bytes((n,)))
        answer = self._device.read(1)
        return answer[0] if answer else None

    def close(self) -> None:
        """Let sent bytes leave for up to ``DRAIN_S``, drop the rest, close the port.
        Idempotent."""
        with contextlib.suppress(*LIBRARY_ERRORS):
            if self._device.is_open and not self._drained(time.monotonic() + DRAIN_S):
                self._device.reset_output_buffer()
        with contextlib.suppress(*LIBRARY_ERRORS):
            self._device.close()
        # Now python-escpos's close() skips its flush and forgets the port, so its
        # __del__ has nothing left to fail on.
        with contextlib.suppress(*LIBRARY_ERRORS):
            self.printer.close()

    def _drained(self, deadline: float) -> bool:
        # Not flush(): tcdrain() waits for ever on a printer that holds CTS or sent XOFF.
        while self._device.out_waiting:
            if time.monotonic() >= deadline:
                return False
            time.sleep(DRAIN_POLL_S)
        return True


class SerialPrinter:
    """The lane's receipt printer (``ReceiptPrinter``): lays out, sends, cuts.

    ``encoder`` defaults to a ``ReceiptEncoder`` built from ``config``;
    ``transport_factory(config)`` opens the transport (default: ``SerialTransport``).
    With ``status_check`` each receipt is preceded by DLE EOT 2 and 4, and a
    silent printer, an open cover or no paper raises ``PrinterError`` before
    anything is sent; leave it off for printers that misbehave when polled.
    Every failure, a port that cannot be opened included, raises ``PrinterError``
    naming the port; the next print opens the port again.
    """

    def __init__(
        self,
        config: PrinterConfig,
        *,
        encoder: ReceiptEncoder | None = None,
        transport_factory: TransportFactory = SerialTransport,
        status_check: bool = False,
    ) -> None:
        self.config = config
        self.encoder = encoder or ReceiptEncoder(
            config.columns, encoding=config.encoding, chinese_mode=config.chinese_mode
        )
        self._factory = transport_factory
        self._status_check = status_check
        self._transport: Transport | None = None
        self._lock = threading.Lock()  # close() may come from another thread than printing
        self._closed = False

    def print_receipt(self, receipt: Receipt) -> None:
        """Print and cut ``receipt``; raises ``PrinterError`` when it cannot."""
        data = self.encoder.encode(receipt)
        with self._lock:
            if self._closed:
                raise PrinterError(f"receipt printer on {self.config.port} is closed")
            transport = self._open()
            try:
                if self._status_check:
                    self._check_ready(transport)
                transport._raw(data)
            except LIBRARY_ERRORS as e:
                self._drop()
                raise PrinterError(f"receipt printer on {self.config.port}: {e}") from e
            except PrinterError:
                self._drop()
                raise

    def status(self) -> PrinterStatus:
        """Ask the printer how it is (DLE EOT 2 and 4); raises ``PrinterError`` when it
        does not answer or its transport cannot ask."""
        with self._lock:
            if self._closed:
                raise PrinterError(f"receipt printer on {self.config.port} is closed")
            transport = self._open()
            try:
                return self._read_status(transport)
            except LIBRARY_ERRORS as e:
                self._drop()
                raise PrinterError(f"receipt printer on {self.config.port}: {e}") from e

    def _open(self) -> Transport:
        if self._transport is None:
            try:
                self._transport = self._factory(self.config)
            except LIBRARY_ERRORS as e:
                raise PrinterError(f"receipt printer on {self.config.port}: {e}") from e
        return self._transport

    def _check_ready(self, transport: Transport) -> None:
        status = self._read_status(transport)
        if status.problem:
            raise PrinterError(f"receipt printer on {self.config.port}: {status.problem}")
        if status.paper == "near-end":
            logger.warning("receipt printer on %s: paper near end", self.config.port)

    def _read_status(self, transport: Transport) -> PrinterStatus:
        if not isinstance(transport, StatusTransport):
            raise PrinterError(f"receipt printer on {self.config.port}: status not readable")
        answers = []
        for query in (OFFLINE_CAUSE, PAPER_SENSOR):
            answer = transport.read_status(query)
            if answer is None or not valid_status(answer):
                # One silent query is enough: asking again would only double the wait.
                raise PrinterError(f"receipt printer on {self.config.port}: not answering")
            answers.append(answer)
        return parse_status(*answers)

    def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(*LIBRARY_ERRORS):
                transport.close()

    def close(self) -> None:
        """Close the port. Idempotent."""
        with self._lock:
            self._closed = True
            self._drop()

    def __enter__(self) -> SerialPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
