"""The lane's ESC/POS receipt printer: an encoder and a transport, composed.

``SerialPrinter`` lays each receipt out with ``ReceiptEncoder`` (pure) and sends
it in one ``_raw(bytes)`` call to a transport: ``SerialTransport`` (python-escpos's
``Serial`` on ``printer.port``, opened lazily on the first print, and again after
an error; wiring in ``printer_transport``), or anything with ``_raw`` and
``close`` — python-escpos's ``Dummy`` records the bytes for tests.

With ``printer.status_check`` (the default) the printer is asked how it is
(``DLE EOT`` 1, 2 and 4; 3 on error) before and after each receipt:

- before: an open cover, no paper, an error or no answer raises ``PrinterFault``
  with ``printed_partly=False``; nothing was sent.
- after (once the receipt's bytes have left the port): the same problems raise
  ``PrinterFault`` with ``printed_partly=True``: part of the receipt may be on
  paper (paper ran out mid-receipt, the cover was opened), so the lane should
  print it again once the printer is back.
- otherwise ``print_receipt`` returns the status read after printing; its
  ``state`` is ``ok`` or ``paper_near_end`` (not an error: printing goes on, and
  the lane tells the cashier to change the roll soon).

Without it, ``print_receipt`` returns ``None`` and only a failed write is seen.
Limits: a printer that prints from a receive buffer may still be printing the
receipt's last lines when it answers; paper running out in those lines is seen
by the next check (the next receipt's, or ``status()``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import datetime

import serial

from firmware_app.config import PrinterConfig
from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.errors import PrinterClosed
from firmware_app.drivers.escpos_encoder import ReceiptEncoder
from firmware_app.drivers.escpos_image import PAPER_DOTS, LogoError, load_logo
from firmware_app.drivers.printer_status import (
    ERROR,
    ERROR_CAUSE,
    ERROR_STATE,
    MISSING_STATE,
    OFFLINE_CAUSE,
    OFFLINE_STATE,
    PAPER_SENSOR,
    PRINTER,
    STATUS_FIXED_BITS,
    PrinterFault,
    PrinterStatus,
    parse_status,
    valid_status,
)
from firmware_app.drivers.printer_transport import (
    LIBRARY_ERRORS,
    SerialTransport,
    StatusTransport,
    Transport,
    TransportFactory,
)
from firmware_app.lane.receipt import Receipt, ReceiptLine

__all__ = [
    "PrinterFault",
    "PrinterStatus",
    "SerialPrinter",
    "encoder_for",
    "parse_status",
    "test_receipt",
    "valid_status",
]

logger = logging.getLogger(__name__)


def encoder_for(config: PrinterConfig) -> ReceiptEncoder:
    """The encoder for ``config``'s paper, text and code settings, with its logo.

    A logo that cannot be read is left out (and logged): the lane must print
    receipts without it rather than none at all.
    """
    dots = PAPER_DOTS.get(config.paper_mm)
    logo = None
    if config.logo:
        try:
            logo = load_logo(config.logo, dots or PAPER_DOTS[80])
        except LogoError as e:
            logger.error("receipt printer: %s; printing without a logo", e)
    return ReceiptEncoder(
        config.columns,
        encoding=config.encoding,
        chinese_mode=config.chinese_mode,
        code=config.receipt_code,
        logo=logo,
        dots=dots,
    )


class SerialPrinter(Closeable):
    """The lane's receipt printer (``ReceiptPrinter``): extends ``Closeable`` with
    checking, laying out, sending and cutting.

    ``encoder`` defaults to ``encoder_for(config)``; ``transport_factory(config)``
    opens the transport (default: ``SerialTransport``). Every failure raises
    ``PrinterFault`` (a ``PrinterError``) naming the port, with its state word;
    the next print opens the port again after a transport error. After ``close()``,
    printing raises ``PrinterClosed`` (a ``PrinterError`` too).
    """

    what = "receipt printer"
    closed_error = PrinterClosed

    def __init__(
        self,
        config: PrinterConfig,
        *,
        encoder: ReceiptEncoder | None = None,
        transport_factory: TransportFactory = SerialTransport,
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder or encoder_for(config)
        self._factory = transport_factory
        self._transport: Transport | None = None
        self._lock = threading.Lock()  # close() may come from another thread than printing

    def print_receipt(self, receipt: Receipt) -> PrinterStatus | None:
        """Print and cut ``receipt``; returns the status read after printing (``None``
        without ``status_check``); raises ``PrinterFault`` when it cannot."""
        data = self.encoder.encode(receipt)
        with self._lock:
            transport = self._usable()
            if self.config.status_check:
                self._ready(self._query(transport, sent=False), sent=False)
            self._send(transport, data)
            if not self.config.status_check:
                return None
            return self._ready(self._query(transport, sent=True), sent=True)

    def status(self) -> PrinterStatus:
        """Ask the printer how it is, whatever ``status_check`` says (a technician's
        check); raises ``PrinterFault`` when it does not answer."""
        with self._lock:
            return self._query(self._usable(), sent=False)

    # --- steps ---------------------------------------------------------------------------

    def _usable(self) -> Transport:
        self._check_open()
        if self._transport is None:
            try:
                self._transport = self._factory(self.config)
            except LIBRARY_ERRORS as e:
                raise self._fault(e, sent=False) from e
        return self._transport

    def _send(self, transport: Transport, data: bytes) -> None:
        try:
            transport._raw(data)
        except LIBRARY_ERRORS as e:
            self._drop()
            # How much left before the failure is unknown: part of it may be on paper.
            raise self._fault(e, sent=True) from e

    def _query(self, transport: Transport, *, sent: bool) -> PrinterStatus:
        if not isinstance(transport, StatusTransport):
            raise PrinterFault(
                f"receipt printer on {self.config.port}: status not readable",
                state=ERROR_STATE,
                printed_partly=sent,
            )
        answers: dict[int, int] = {}
        try:
            for n in (PRINTER, OFFLINE_CAUSE, PAPER_SENSOR):
                answers[n] = self._ask(transport, n, sent)
            if answers[OFFLINE_CAUSE] & ERROR:
                answers[ERROR_CAUSE] = self._ask(transport, ERROR_CAUSE, sent)
        except LIBRARY_ERRORS as e:
            self._drop()
            raise self._fault(e, sent=sent) from e
        return parse_status(
            answers[PRINTER],
            answers[OFFLINE_CAUSE],
            answers[PAPER_SENSOR],
            answers.get(ERROR_CAUSE, STATUS_FIXED_BITS),
        )

    def _ask(self, transport: StatusTransport, n: int, sent: bool) -> int:
        """One valid answer to DLE EOT ``n``; one silent query is enough to give up
        (asking again would only double the wait)."""
        answer = transport.read_status(n)
        if answer is not None and not valid_status(answer):
            answer = transport.read_status(n)  # a stray byte came first: it is drained now
        if answer is None or not valid_status(answer):
            said = "no answer" if answer is None else f"0x{answer:02x}, not a status byte"
            raise PrinterFault(
                f"receipt printer on {self.config.port}: not answering (DLE EOT {n}: {said})",
                state=OFFLINE_STATE,
                printed_partly=sent,
            )
        return answer

    def _ready(self, status: PrinterStatus, *, sent: bool) -> PrinterStatus:
        """``status`` when the printer can print; else ``PrinterFault``."""
        if not status.problem:
            return status
        when = " after printing: the receipt may be incomplete" if sent else ""
        raise PrinterFault(
            f"receipt printer on {self.config.port}: {status.problem}{when} ({status.detail})",
            state=status.state,
            printed_partly=sent,
            status=status,
        )

    def _fault(self, error: BaseException, *, sent: bool) -> PrinterFault:
        # A write timeout: the printer holds the line (flow control), so it is off-line;
        # anything else: the port is gone or cannot be opened.
        timeout = isinstance(error, serial.SerialTimeoutException)
        return PrinterFault(
            f"receipt printer on {self.config.port}: {_in_words(error)}",
            state=OFFLINE_STATE if timeout else MISSING_STATE,
            printed_partly=sent,
        )

    def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(*LIBRARY_ERRORS):
                transport.close()

    # --- life cycle ---------------------------------------------------------------------

    def _release(self) -> None:
        """Close the port, once a receipt being printed is through."""
        with self._lock:
            self._drop()


# --- a test print ------------------------------------------------------------------------------


def test_receipt(config: PrinterConfig, *, lane: str = "", now: datetime | None = None) -> Receipt:
    """A receipt that shows whether the printer is set up right for ``config``:
    a ruler of exactly ``columns`` cells (and one of Chinese characters, two cells
    each, in Chinese mode), the settings, the logo and the code as a receipt
    would print them. Print it with ``SerialPrinter(config).print_receipt``."""
    chinese = config.chinese_mode and config.encoding in ("gb18030", "gbk", "gb2312")
    ruler = "".join(str(i % 10) for i in range(1, config.columns + 1))
    rulers = (ruler, "中" * (config.columns // 2)) if chinese else (ruler,)
    settings = (
        f"Port: {config.port}",
        f"Serial: {config.baudrate} 8N1, flow {config.flow_control}",
        f"Paper: {config.paper_mm} mm, {config.columns} columns",
        f"Text: {config.encoding}, Chinese mode {'on' if config.chinese_mode else 'off'}",
        f"Code: {config.receipt_code}; logo: {config.logo or 'none'}",
        f"Status check: {'on' if config.status_check else 'off'}",
    )
    when: tuple[str, ...] = (f"Lane: {lane}",) if lane else ()
    when += (f"Time: {now:%Y-%m-%d %H:%M:%S}",) if now is not None else ()
    item = ReceiptLine("可口可乐 Cola 330ml" if chinese else "Cola 330ml", "2 x 3.50", "7.00")
    return Receipt(
        header=("TEST PRINT", "打印测试") if chinese else ("TEST PRINT",),
        lines=(item,),
        totals=(("合计 TOTAL" if chinese else "TOTAL", "7.00"),),
        taxes=(),
        tenders=(),
        info=(*rulers, *settings, *when),
        footer=("END OF TEST PRINT",),
        code="TEST-0000",
    )


test_receipt.__test__ = False  # type: ignore[attr-defined]  # a product function, not a test


def _in_words(error: BaseException) -> str:
    """A port error in words on one line (``cannot open the port: no such file or
    directory``): python-escpos wraps pyserial's error, which repeats the OS's, each
    with its own ``[Errno 2]``."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "errno", None)
        if isinstance(code, int) and code > 0:
            what = "cannot open the port" if "open" in str(error).lower() else "port error"
            return f"{what}: {os.strerror(code).lower()}"
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(error).split())
