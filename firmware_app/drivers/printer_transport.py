"""The serial line to an ESC/POS printer: python-escpos's ``Serial``, corrected.

Wiring: the printer's RS-232 port goes through a USB-serial adapter (or the Pi's
UART and a MAX3232) to ``printer.port``, normally the udev link
``/dev/lane-printer``; 8N1 at ``printer.baudrate``. With ``flow_control =
"rtscts"`` the printer's BUSY/CTS line must be wired to the adapter's CTS.

python-escpos 3.1's ``Serial`` needs three corrections, made in ``SerialTransport``:
it never passes ``rtscts`` to pyserial (its ``dsrdtr=False`` does not switch RTS/CTS
on, whatever its docstring says), it has no write timeout (a printer holding CTS
would block the lane for ever), and its ``close()`` waits for all output to drain
(for ever, again, if the printer stopped reading). Its ``paper_status()`` also
reads "no answer" as "paper adequate"; ``read_status`` here returns ``None`` for it.
"""

from __future__ import annotations

import contextlib
import termios
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import serial
from escpos.constants import RT_STATUS
from escpos.exceptions import Error as EscposError

from firmware_app.config import PrinterConfig

WRITE_TIMEOUT_S = 10.0  # beyond the bytes' time on the wire: longer means the printer stalled
STATUS_TIMEOUT_S = 0.5  # printers answer DLE EOT within a few ms, even while busy
DRAIN_S = 1.0  # on close, how long sent bytes may take to leave before they are dropped
DRAIN_POLL_S = 0.005
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit

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


class SerialTransport:
    """python-escpos's ``Serial`` on ``config.port``, opened, with flow control,
    a write timeout and a close that never waits on a stalled printer."""

    def __init__(self, config: PrinterConfig) -> None:
        # Imported here: importing escpos.printer calls logging.basicConfig() and
        # creates a temporary directory, which must not happen on import of this module.
        from escpos.printer import Serial

        self.port = config.port
        self._byte_s = BITS_PER_BYTE / config.baudrate
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
        """Send ``msg``; raises ``serial.SerialTimeoutException`` when the printer holds
        the line (flow control) for ``WRITE_TIMEOUT_S`` beyond the bytes' own time."""
        # A logo takes seconds at 19200 baud: the timeout grows with what is sent.
        self._device.write_timeout = WRITE_TIMEOUT_S + 2 * len(msg) * self._byte_s
        self.printer._raw(msg)

    def read_status(self, n: int) -> int | None:
        """The answer to DLE EOT ``n``, or ``None`` when the printer stays silent (or
        has not taken what was sent before within ``WRITE_TIMEOUT_S``)."""
        # The query queues behind what was sent: its timeout starts once that has left.
        if not self._drained(time.monotonic() + WRITE_TIMEOUT_S):
            return None
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
