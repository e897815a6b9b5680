"""Key event sources for HID keyboards (the scanner and the POS keypad), and the
reader thread the scanner and keypad drivers share.

A ``KeySource`` hands out raw kernel key events. ``EvdevKeySource`` reads an
evdev node (``/dev/input/by-id/usb-…-event-kbd``); ``FdKeySource`` reads the
same binary ``struct input_event`` records from any file descriptor, which is
how hw_sim feeds the real decoders through a pipe where no ``/dev/uinput``
exists. ``HidInputDevice`` finds its node (``discovery``: by stable path or by
match), opens a source on it, grabs it, decodes its events in a thread, and
finds and reopens it when it disappears (hot-plug).
"""

from __future__ import annotations

import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from typing import ClassVar, NamedTuple, Protocol

import evdev

from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.discovery import (
    TYPING_KEYS,
    DeviceAmbiguous,
    DeviceConflict,
    InputDiscovery,
    Selector,
)
from firmware_app.drivers.errors import DeviceError, DeviceMissing
from firmware_app.drivers.ports import Emit
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event

log = logging.getLogger(__name__)

# struct input_event from linux/input.h: struct timeval (tv_sec, tv_usec as C
# longs), __u16 type, __u16 code, __s32 value; native layout, 24 bytes on 64-bit.
INPUT_EVENT = struct.Struct("llHHi")
_READ_RECORDS = 64  # records per read(), as evdev itself reads them


class KeyEvent(NamedTuple):
    """One raw input event: ``t`` is the kernel timestamp in seconds."""

    type: int
    code: int
    value: int
    t: float


def encode_input_event(type_: int, code: int, value: int, t: float) -> bytes:
    """The kernel's binary record for one event (``t`` in seconds since the epoch)."""
    sec, usec = divmod(round(t * 1_000_000), 1_000_000)
    return INPUT_EVENT.pack(sec, usec, type_, code, value)


def decode_input_events(data: bytes) -> tuple[list[KeyEvent], bytes]:
    """Split bytes into whole records; returns the events and the incomplete tail."""
    whole = len(data) - len(data) % INPUT_EVENT.size
    events = [
        KeyEvent(type_, code, value, sec + usec / 1_000_000)
        for sec, usec, type_, code, value in INPUT_EVENT.iter_unpack(data[:whole])
    ]
    return events, data[whole:]


class KeySource(Protocol):
    """A keyboard-like device delivering raw key events."""

    name: str
    path: str

    def fileno(self) -> int:
        """The descriptor to wait on with ``select``; readable when events are pending."""

    def read(self) -> list[KeyEvent]:
        """The events pending now (possibly none); raises ``DeviceMissing`` when gone."""

    def grab(self) -> None:
        """Become the only reader, so keystrokes never reach a console or a shell."""

    def close(self) -> None:
        """Release the device. Idempotent."""


SourceFactory = Callable[[str], KeySource]


def state_word(error: Exception) -> StateWord:
    """The ``DeviceState`` word for why a HID device cannot be read."""
    if isinstance(error, DeviceAmbiguous):
        return StateWord.AMBIGUOUS  # several devices fit the match: none is grabbed
    if isinstance(error, DeviceConflict):
        return StateWord.CONFLICT  # the scanner and the keypad were set up on one device
    if isinstance(error, DeviceMissing):
        return StateWord.MISSING
    return StateWord.ERROR


