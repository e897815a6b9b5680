"""The receipt printer's own thread: the sale never waits for paper.

The lane loop commits a sale together with its receipt in the print queue
(``store.print_queue``) and wakes this thread; the thread prints queued
receipts in order and removes each only once the printer said it printed it.
When the printer cannot (paper out, cover open, off-line, unplugged) the
receipt stays queued, the lane is told (``DeviceState`` for the printer and
``ReceiptsPending`` for the cashier's screen), and the thread asks the printer
for its status every few seconds until it can print again. A receipt that may
be partly on paper already is printed again marked as a reprint; receipts
older than ``printer.pending_keep_min`` are dropped (logged): the customer has
long gone, and ``REPRINT`` still gives the last receipt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.ports import ReceiptPrinter
from firmware_app.lane.devices import FINE, Device, StateWord
from firmware_app.lane.events import DeviceState, Event, ReceiptsPending
from firmware_app.lane.receipt_builder import with_banner
from firmware_app.lane.rules import LaneSetup
from firmware_app.store.print_queue import Job, PrintQueue

log = logging.getLogger(__name__)

DEVICE = Device.PRINTER
RETRY_S = 2.0  # while receipts wait: ask the printer this often whether it is back
IDLE_STATUS_S = 10.0  # with nothing to print: ask this often, so the screen is right early


class ReceiptSpooler:
    """Prints the print queue on a thread of its own; ``post`` goes to the lane loop."""

    def __init__(
        self,
        printer: ReceiptPrinter,
        queue: PrintQueue,
        *,
        post: Callable[[Event], None],
        setup: LaneSetup,
        clock: Callable[[], datetime],
        keep: timedelta,
        status_check: bool = True,
        retry_s: float = RETRY_S,
        idle_status_s: float = IDLE_STATUS_S,
    ) -> None:
        self.printer = printer
        self.queue = queue
        self._post = post
        self._setup = setup
        self._clock = clock
        self._keep = keep
        self._status_check = status_check
        self._retry_s = retry_s
        self._idle_status_s = idle_status_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._asked = 1  # wake-ups asked for (the first look at start-up included)
        self._served = 0  # of those, how many a finished round has covered
        self._thread: threading.Thread | None = None
        self._state = ""  # the last printer state word posted
        self._pending = 0  # the last count posted
        self.printed = 0

    # --- any thread -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A receipt was queued (or the printer may be back): look now."""
        with self._lock:
            self._asked += 1
            self._wake.set()

    def idle(self) -> bool:
        """True when every wake-up so far has been served: what could print has printed
        (the rest waits for the printer)."""
        with self._lock:
            return self._served == self._asked

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                asked = self._asked
                self._wake.clear()
            try:
                wait = self._round()
            except Exception:
                log.exception("printing failed unexpectedly; trying again")
                wait = self._retry_s
            with self._lock:
                self._served = asked
            self._wake.wait(wait)

    def _round(self) -> float:
        """Print what can be printed; return how long to wait before the next look."""
        while not self._stop.is_set():
            job = self.queue.next()
            if job is None:
                self._count()
                if self._status_check:
                    self._check_status()
                return self._idle_status_s
            if self._clock() - job.created_at > self._keep:
                log.warning(
                    "receipt %d dropped: not printed within %s (printer %s)",
                    job.receipt.number,
                    self._keep,
                    self._state or "unknown",
                )
                self.queue.done(job.id)
                continue
            stuck = self._state not in ("", "ok", "paper_near_end")
            if stuck and self._status_check and not self._check_status():
                self._count()
                return self._retry_s
            if not self._print(job):
                self._count()
                return self._retry_s
            if self._pending:
                self._count()
        return 0.0

    def _print(self, job: Job) -> bool:
        receipt = job.receipt
        if job.reprint:
            receipt = with_banner(receipt, "reprint", self._setup)
        self.queue.attempt(job)
        try:
            status = self.printer.print_receipt(receipt)
        except DeviceError as e:
            partly = bool(getattr(e, "printed_partly", False))
            self.queue.failed(job, printed_partly=partly)
            log.error(
                "receipt %d not printed%s: %s",
                receipt.number,
                " (part of it may be on paper: it will print again as a reprint)" if partly else "",
                e,
            )
            self._set_state(getattr(e, "state", "error"), str(e))
            return False
        self.queue.done(job.id)
        self.printed += 1
        self._set_state(_state_of(status), "")
        return True

    def _check_status(self) -> bool:
        """Ask the printer; True when it can print."""
        try:
            status = self.printer.status()
        except DeviceError as e:
            self._set_state(getattr(e, "state", "error"), str(e))
            return False
        state = _state_of(status)
        self._set_state(state, getattr(status, "detail", ""))
        return state in ("ok", "paper_near_end")

    def _set_state(self, state: str, detail: str) -> None:
        if state != self._state:
            self._state = state
            word = StateWord(state)
            # Said here, once per change: the lane loop does not repeat device news.
            level = logging.INFO if word in FINE else logging.WARNING
            log.log(
                level, "printer: %s%s", state, f" ({' '.join(detail.split())})" if detail else ""
            )
            self._post(DeviceState(DEVICE, word, detail))

    def _count(self) -> None:
        """Tell the lane how many receipts wait, when that changed. Only receipts that
        could not print count: one printing normally is nobody's concern."""
        pending = self.queue.pending()
        if pending != self._pending:
            self._pending = pending
            self._post(ReceiptsPending(pending))


def _state_of(status: object) -> str:
    """The state word of a driver status (``None``: no status read, so ``ok``)."""
    return str(getattr(status, "state", "ok")) if status is not None else "ok"
