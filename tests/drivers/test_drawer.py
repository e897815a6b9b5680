"""GpioDrawer against gpiozero's MockFactory pins and hw_sim's SimulatedDrawer.

Time is the driver's injected ``clock`` and ``sleep`` (``FakeTime``): a pulse is
what ``sleep`` was asked to hold with the kick line on, and a kick confirmation
times out only when the test lets the clock run (``FakeTime.run_out``), so no test
waits on real time for either. The outcome is awaited through the
``KickConfirmation``; one test checks that the default clock gives a real pulse.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gpiozero import DigitalInputDevice, DigitalOutputDevice
from gpiozero.exc import PinInvalidState
from gpiozero.pins.mock import MockFactory, MockPin

from firmware_app.config import DrawerConfig
from firmware_app.drivers import drawer as drawer_module
from firmware_app.drivers.drawer import (
    MAX_PULSE_MS,
    DrawerJammed,
    DrawerStatistics,
    GpioDrawer,
    KickOutcome,
)
from firmware_app.drivers.errors import DeviceClosed, DrawerError
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, DrawerSwitch, Event
from hw_sim.drawer import SimulatedDrawer

KICK, SWITCH = 17, 27
LATE_S = 0.06  # how late a sleeping thread may wake on a busy 2-core machine
CONFIRM_MS = 100  # short, so a jam (two confirm times) is known in a quarter second
WAIT_S = 2.0

OPENED = [DrawerSwitch(True), DeviceState(Device.DRAWER, StateWord.OPEN)]
SHUT = [DrawerSwitch(False), DeviceState(Device.DRAWER, StateWord.CLOSED)]


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


class FakeTime:
    """The drawer's ``clock`` and ``sleep``, in the test's hands.

    ``sleep`` holds no time: it records each pulse as (seconds, the kick pin's level
    meanwhile) and moves the clock on by as much. The clock stands still otherwise,
    so a kick's confirmation waits until the switch shows open; after ``run_out()``
    every reading of it is an hour later than the last, so each wait for the switch
    times out at its first look and a jam is known at once.
    """

    def __init__(self, factory: MockFactory) -> None:
        self._factory = factory  # the kick pin is looked up when pulsed: a sim may own it
        self.now = 1000.0
        self.step = 0.0
        self.pulses: list[tuple[float, bool]] = []

    def clock(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pulses.append((seconds, self._factory.pin(KICK).state))
        self.now += seconds

    def run_out(self) -> None:
        self.step = 3600.0


@pytest.fixture
def fake(factory: MockFactory) -> FakeTime:
    return FakeTime(factory)


def gpio_drawer(cfg: DrawerConfig, factory: MockFactory, fake: FakeTime) -> GpioDrawer:
    return GpioDrawer(cfg, pin_factory=factory, clock=fake.clock, sleep=fake.sleep)


def config(**changes: object) -> DrawerConfig:
    base = DrawerConfig(pulse_ms=20, confirm_ms=CONFIRM_MS)
    return replace(base, **changes)  # type: ignore[arg-type]


def levels(pin: MockPin) -> list[bool]:
    return [s.state for s in pin.states]


# ---- kick ----


def test_kick_gives_one_pulse_of_pulse_ms(factory: MockFactory, fake: FakeTime) -> None:
    with gpio_drawer(config(pulse_ms=100), factory, fake) as drawer:
        pin = factory.pin(KICK)
        pin.clear_states()
        drawer.kick()
        assert fake.pulses == [(0.100, True)]  # held 100 ms with the line on
        assert levels(pin) == [False, True, False] and pin.state is False


def test_active_low_kick_inverts_the_levels(factory: MockFactory, fake: FakeTime) -> None:
    with gpio_drawer(config(kick_active_high=False), factory, fake) as drawer:
        pin = factory.pin(KICK)
        assert pin.state is True  # off is high from the moment the pin is claimed
        pin.clear_states()
        drawer.kick()
        assert fake.pulses == [(0.020, False)]
        assert levels(pin) == [True, False, True] and pin.state is True


def test_pulse_is_capped_at_500_ms_whatever_the_config_says(
    factory: MockFactory, fake: FakeTime
) -> None:
    with gpio_drawer(DrawerConfig(pulse_ms=900), factory, fake) as drawer:
        assert drawer.pulse_ms == MAX_PULSE_MS == 500
        drawer.kick()
        assert fake.pulses == [(0.500, True)]


def test_two_kicks_are_two_pulses(factory: MockFactory, fake: FakeTime) -> None:
    with gpio_drawer(config(), factory, fake) as drawer:
        pin = factory.pin(KICK)
        pin.clear_states()
        drawer.kick()
        drawer.kick()
        assert levels(pin) == [False, True, False, True, False]
        assert fake.pulses == [(0.020, True), (0.020, True)]


def test_without_injection_the_pulse_is_real_time(factory: MockFactory) -> None:
    # MockPin.states holds the seconds since the previous change: the pulse's width.
    with GpioDrawer(config(pulse_ms=20), pin_factory=factory) as drawer:
        pin = factory.pin(KICK)
        pin.clear_states()
        drawer.kick()
        assert levels(pin) == [False, True, False]
        width = pin.states[2].timestamp
        assert 0.020 <= width < 0.020 + LATE_S, f"pulse lasted {width * 1000:.1f} ms"


@pytest.mark.parametrize("pulse_ms", [0, -5])
def test_non_positive_pulse_is_refused(factory: MockFactory, pulse_ms: int) -> None:
    with pytest.raises(DrawerError, match="pulse_ms"):
        GpioDrawer(config(pulse_ms=pulse_ms), pin_factory=factory)


def test_interrupted_pulse_still_ends_off(factory: MockFactory) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with GpioDrawer(config(), pin_factory=factory, sleep=interrupted) as drawer:
        with pytest.raises(KeyboardInterrupt):
            drawer.kick()
        assert factory.pin(KICK).state is False


class RefusesHighPin(MockPin):
    """A kick line whose driver fails when asked to go high."""

    def _set_state(self, value: object) -> None:
        if value and self._function == "output":
            raise PinInvalidState("driver fault")
        super()._set_state(value)


def test_failing_kick_pin_raises_drawer_error_and_stays_off(factory: MockFactory) -> None:
    factory.pin(KICK, pin_class=RefusesHighPin)
    with GpioDrawer(config(), pin_factory=factory, sleep=FakeTime(factory).sleep) as drawer:
        with pytest.raises(DrawerError, match="GPIO17") as caught:
            drawer.kick()
        assert isinstance(caught.value.__cause__, PinInvalidState)
        assert factory.pin(KICK).state is False


# ---- switch ----


@pytest.mark.parametrize(
    ("open_when_switch", "open_level"),
    [("open", True), ("closed", False)],  # pull-up: an open contact reads high
)
def test_switch_polarity(factory: MockFactory, open_when_switch: str, open_level: bool) -> None:
    with GpioDrawer(config(open_when_switch=open_when_switch), pin_factory=factory) as drawer:
        pin = factory.pin(SWITCH)
        assert pin.pull == "up"
        drive(pin, open_level)
        assert drawer.is_open is True
        drive(pin, not open_level)
        assert drawer.is_open is False


def drive(pin: MockPin, level: bool) -> None:
    if level:
        pin.drive_high()
    else:
        pin.drive_low()


def test_bad_polarity_word_is_refused(factory: MockFactory) -> None:
    with pytest.raises(DrawerError, match="open_when_switch"):
        GpioDrawer(config(open_when_switch="ajar"), pin_factory=factory)


def test_start_reports_the_state_then_each_change(factory: MockFactory) -> None:
    events: list[Event] = []
    with GpioDrawer(config(), pin_factory=factory) as drawer:
        pin = factory.pin(SWITCH)
        pin.drive_low()  # contact closed: shut, with the default polarity
        drawer.start(events.append)
        assert events == SHUT
        pin.drive_high()
        pin.drive_low()
        assert events == SHUT + OPENED + SHUT


def test_a_new_listener_hears_the_current_state(factory: MockFactory) -> None:
    first: list[Event] = []
    second: list[Event] = []
    with GpioDrawer(config(), pin_factory=factory) as drawer:
        drawer.start(first.append)
        drawer.start(second.append)
        factory.pin(SWITCH).drive_low()
    assert first == OPENED  # pull-up, nothing on the line: contact open
    assert second == OPENED + SHUT


def test_nothing_is_reported_after_close(factory: MockFactory) -> None:
    events: list[Event] = []
    drawer = GpioDrawer(config(), pin_factory=factory)
    drawer.start(events.append)
    drawer.close()
    factory.pin(SWITCH).drive_low()
    assert events == OPENED


# ---- with the simulated drawer ----

POLARITIES = [
    pytest.param((active_high, when), id=f"active_high={active_high}-open_when={when}")
    for active_high in (True, False)
    for when in ("open", "closed")
]


@pytest.fixture(params=POLARITIES)
def lane(
    request: pytest.FixtureRequest, factory: MockFactory, fake: FakeTime
) -> Iterator[tuple[SimulatedDrawer, GpioDrawer, list[Event]]]:
    active_high, when = request.param
    cfg = config(kick_active_high=active_high, open_when_switch=when)
    events: list[Event] = []
    with SimulatedDrawer(factory, cfg) as sim, gpio_drawer(cfg, factory, fake) as drawer:
        drawer.start(events.append)
        yield sim, drawer, events


def test_sim_starts_shut(lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]]) -> None:
    sim, drawer, events = lane
    assert not sim.is_open
    assert not drawer.is_open
    assert events == SHUT


def test_kick_opens_the_sim_drawer(lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]]) -> None:
    sim, drawer, events = lane
    drawer.kick()
    assert sim.kicks == 1
    assert sim.is_open and drawer.is_open
    assert events == SHUT + OPENED


def test_cashier_pushes_it_shut(lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]]) -> None:
    sim, drawer, events = lane
    drawer.kick()
    sim.close_drawer()
    assert not sim.is_open and not drawer.is_open
    assert events == SHUT + OPENED + SHUT


def test_a_kick_that_opens_is_confirmed_at_once(
    lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]],
) -> None:
    sim, drawer, _ = lane
    assert drawer.kick().result(WAIT_S) is KickOutcome.OPENED
    assert sim.kicks == 1
    assert drawer.statistics == DrawerStatistics(good_open_count=1, pulse_count=1)


def test_one_jammed_kick_is_recovered_by_the_retry(
    lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]], fake: FakeTime
) -> None:
    sim, drawer, events = lane
    sim.jam()
    confirmation = drawer.kick()
    assert sim.kicks == 1 and not drawer.is_open  # the clock stands: no retry yet
    assert not sim.jammed  # the jam clears with that kick
    assert confirmation.outcome is None
    fake.run_out()
    assert confirmation.result(WAIT_S) is KickOutcome.OPENED_ON_RETRY
    assert sim.kicks == 2
    assert events == SHUT + OPENED  # no "jammed" on the way
    assert drawer.statistics == DrawerStatistics(
        good_open_count=1, retried_open_count=1, pulse_count=2
    )


def test_two_jammed_kicks_report_jammed(
    lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]], fake: FakeTime
) -> None:
    sim, drawer, events = lane
    sim.jam(kicks=2)
    fake.run_out()
    confirmation = drawer.kick()
    assert confirmation.wait(WAIT_S) is KickOutcome.JAMMED
    with pytest.raises(DrawerJammed, match="not open 100 ms after each of two kicks"):
        confirmation.result()
    assert sim.kicks == 2
    assert events == [*SHUT, DeviceState(Device.DRAWER, StateWord.JAMMED, confirmation.detail)]
    assert "GPIO17" in confirmation.detail and "GPIO27" in confirmation.detail
    assert drawer.statistics == DrawerStatistics(failed_open_count=1, pulse_count=2)
    # freed, the next kick opens it and the lane hears the drawer is fine again
    assert drawer.kick().result(WAIT_S) is KickOutcome.OPENED
    assert events[-2:] == OPENED
    assert drawer.statistics.good_open_count == 1


@pytest.fixture
def plain(
    factory: MockFactory, fake: FakeTime
) -> Iterator[tuple[SimulatedDrawer, GpioDrawer, list[Event]]]:
    """The simulated drawer with the default polarities, for what polarity cannot change."""
    events: list[Event] = []
    with SimulatedDrawer(factory, config()) as sim, gpio_drawer(config(), factory, fake) as d:
        d.start(events.append)
        yield sim, d, events


def test_a_lasting_jam_stays_jammed_until_freed(
    plain: tuple[SimulatedDrawer, GpioDrawer, list[Event]], fake: FakeTime
) -> None:
    sim, drawer, _ = plain
    fake.run_out()
    sim.jam(kicks=None)
    assert drawer.kick().wait(WAIT_S) is KickOutcome.JAMMED
    assert drawer.kick().wait(WAIT_S) is KickOutcome.JAMMED
    assert sim.kicks == 4 and sim.jammed
    sim.unjam()
    assert drawer.kick().result(WAIT_S) is KickOutcome.OPENED
    assert drawer.statistics == DrawerStatistics(
        good_open_count=1, failed_open_count=2, pulse_count=5
    )


def test_a_jammed_drawer_opened_with_its_key_reports_open(
    plain: tuple[SimulatedDrawer, GpioDrawer, list[Event]], fake: FakeTime
) -> None:
    sim, drawer, events = plain
    fake.run_out()
    sim.jam(kicks=None)
    confirmation = drawer.kick()
    confirmation.wait(WAIT_S)
    assert events == [*SHUT, DeviceState(Device.DRAWER, StateWord.JAMMED, confirmation.detail)]
    sim.open_with_key()
    assert events[-2:] == OPENED  # the lane's "jammed" gives way to "open"


def test_kick_returns_after_the_pulse_while_the_confirmation_runs(
    factory: MockFactory, fake: FakeTime
) -> None:
    cfg = config(confirm_ms=200)
    with SimulatedDrawer(factory, cfg) as sim, gpio_drawer(cfg, factory, fake) as drawer:
        sim.jam(kicks=2)
        confirmation = drawer.kick()
        assert fake.pulses == [(0.020, True)]  # the pulse, not the 2 × 200 ms of a jam
        assert confirmation.outcome is None
        fake.run_out()
        assert confirmation.wait(WAIT_S) is KickOutcome.JAMMED
        assert fake.pulses == [(0.020, True)] * 2


def test_a_kick_during_a_confirmation_joins_it(
    plain: tuple[SimulatedDrawer, GpioDrawer, list[Event]],
) -> None:
    sim, drawer, _ = plain
    sim.jam()
    first = drawer.kick()
    second = drawer.kick()  # the cashier's NOSALE, before the retry: it opens the drawer
    assert second is first
    assert first.result(WAIT_S) is KickOutcome.OPENED
    assert sim.kicks == 2  # no retry pulse: the drawer was open by then
    assert drawer.statistics == DrawerStatistics(good_open_count=1, pulse_count=2)


def test_kicking_an_open_drawer_is_confirmed_at_once(factory: MockFactory, fake: FakeTime) -> None:
    # Pull-up, nothing on the line: the contact reads open, so does the drawer.
    with gpio_drawer(config(), factory, fake) as drawer:
        assert drawer.kick().result(WAIT_S) is KickOutcome.OPENED


def test_no_switch_change_means_jammed_even_without_a_listener(
    factory: MockFactory, fake: FakeTime
) -> None:
    # open_when_switch="closed": the pulled-up, unconnected line reads shut for good.
    fake.run_out()
    with gpio_drawer(config(open_when_switch="closed"), factory, fake) as drawer:
        assert drawer.kick().wait(WAIT_S) is KickOutcome.JAMMED
        assert [s.state for s in factory.pin(KICK).states] == [False, True, False, True, False]


class FailsSecondPulse(MockPin):
    """A kick line whose driver gives one pulse, then fails whenever asked to go high."""

    highs = 0

    def _set_state(self, value: object) -> None:
        if value and self._function == "output":
            self.highs += 1
            if self.highs > 1:
                raise PinInvalidState("driver fault")
        super()._set_state(value)


def test_a_retry_pulse_that_fails_reports_error(factory: MockFactory) -> None:
    factory.pin(KICK, pin_class=FailsSecondPulse)
    fake = FakeTime(factory)
    fake.run_out()
    events: list[Event] = []
    with gpio_drawer(config(open_when_switch="closed"), factory, fake) as drawer:
        drawer.start(events.append)
        confirmation = drawer.kick()
        assert confirmation.wait(WAIT_S) is KickOutcome.FAILED
        with pytest.raises(DrawerError, match="GPIO17"):
            confirmation.result()
        assert events == [*SHUT, DeviceState(Device.DRAWER, StateWord.ERROR, confirmation.detail)]
        assert factory.pin(KICK).state is False
        assert drawer.statistics.failed_open_count == 1


def test_close_abandons_a_confirmation_and_reports_nothing_more(
    factory: MockFactory, fake: FakeTime
) -> None:
    events: list[Event] = []
    cfg = config(confirm_ms=5000, open_when_switch="closed")
    drawer = gpio_drawer(cfg, factory, fake)
    drawer.start(events.append)
    confirmation = drawer.kick()  # the clock stands: it would wait for ever
    drawer.close()
    # close() joined the confirmer (within 2 s): it was woken, not timed out.
    assert confirmation.wait(0) is KickOutcome.ABANDONED
    assert events == SHUT
    assert drawer.statistics == DrawerStatistics(pulse_count=1)


@pytest.mark.parametrize("confirm_ms", [0, -1])
def test_non_positive_confirm_time_is_refused(factory: MockFactory, confirm_ms: int) -> None:
    with pytest.raises(DrawerError, match="confirm_ms"):
        GpioDrawer(config(confirm_ms=confirm_ms), pin_factory=factory)


def test_sim_jam_needs_at_least_one_kick(factory: MockFactory) -> None:
    with SimulatedDrawer(factory, config()) as sim, pytest.raises(ValueError, match="kicks"):
        sim.jam(kicks=0)


def test_kicking_an_open_drawer_changes_nothing(
    lane: tuple[SimulatedDrawer, GpioDrawer, list[Event]],
) -> None:
    sim, drawer, events = lane
    drawer.kick().result(WAIT_S)
    assert drawer.kick().result(WAIT_S) is KickOutcome.OPENED
    assert sim.kicks == 2
    assert events == SHUT + OPENED


def test_every_switch_change_is_reported_once(
    plain: tuple[SimulatedDrawer, GpioDrawer, list[Event]],
) -> None:
    sim, drawer, events = plain
    for _ in range(3):
        drawer.kick().result(WAIT_S)
        sim.close_drawer()
    sim.open_with_key()
    sim.close_drawer()
    switches = [ev for ev in events if isinstance(ev, DrawerSwitch)]
    assert switches == [DrawerSwitch(False)] + [DrawerSwitch(True), DrawerSwitch(False)] * 4


def test_sim_drawer_opened_before_the_driver_starts_reads_open(
    factory: MockFactory, fake: FakeTime
) -> None:
    cfg = config()
    with SimulatedDrawer(factory, cfg) as sim:
        with gpio_drawer(cfg, factory, fake) as drawer:
            drawer.kick()
        with GpioDrawer(cfg, pin_factory=factory) as drawer:
            events: list[Event] = []
            drawer.start(events.append)
            assert sim.is_open
            assert events == OPENED


def test_sim_must_exist_before_the_pins_are_claimed(factory: MockFactory) -> None:
    with GpioDrawer(config(), pin_factory=factory), pytest.raises(ValueError, match="GPIO17"):
        SimulatedDrawer(factory, config())


# ---- lifecycle ----


def test_close_is_idempotent_and_releases_both_pins(factory: MockFactory) -> None:
    drawer = GpioDrawer(config(), pin_factory=factory)
    drawer.close()
    drawer.close()
    assert drawer.closed
    with GpioDrawer(config(), pin_factory=factory) as again:
        assert not again.closed


def test_a_closed_driver_refuses_to_work(factory: MockFactory) -> None:
    drawer = GpioDrawer(config(), pin_factory=factory)
    drawer.close()
    for use in (drawer.kick, lambda: drawer.is_open, lambda: drawer.start(lambda event: None)):
        with pytest.raises(DrawerError, match="the drawer driver is closed") as caught:
            use()
        assert isinstance(caught.value, DeviceClosed)


def test_switch_pin_in_use_is_named_and_the_kick_pin_released(factory: MockFactory) -> None:
    with DigitalInputDevice(SWITCH, pin_factory=factory):
        with pytest.raises(DrawerError, match="GPIO27") as caught:
            GpioDrawer(config(), pin_factory=factory)
        assert "switch" in str(caught.value)
        DigitalOutputDevice(KICK, pin_factory=factory).close()  # claimable again


def test_kick_pin_in_use_is_named(factory: MockFactory) -> None:
    with DigitalOutputDevice(KICK, pin_factory=factory):
        with pytest.raises(DrawerError, match="GPIO17"):
            GpioDrawer(config(), pin_factory=factory)
        DigitalInputDevice(SWITCH, pin_factory=factory).close()  # never claimed


def test_context_manager_releases_the_pins(factory: MockFactory) -> None:
    with GpioDrawer(config(), pin_factory=factory) as drawer:
        assert not drawer.closed
    assert drawer.closed
    DigitalOutputDevice(KICK, pin_factory=factory).close()
    DigitalInputDevice(SWITCH, pin_factory=factory).close()


# ---- no GPIO library: one line that says what to do -------------------------------------


ADVICE = (
    "on a Raspberry Pi: sudo apt install python3-lgpio (or pip install lgpio in the "
    "lane's venv); without a drawer: [drawer] enabled = false"
)


@pytest.mark.usefixtures("no_pin_library")
def test_without_a_gpio_library_the_error_says_what_to_install() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DrawerError) as err:
            GpioDrawer(DrawerConfig())
    assert str(err.value) == (
        "cannot claim GPIO17 for the drawer kick: no GPIO pin library works here "
        f"(tried lgpio, rpigpio, pigpio, native); {ADVICE}"
    )
    # gpiozero's four PinFactoryFallback warnings are in that one line, not on stderr.
    assert [str(w.message) for w in caught] == []


@pytest.mark.usefixtures("no_pin_library")
def test_the_lane_starts_without_its_drawer_saying_so_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from firmware_app import config as config_mod
    from firmware_app.app.bootstrap import LaneApp

    lane_config = config_mod.parse(
        {"lane": {"store": "S1", "lane": "1", "data_dir": str(tmp_path)}}, source="lane.toml"
    )
    caplog.set_level(logging.INFO)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = LaneApp(lane_config)
    try:
        assert app.drawer is None
        assert app.drawer_fault.endswith(ADVICE)
    finally:
        app.close()
    assert [str(w.message) for w in caught] == []
    drawer_lines = [r for r in caplog.records if "drawer" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in drawer_lines] == [
        (logging.ERROR, f"drawer unavailable: {app.drawer_fault}")
    ]


def test_other_warnings_while_claiming_a_pin_pass_on_once(factory: MockFactory) -> None:
    def build() -> DigitalOutputDevice:
        warnings.warn("something else", UserWarning, stacklevel=1)
        return DigitalOutputDevice(KICK, pin_factory=factory)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawer_module.claim(KICK, "kick", build).close()
    assert [str(w.message) for w in caught] == ["something else"]
