"""Errors raised by device adapters."""


class DeviceError(Exception):
    """A device could not do what was asked."""


class DeviceMissing(DeviceError):
    """The device is not there (path missing, cable unplugged)."""


class DeviceClosed(DeviceError):
    """A driver was used after ``close()``."""


class PrinterError(DeviceError):
    """The receipt printer could not print."""


class PrinterClosed(PrinterError, DeviceClosed):
    """The receipt printer driver was used after ``close()``."""


class DrawerError(DeviceError):
    """The cash drawer could not be driven."""


class DrawerClosed(DrawerError, DeviceClosed):
    """The drawer driver was used after ``close()``."""
