"""What an ESC/POS receipt printer says about itself, and the printer's errors: pure, no I/O.

Real-time status ``DLE EOT n`` (0x10 0x04 n) is answered with one byte at once,
even while the printer is busy or off-line. Bits 0, 1, 4 and 7 of every answer
are fixed (``0xx1xx10``): a byte without that form is not a status answer (a
stale automatic-status-back byte, line noise, a wrong baud rate). The lane asks:

    n = 1  printer         bit 3 off-line
    n = 2  off-line cause  bit 2 cover open, bit 3 paper fed by the button,
                           bit 5 stopped by paper end, bit 6 error
    n = 3  error cause     bit 3 auto-cutter error, bit 5 unrecoverable error,
                           bit 6 auto-recoverable error (asked only when n = 2 says error)
    n = 4  paper sensor    bits 2-3 paper near end, bits 5-6 paper end

State words (the ``StateWord`` of the lane's ``DeviceState``, after UnifiedPOS's
COVER_OPEN, REC_EMPTY, REC_NEAREMPTY, REC_PAPEROK and OFF-LINE): ``OK``,
``PAPER_NEAR_END`` (not an error: printing goes on), and the errors
``COVER_OPEN``, ``PAPER_OUT``, ``ERROR``, ``OFFLINE`` and ``MISSING``.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_app.drivers.errors import PrinterError
from firmware_app.lane.devices import StateWord

STATUS_FIXED_MASK = 0x93  # bits 0, 1, 4 and 7 of every DLE EOT answer are fixed ...
STATUS_FIXED_BITS = 0x12  # ... to 0, 1, 1 and 0: anything else is not a status byte

# DLE EOT n queries and the bits of their answers (Epson's real-time status).
PRINTER = 1
OFFLINE = 0x08
OFFLINE_CAUSE = 2
COVER_OPEN = 0x04
BUTTON_FEED = 0x08
PAPER_END_STOP = 0x20
ERROR = 0x40
ERROR_CAUSE = 3
CUTTER_ERROR = 0x08
UNRECOVERABLE = 0x20
AUTO_RECOVERABLE = 0x40
PAPER_SENSOR = 4
PAPER_NEAR_END = 0x0C
PAPER_END = 0x60

# The lane's words for a printer's state (firmware_app.lane.messages translates them).
OK = StateWord.OK
PAPER_NEAR_END_STATE = StateWord.PAPER_NEAR_END
COVER_OPEN_STATE = StateWord.COVER_OPEN
PAPER_OUT_STATE = StateWord.PAPER_OUT
ERROR_STATE = StateWord.ERROR
OFFLINE_STATE = StateWord.OFFLINE  # not answering, or off-line for no reported cause
MISSING_STATE = StateWord.MISSING  # the port is not there or went away (adapter unplugged)
FAULTS = frozenset((COVER_OPEN_STATE, PAPER_OUT_STATE, ERROR_STATE, OFFLINE_STATE, MISSING_STATE))


def valid_status(answer: int | None) -> bool:
    """Whether ``answer`` has the form of a DLE EOT status byte (``0xx1xx10``)."""
    return answer is not None and answer & STATUS_FIXED_MASK == STATUS_FIXED_BITS


@dataclass(frozen=True)
class PrinterStatus:
    """The printer's answers to DLE EOT 1, 2, 4 (and 3), read into flags.

    ``paper`` is ``ok``, ``near-end`` or ``out``; ``error_cause`` names what
    DLE EOT 3 reported (``""`` when there is no error). ``answers`` keeps the raw
    bytes by query, for the technician's log.
    """

    offline: bool
    cover_open: bool
    paper: str
    error: bool
    error_cause: str = ""
    answers: tuple[tuple[int, int], ...] = ()

    @property
    def state(self) -> StateWord:
        """The one word the lane shows: the most urgent thing first."""
        if self.cover_open:
            return COVER_OPEN_STATE
        if self.paper == "out":
            return PAPER_OUT_STATE
        if self.error:
            return ERROR_STATE
        if self.offline:
            return OFFLINE_STATE  # e.g. paper being fed by the button
        return PAPER_NEAR_END_STATE if self.paper == "near-end" else OK

    @property
    def problem(self) -> str:
        """Why a receipt cannot be printed now, in words, or ``""``."""
        state = self.state
        if state not in FAULTS:
            return ""
        words = state.value.replace("_", " ")
        return f"{words} ({self.error_cause})" if self.error_cause else words

    @property
    def detail(self) -> str:
        """The raw answers, as ``DLE EOT 2 = 0x32, DLE EOT 4 = 0x7e``."""
        return ", ".join(f"DLE EOT {n} = 0x{b:02x}" for n, b in self.answers)


def parse_status(
    printer: int, offline_cause: int, paper_sensor: int, error_cause: int = STATUS_FIXED_BITS
) -> PrinterStatus:
    """The printer's state from its answers to DLE EOT 1, 2, 4 and (on error) 3.

    Takes any byte values: checking their form is ``valid_status``'s job.
    """
    if paper_sensor & PAPER_END or offline_cause & PAPER_END_STOP:
        paper = "out"
    elif paper_sensor & PAPER_NEAR_END:
        paper = "near-end"
    else:
        paper = "ok"
    error = bool(offline_cause & ERROR)
    answers: tuple[tuple[int, int], ...] = (
        (PRINTER, printer),
        (OFFLINE_CAUSE, offline_cause),
        (PAPER_SENSOR, paper_sensor),
    )
    if error:
        answers += ((ERROR_CAUSE, error_cause),)
    return PrinterStatus(
        offline=bool(printer & OFFLINE),
        cover_open=bool(offline_cause & COVER_OPEN),
        paper=paper,
        error=error,
        error_cause=_error_cause(error_cause) if error else "",
        answers=answers,
    )


def _error_cause(answer: int) -> str:
    if answer & CUTTER_ERROR:
        return "auto-cutter error"
    if answer & UNRECOVERABLE:
        return "unrecoverable error"
    return "auto-recoverable error" if answer & AUTO_RECOVERABLE else ""


class PrinterFault(PrinterError):
    """The printer could not print, or not all of it: ``state`` says why (``OFFLINE``,
    ``COVER_OPEN``, ``PAPER_OUT``, ``ERROR``, ``MISSING``), ``printed_partly`` whether
    any of the receipt had already been sent (so part of it may be on paper), and
    ``status`` what the printer answered, when it did."""

    def __init__(
        self,
        message: str,
        *,
        state: StateWord,
        printed_partly: bool = False,
        status: PrinterStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.state = state
        self.printed_partly = printed_partly
        self.status = status