class EvdevKeySource:
    """A kernel input node read through python-evdev."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._device = evdev.InputDevice(path)
        except OSError as e:
            raise DeviceMissing(f"{path}: {e.strerror or e}") from e
        self.name: str = self._device.name

    def fileno(self) -> int:
        return self._device.fileno()

    def read(self) -> list[KeyEvent]:
        try:
            return [
                KeyEvent(ev.type, ev.code, ev.value, ev.timestamp()) for ev in self._device.read()
            ]
        except BlockingIOError:
            return []
        except OSError as e:  # ENODEV: the cable was pulled
            raise DeviceMissing(f"{self.path}: {e.strerror or e}") from e

    def grab(self) -> None:
        try:
            self._device.grab()
        except OSError as e:
            if e.errno == errno.EBUSY:
                raise DeviceError(f"{self.path}: grabbed by another program") from e
            raise DeviceMissing(f"{self.path}: {e.strerror or e}") from e

    def close(self) -> None:
        # evdev's close() is idempotent; the grab ends with the descriptor.
        self._device.close()

    def __repr__(self) -> str:
        return f"EvdevKeySource({self.path!r})"


class FdKeySource:
    """``struct input_event`` records read from a file descriptor (a pipe).

    Owns ``fd`` and closes it. End of file means the device was unplugged.
    """

    def __init__(self, fd: int, name: str, *, path: str = "") -> None:
        self._fd = fd
        self.name = name
        self.path = path or name
        self._tail = b""  # a pipe may deliver half a record
        self.grabbed = False
        os.set_blocking(fd, False)

    def fileno(self) -> int:
        return self._fd

    def read(self) -> list[KeyEvent]:
        try:
            data = os.read(self._fd, INPUT_EVENT.size * _READ_RECORDS)
        except BlockingIOError:
            return []
        except OSError as e:
            raise DeviceMissing(f"{self.path}: {e.strerror or e}") from e
        if not data:
            raise DeviceMissing(f"{self.path}: unplugged (end of stream)")
        events, self._tail = decode_input_events(self._tail + data)
        return events

    def grab(self) -> None:
        # Nobody else can read our end of a pipe; remember the call for tests.
        self.grabbed = True

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __repr__(self) -> str:
        return f"FdKeySource({self.path!r})"


class HidInputDevice(Closeable):
    """An ``InputDevice`` over a ``KeySource``: extends ``Closeable`` with a reader
    thread that locates the device, opens the source, grabs it, decodes its events,
    and locates and reopens it every ``retry_s`` seconds while it is missing (so a
    device re-plugged under another ``/dev/input/eventN`` is found again through its
    match or its by-id link).

    The device is ``match`` when set (``name:GLOB``, ``usb:VVVV:PPPP``), else
    ``path``; ``discovery`` resolves it, shared with the lane's other HID devices so
    that two of them never read one node (None: a discovery of its own, which
    checks nothing against other devices). ``source_factory(path)`` opens the node
    discovery found (the configured path itself when there is no match); a matching
    node that declares none of ``keys`` (the keys the subclass decodes) is passed by.

    Subclasses add the decoding (``_decode``) and name the device for
    ``DeviceState`` events (``device``). Health changes are emitted once per change:
    ``OK`` when the source opens; ``MISSING``, ``AMBIGUOUS``, ``CONFLICT`` or
    ``ERROR`` (see ``state_word``) with the selector and the reason when it cannot
    be opened or disappears. A disappearing source is reported at once.
    """

    device: ClassVar[Device]

    def __init__(
        self,
        path: str,
        *,
        grab: bool,
        source_factory: SourceFactory,
        retry_s: float,
        match: str = "",
        keys: frozenset[int] = TYPING_KEYS,
        discovery: InputDiscovery | None = None,
    ) -> None:
        super().__init__()
        self.what = self.device.value
        self.path = path
        self.selector = Selector(path, match, keys)  # a bad match raises ValueError here
        self._discovery = discovery if discovery is not None else InputDiscovery()
        self._discovery.register(self.device.value, self.selector)
        self._grab = grab
        self._source_factory = source_factory
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None  # lets close() interrupt select()
        self._emit: Emit | None = None
        self._state: StateWord | None = None

    # --- what subclasses provide ----------------------------------------------------

    def _decode(self, event: KeyEvent) -> Event | None:
        """The lane event for one raw event, if it completes one."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Forget half-decoded input: the source was (re)opened."""

    @property
    def state(self) -> StateWord | None:
        """The last health reported: None before the first attempt."""
        return self._state

    # --- InputDevice -------------------------------------------------------------------

    def start(self, emit: Emit) -> None:
        """Start the reader thread; events go to ``emit``."""
        self._check_open()
        if self._thread is not None:
            raise DeviceError(f"{self.device.value} already started")
        self._emit = emit
        self._wake = os.pipe()
        self._thread = threading.Thread(
            target=self._run, name=f"{self.device.value}-reader", daemon=True
        )
        self._thread.start()

    def _release(self) -> None:
        """Stop the thread and release the device."""
        self._stop.set()
        self._discovery.unregister(self.device.value)
        thread, self._thread = self._thread, None
        if thread is None:
            return
        assert self._wake is not None
        os.write(self._wake[1], b"x")
        thread.join(timeout=2.0)
        if thread.is_alive():  # stuck in emit(); leave its descriptors to it
            log.warning("%s reader did not stop within 2 s", self.device.value)
            return
        for fd in self._wake:
            os.close(fd)
        self._wake = None

    # --- the reader thread -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            source = self._open()
            if source is None:
                self._stop.wait(self._retry_s)
                continue
            try:
                self._pump(source)
                continue  # close() was called
            except DeviceMissing as e:
                self._set_state(StateWord.MISSING, self._detail(e))
            except Exception as e:  # never let the thread die: report and reopen
                log.exception("%s reader failed", self.device)
                self._set_state(StateWord.ERROR, self._detail(e))
            finally:
                source.close()
            self._stop.wait(self._retry_s)  # a failing device must not spin the CPU

    def _open(self) -> KeySource | None:
        """The opened (and grabbed) source, or None after reporting why not.

        Discovery runs again on every attempt: the node may have a new number now.
        """
        try:
            location = self._discovery.locate(self.device.value)
            source = self._source_factory(location.path)
        except Exception as e:
            if not isinstance(e, DeviceError):
                log.debug("%s: cannot open %s", self.device, self.selector, exc_info=True)
            self._set_state(state_word(e), self._detail(e))
            return None
        try:
            if self._grab:
                source.grab()
        except Exception as e:
            source.close()
            self._set_state(state_word(e), self._detail(e))
            return None
        self._reset()
        log.info("%s: reading %s (%s)", self.device, location, source.name)
        self._set_state(StateWord.OK)
        return source

    def _pump(self, source: KeySource) -> None:
        """Read and decode until close() or until the source disappears."""
        assert self._wake is not None
        wake = self._wake[0]
        while not self._stop.is_set():
            ready, _, _ = select.select([source.fileno(), wake], [], [])
            if wake in ready:
                return
            for event in source.read():
                self._handle(event)

    def _handle(self, event: KeyEvent) -> None:
        # A device may send anything: a bad event is logged and skipped.
        try:
            lane_event = self._decode(event)
        except Exception:
            log.exception("%s: event %s not decoded", self.device, event)
            return
        if lane_event is not None:
            self._send(lane_event)

    def _detail(self, error: Exception) -> str:
        """The error, naming the configured path or match so a technician knows which
        cable or which line of the config."""
        text = str(error) or type(error).__name__
        named = str(self.selector)
        return text if named in text else f"{named}: {text}"

    def _set_state(self, state: StateWord, detail: str = "") -> None:
        if state is self._state:
            return
        self._state = state
        level = logging.INFO if state is StateWord.OK else logging.WARNING
        log.log(level, "%s %s %s", self.device.value, state.value, detail)
        self._send(DeviceState(self.device, state, detail))

    def _send(self, event: Event) -> None:
        assert self._emit is not None
        try:
            self._emit(event)
        except Exception:
            log.exception("%s: emit failed for %s", self.device, event)
