"""Errors raised by device adapters."""


class DeviceError(Exception):
    """A device could not do what was asked."""


class DeviceMissing(DeviceError):
    """The device is not there (path missing, cable unplugged)."""


class PrinterError(DeviceError):
    """The receipt printer could not print."""


class DrawerError(DeviceError):
    """The cash drawer could not be driven."""
