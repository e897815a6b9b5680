"""The lane loop: one queue, one writer.

Drivers, the payment terminal and the sync thread only ``post`` events; this
loop takes them one at a time, asks the core for the new state and effects,
commits the durable effects in one transaction, and only then drives devices.
The payment log's lines go first, in a transaction of their own: an approval
reaches the disk even when its sale cannot. When saving fails, nothing is
driven, and the core hears of it (``SaveFailed``) with its previous state.

A scanned line is saved before the basket is priced again: the core's outcome is
committed first, then the pricing engine works out the promotions (``machine.
price_after``), whose new discounts reach the disk with the sale's next write. So a
line is durable as soon as it is scanned, however long the promotions take; every
tender, suspend and commit writes the priced sale, and a sale restored at start is
priced again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from firmware_app.app.displays import Display
from firmware_app.app.spooler import ReceiptSpooler
from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.payment import PaymentTerminal
from firmware_app.drivers.ports import CashDrawer
from firmware_app.lane.context import Outcome
from firmware_app.lane.devices import Device, StateWord, wire
from firmware_app.lane.effects import (
    DURABLE,
    AskMember,
    CommitSale,
    Effect,
    KickDrawer,
    LogPayment,
    MemberIgnored,
    PrintReceipt,
    RecordEvent,
    RequestPayment,
    ReversePayment,
    SendScaleCommand,
)
from firmware_app.lane.events import (
    DeviceState,
    Event,
    KeyPressed,
    PaymentResult,
    SaveFailed,
    Scanned,
    Tick,
)
from firmware_app.lane.machine import handle, handle_event, price_after, price_open_sale
from firmware_app.lane.ports import Ports
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.lane.weighing import ScaleCommand
from firmware_app.store.sales import SalesStore

log = logging.getLogger(__name__)

TICK_S = 0.5


class Scale(Protocol):
    def zero(self) -> None: ...

    def tare(self) -> None: ...

    def clear_tare(self) -> None: ...


class Uplink(Protocol):
    def wake(self) -> None: ...

    def status_changed(self) -> None: ...

    def ask_member(self, request_id: str, member: str) -> None: ...  # members


class Inbox:
    """The lane's one event queue: drivers, the terminal, the spooler and the sync thread
    ``post`` to it from their threads; only the lane loop takes from it. Made before
    anything that posts, so the composition root can build every part whole."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event] = queue.Queue()

    def post(self, event: Event) -> None:
        """Queue an event; safe from any thread."""
        self._queue.put(event)

    def idle(self) -> bool:
        """True when every event posted so far has been handled."""
        return self._queue.unfinished_tasks == 0

    def take(self, timeout_s: float) -> Event | None:
        """The next event, or None after ``timeout_s``; ``done`` once it is handled."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def done(self) -> None:
        self._queue.task_done()


class LaneLoop:
    """The lane controller: it owns the state, takes events from the inbox, and drives
    the effects. Built whole by the composition root (``bootstrap``): ``printer`` is the
    receipt spooler and ``uplink`` the sync service, or None without them."""

    def __init__(
        self,
        *,
        inbox: Inbox,
        setup: LaneSetup,
        ports: Ports,
        sales: SalesStore,
        display: Display,
        printer: ReceiptSpooler | None,
        drawer: CashDrawer | None,
        terminal: PaymentTerminal,
        clock: Callable[[], datetime],
        initial: LaneState,
        scale: Scale | None = None,
        uplink: Uplink | None = None,
    ) -> None:
        self.inbox = inbox
        self.setup = setup
        self.ports = ports
        self.sales = sales
        self.display = display
        self.printer = printer
        self.drawer = drawer
        self.terminal = terminal
        self.scale = scale
        self.uplink = uplink
        self.clock = clock
        # An open sale restored at start is priced now: its promotions on disk may be
        # one write behind (see ``_price``), or the catalog may have changed.
        self.state = initial
        try:
            self.state = price_open_sale(initial, clock(), ports, setup)
        except Exception:
            log.exception("pricing the restored sale failed; it keeps the prices it was saved with")
        self.counts = {"key": 0, "scan": 0, "event": 0}
        # Saving fails (a full disk): logged in full once, until it works again.
        self._save_failing = False

    # --- input --------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """Queue an event; safe from any thread."""
        self.inbox.post(event)

    def idle(self) -> bool:
        """True when every event posted so far has been handled."""
        return self.inbox.idle()

    def device_states(self) -> dict[str, str]:
        """Each device's state word, as the status carries it (safe from any thread:
        the state is immutable)."""
        return wire(self.state.devices)

    # --- the loop -------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        *,
        on_tick: Callable[[], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        """Handle events until ``stop`` is set. ``heartbeat`` is called on every turn
        (systemd's watchdog ping: at least every ``TICK_S`` when idle) and must not raise;
        ``on_tick`` after each idle tick."""
        self.display.show(self.state)
        while not stop.is_set():
            if heartbeat is not None:
                heartbeat()
            event = self.inbox.take(TICK_S)
            if event is None:
                self.step(Tick())
                if on_tick is not None:
                    on_tick()
                continue
            try:
                self.step(event)
            finally:
                self.inbox.done()

    def step(self, event: Event) -> None:
        """Handle one event: never raises, whatever the event or a device does."""
        self._count(event)
        before = self.state
        try:
            now = self.clock()
            new_state, effects = handle_event(before, event, now, self.ports, self.setup)
        except Exception:
            log.exception("lane core failed on %r; state kept", event)
            return
        if self._commit(new_state, effects, now):
            self._price(before, (new_state, effects), event, now)
            self._drive(effects)
        else:
            self._save_failed(event, now)
        if isinstance(event, DeviceState) and self.state.devices != before.devices:
            self._device_changed(event)
        self._log_refusal(event)
        self.display.show(self.state)

    def _price(self, before: LaneState, outcome: Outcome, event: Event, now: datetime) -> None:
        """The open sale priced again once the step is saved (``machine.price_after``).
        Its lines' new discounts reach the disk with the sale's next write (the next
        scan, a void, the tender, a suspend); a sale restored at start is priced again,
        so what a power cut leaves on disk never shows. Nothing paid is ever priced here:
        a sale with money taken keeps its prices."""
        try:
            self.state, _ = price_after(before, outcome, event, now, self.ports, self.setup)
        except Exception:
            log.exception("pricing failed after %r; the sale keeps its earlier prices", event)

    def _count(self, event: Event) -> None:
        kind = (
            "key"
            if isinstance(event, KeyPressed)
            else "scan"
            if isinstance(event, Scanned)
            else "event"
        )
        self.counts[kind] += 1

    def _commit(self, new_state: LaneState, effects: tuple[Effect, ...], now: datetime) -> bool:
        logged: list[Effect] = [e for e in effects if isinstance(e, LogPayment)]
        durable: list[Effect] = [
            e for e in effects if isinstance(e, DURABLE) and not isinstance(e, LogPayment)
        ]
        if self.printer is not None:
            # The receipt is owed with the sale: queued in the same transaction.
            durable += [e for e in effects if isinstance(e, PrintReceipt)]
        saved = self._save(logged, now) if logged else True
        if durable:
            # Once the sale is saved it holds the terminal's answer itself, so a log
            # line that could not be written is no reason to undo the step.
            saved = self._save(durable, now)
        if not saved:
            self._save_failing = True
            return False
        if self._save_failing:
            log.warning("saving works again")
            self._save_failing = False
        self.state = new_state
        if any(isinstance(e, CommitSale | RecordEvent) for e in durable) and self.uplink:
            self.uplink.wake()
        return True

    def _save(self, effects: list[Effect], now: datetime) -> bool:
        try:
            self.sales.apply(effects, at=now)
        except Exception:
            names = [type(e).__name__ for e in effects]
            if self._save_failing:
                log.debug("still cannot save %s", names, exc_info=True)
            else:
                log.exception("could not save %s; the lane keeps its previous state", names)
            return False
        return True

    def _save_failed(self, event: Event, now: datetime) -> None:
        """Tell the core; what it answers is only a state: nothing is driven."""
        try:
            self.state, _ = handle(self.state, SaveFailed(event), now, self.ports, self.setup)
        except Exception:
            log.exception("lane core failed on a failed save of %r; state kept", event)

    def _drive(self, effects: tuple[Effect, ...]) -> None:
        for effect in effects:
            try:
                match effect:
                    case KickDrawer():
                        self._kick()
                    case PrintReceipt():
                        self._print()
                    case RequestPayment() | ReversePayment():
                        self._pay(effect)
                    case SendScaleCommand(command=command):
                        self._scale_command(command)
                    # Members: a live question to the store server; an answer ignored.
                    case AskMember():
                        self._ask_member(effect)
                    case MemberIgnored(request_id=request_id, why=why):
                        log.info("member answer for request %s ignored: %s", request_id, why)
            except Exception:
                log.exception("effect %s failed", type(effect).__name__)

    def _kick(self) -> None:
        if self.drawer is None:
            log.warning("drawer kick asked, but no drawer is configured")
            return
        try:
            self.drawer.kick()
        except DeviceError as e:
            log.error("drawer: %s", e)
            self.post(DeviceState(Device.DRAWER, StateWord.ERROR, str(e)))

    def _print(self) -> None:
        if self.printer is None:
            log.info("no printer configured; receipt not printed")
            return
        self.printer.wake()  # the receipt is in the print queue already

    def _ask_member(self, effect: AskMember) -> None:
        if self.uplink is None:
            log.info("member not asked (no uplink): it stays unverified")
            return
        self.uplink.ask_member(effect.request_id, effect.member)

    def _scale_command(self, command: ScaleCommand) -> None:
        if self.scale is None:
            log.warning("scale %s asked, but no scale is configured", command.value)
            return
        press = {
            ScaleCommand.ZERO: self.scale.zero,
            ScaleCommand.TARE: self.scale.tare,
            ScaleCommand.CLEAR_TARE: self.scale.clear_tare,
        }[command]
        try:
            press()
        except DeviceError as e:
            log.error("scale %s: %s", command.value, e)

    def _pay(self, effect: RequestPayment | ReversePayment) -> None:
        """Ask the terminal in a thread of its own; its answer comes back as an event."""
        request_id = effect.request_id

        def call() -> PaymentResult:
            if isinstance(effect, ReversePayment):
                return self.terminal.reverse(
                    request_id, effect.tender, effect.amount, effect.reference
                )
            if effect.amount < 0:  # returns: a refund to the card or mobile account
                return self.terminal.refund(request_id, effect.tender, -effect.amount)
            return self.terminal.request(request_id, effect.tender, effect.amount)

        def ask() -> None:
            try:
                result = call()
            except Exception as e:  # a terminal fault is a decline, never a hung lane
                log.exception("payment terminal failed")
                result = PaymentResult(request_id, approved=False, reason=str(e)[:40])
            log.info(
                "terminal: %s %s %s",
                request_id,
                "approved" if result.approved else "declined",
                result.reference or result.reason,
            )
            self.post(result)

        threading.Thread(target=ask, name="payment", daemon=True).start()

    def _device_changed(self, event: DeviceState) -> None:
        # The adapter that saw it has said it, with its details, advice and reminders
        # (the drivers, the spooler, the sync thread): here only for a debug trace.
        log.debug("%s: %s %s", event.device, event.state, event.detail)
        if self.uplink:
            self.uplink.status_changed()

    def _log_refusal(self, event: Event) -> None:
        """Technicians see the reason behind a cashier's short message."""
        message = self.state.message
        if message is not None and isinstance(event, KeyPressed | Scanned):
            reason = message.arg("reason")
            if reason:
                log.warning("%r refused: %s", event, reason)
