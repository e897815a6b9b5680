"""Is the lane's clock to be trusted? NTP synchronisation and wall-clock jumps.

Every sale, journal entry and MQTT message carries the wall-clock time with its
UTC offset (``2026-11-28T13:20:01.250+08:00``). A Raspberry Pi has no battery
clock: it boots at the time ``fake-hwclock`` last saved (or 1970) and is stepped
to the right time when NTP first answers. Two things can make sale times wrong:

- the clock is **unsynchronised**: the kernel says so while no NTP daemon has
  disciplined it (``adjtimex`` returns ``TIME_ERROR``, as ``timedatectl``'s
  "System clock synchronized: no" reads it);
- the clock **jumped**: wall time moved differently from the monotonic clock
  (NTP stepping a wrong clock, someone running ``date -s``). ``ClockWatch`` sees
  it by comparing the two between samples.

Both are pure or injectable: ``ntp_synchronized`` takes the ``adjtimex`` call,
``ClockWatch`` is fed (wall, monotonic) samples and never reads a clock itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised (STA_UNSYNC)
TIMEX_BUFFER = 512  # bytes; struct timex is 208 on 64-bit Linux: room for any ABI
JUMP_THRESHOLD_S = 2.0  # NTP slews at most 0.5 ms/s: 2 s between samples is a step
JUMP_HOLD_S = 600.0  # a jump is reported this long after it happened

# The clock states the lane reports in its status (``devices["clock"]``).
CLOCK_OK = "ok"
CLOCK_UNSYNCED = "unsynced"
CLOCK_JUMPED = "jumped"

Adjtimex = Callable[[], int]  # the clock state adjtimex(2) returns; -1 on error


def _libc_adjtimex() -> int:
    """Linux ``adjtimex`` with ``modes = 0``: reads the kernel's clock state, changes
    nothing, needs no privilege. Only the return value (the state) is used, so the
    buffer need only be large enough for ``struct timex`` on any ABI."""
    name = ctypes.util.find_library("c")
    if name is None:
        return -1
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        call = libc.adjtimex
    except (OSError, AttributeError):
        return -1  # not Linux
    buffer = ctypes.create_string_buffer(TIMEX_BUFFER)  # zeroed: modes = 0, read only
    return int(call(buffer))


def ntp_synchronized(*, adjtimex: Adjtimex = _libc_adjtimex) -> bool | None:
    """True when the kernel's clock is synchronised (an NTP daemon disciplines it),
    False when it says it is not (``TIME_ERROR``), None when that cannot be told
    (not Linux, or the call failed)."""
    try:
        state = adjtimex()
    except OSError:
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


def boottime() -> float:
    """Seconds on a clock that never jumps and, unlike ``time.monotonic``, keeps
    counting while the machine is suspended (so a suspend is not taken for a jump)."""
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is None:
        return time.monotonic()
    return time.clock_gettime(clock_id)


@dataclass(frozen=True)
class ClockJump:
    """The wall clock moved ``seconds`` more than the monotonic clock between two
    samples (negative: it went back); ``at_wall`` is the wall time after the jump
    (seconds since the epoch), ``at`` the monotonic time it was seen."""

    seconds: float
    at_wall: float
    at: float

    def __str__(self) -> str:
        direction = "forward" if self.seconds > 0 else "back"
        return f"wall clock jumped {abs(self.seconds):.1f} s {direction}"


class ClockWatch:
    """Sees wall-clock jumps from (wall, monotonic) samples, in seconds.

    Between two samples the wall clock should advance as much as the monotonic one;
    a difference beyond ``threshold_s`` is a jump (an NTP step, ``date -s``). Slewing
    (at most 500 ppm) never reaches it. Feed it now and then (every tick of the lane
    loop, or once a minute); a gap between samples changes nothing but how late a
    jump is seen. ``state`` is ``jumped`` for ``hold_s`` after the last jump, so a
    reader polling less often still sees it.
    """

    def __init__(
        self, *, threshold_s: float = JUMP_THRESHOLD_S, hold_s: float = JUMP_HOLD_S
    ) -> None:
        if threshold_s <= 0:
            raise ValueError(f"threshold_s must be positive, got {threshold_s}")
        self.threshold_s = threshold_s
        self.hold_s = hold_s
        self._last: tuple[float, float] | None = None
        self.last_jump: ClockJump | None = None
        self.jumps = 0

    def observe(self, wall: float, monotonic: float) -> ClockJump | None:
        """Take one sample; the jump since the previous sample, if there was one."""
        last, self._last = self._last, (wall, monotonic)
        if last is None:
            return None
        drift = (wall - last[0]) - (monotonic - last[1])
        if abs(drift) <= self.threshold_s:
            return None
        jump = ClockJump(seconds=drift, at_wall=wall, at=monotonic)
        self.last_jump = jump
        self.jumps += 1
        return jump

    def jumped(self, monotonic: float) -> bool:
        """True while the last jump is less than ``hold_s`` old at ``monotonic``."""
        jump = self.last_jump
        return jump is not None and monotonic - jump.at < self.hold_s


def clock_state(synchronized: bool | None, watch: ClockWatch, monotonic: float) -> str:
    """The one word the lane's status gives its clock: ``jumped`` (a recent jump: sale
    times around it are suspect), ``unsynced`` (no NTP), else ``ok`` (an unknown
    synchronisation is not reported as a fault)."""
    if watch.jumped(monotonic):
        return CLOCK_JUMPED
    if synchronized is False:
        return CLOCK_UNSYNCED
    return CLOCK_OK
