"""Fixtures shared by the driver tests."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def no_pin_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """gpiozero's default pin factory as on a Pi without lgpio, RPi.GPIO or pigpio: every
    library fails to load (the native one too, off a Pi) and gpiozero warns of each."""
    from gpiozero import Device
    from gpiozero.pins.native import NativeFactory

    monkeypatch.setattr(Device, "pin_factory", None)
    for name in ("lgpio", "RPi", "RPi.GPIO", "pigpio"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    try:
        NativeFactory().close()
    except Exception:
        return
    pytest.skip("the native pin factory works here: this is a Raspberry Pi")
