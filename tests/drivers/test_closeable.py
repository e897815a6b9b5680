"""The life cycle every driver shares, written once in ``Closeable``: ``close()`` is
idempotent (and runs its release once, however many threads call it), every driver
is a context manager, ``closed`` tells, and a closed driver refuses to work with
``DeviceClosed`` (the printer's and the drawer's are their own errors as well)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_app.config import (
    DrawerConfig,
    KeypadConfig,
    PrinterConfig,
    ScaleConfig,
    ScannerConfig,
)
from firmware_app.drivers.closeable import Closeable
from firmware_app.drivers.drawer import GpioDrawer
from firmware_app.drivers.errors import DeviceClosed, DrawerError, PrinterError
from firmware_app.drivers.keypad import Keypad
from firmware_app.drivers.printer import SerialPrinter
from firmware_app.drivers.scale import SerialScale
from firmware_app.drivers.scanner import Scanner
from firmware_app.lane.receipt import Receipt

RECEIPT = Receipt((), (), (), (), (), ())


def ignore(event: object) -> None:
    pass


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


# (driver, how it is built, what a closed one is asked, the driver's own error family)
Build = Callable[[Path, MockFactory], Closeable]
DRIVERS: list[tuple[str, Build, list[Callable[[Closeable], object]], type[Exception]]] = [
    (
        "scanner",
        lambda tmp, _: Scanner(ScannerConfig(path=str(tmp / "scanner"))),
        [lambda d: d.start(ignore)],  # type: ignore[attr-defined]
        DeviceClosed,
    ),
    (
        "keypad",
        lambda tmp, _: Keypad(KeypadConfig(path=str(tmp / "keypad"))),
        [lambda d: d.start(ignore)],  # type: ignore[attr-defined]
        DeviceClosed,
    ),
    (
        "scale",
        lambda tmp, _: SerialScale(ScaleConfig(port=str(tmp / "scale"))),
        [lambda d: d.start(ignore), lambda d: d.zero(), lambda d: d.tare()],  # type: ignore[attr-defined]
        DeviceClosed,
    ),
    (
        "receipt printer",
        lambda tmp, _: SerialPrinter(PrinterConfig(port=str(tmp / "printer"))),
        [lambda d: d.print_receipt(RECEIPT), lambda d: d.status()],  # type: ignore[attr-defined]
        PrinterError,
    ),
    (
        "drawer",
        lambda _, pins: GpioDrawer(DrawerConfig(), pin_factory=pins),
        [lambda d: d.kick(), lambda d: d.is_open, lambda d: d.start(ignore)],  # type: ignore[attr-defined]
        DrawerError,
    ),
]
IDS = [row[0] for row in DRIVERS]


@pytest.mark.parametrize(("name", "build", "uses", "own"), DRIVERS, ids=IDS)
def test_close_twice_is_harmless_and_closed_tells(
    tmp_path: Path,
    factory: MockFactory,
    name: str,
    build: Build,
    uses: list[Callable[[Closeable], object]],
    own: type[Exception],
) -> None:
    driver = build(tmp_path, factory)
    assert isinstance(driver, Closeable)
    assert not driver.closed
    driver.close()
    driver.close()
    assert driver.closed


@pytest.mark.parametrize(("name", "build", "uses", "own"), DRIVERS, ids=IDS)
def test_a_driver_is_a_context_manager(
    tmp_path: Path,
    factory: MockFactory,
    name: str,
    build: Build,
    uses: list[Callable[[Closeable], object]],
    own: type[Exception],
) -> None:
    with build(tmp_path, factory) as driver:
        assert not driver.closed
    assert driver.closed


@pytest.mark.parametrize(("name", "build", "uses", "own"), DRIVERS, ids=IDS)
def test_a_closed_driver_refuses_to_work(
    tmp_path: Path,
    factory: MockFactory,
    name: str,
    build: Build,
    uses: list[Callable[[Closeable], object]],
    own: type[Exception],
) -> None:
    driver = build(tmp_path, factory)
    driver.close()
    for use in uses:
        with pytest.raises(DeviceClosed, match=f"^the {name} driver is closed$") as caught:
            use(driver)
        assert isinstance(caught.value, own)


class Counted(Closeable):
    """Counts its releases; the first one waits, so that other closes come meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.releases = 0
        self.entered = threading.Event()
        self.go_on = threading.Event()

    def _release(self) -> None:
        self.releases += 1
        self.entered.set()
        self.go_on.wait(2.0)


def test_the_release_runs_once_whatever_the_threads() -> None:
    driver = Counted()
    first = threading.Thread(target=driver.close)
    first.start()
    assert driver.entered.wait(2.0)
    others = [threading.Thread(target=driver.close) for _ in range(4)]
    for t in others:
        t.start()
    for t in others:
        t.join(2.0)  # they do not wait for the release under way
        assert not t.is_alive()
    driver.go_on.set()
    first.join(2.0)
    assert driver.releases == 1 and driver.closed


def test_the_base_alone_says_device() -> None:
    driver = Closeable()
    driver._check_open()
    driver.close()
    with pytest.raises(DeviceClosed, match="the device driver is closed"):
        driver._check_open()
