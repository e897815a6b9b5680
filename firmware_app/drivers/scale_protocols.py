"""Serial scale protocols as data: what the lane sends, how an answer is framed, how
it is read.

A protocol is a small frozen ``ScaleProtocol`` value (``scale_frames``); the polling
driver (``firmware_app.drivers.scale``) knows nothing of any one scale. Each
protocol lives in its own module: ``scale_8217`` (Mettler Toledo 8217) and
``scale_scp01`` (NCI / Weigh-Tronix SCP-01). Adding a scale (CAS …) means one more
module with its ``read`` function and value, and one more entry in ``PROTOCOLS``.

Everything here is pure: bytes in, answers out, no I/O.
"""

from __future__ import annotations

from firmware_app.drivers.errors import DeviceError
from firmware_app.drivers.scale_8217 import TOLEDO_8217, parse_8217, read_8217
from firmware_app.drivers.scale_frames import ScaleAnswer, ScaleProtocol, Unreadable, take_frame
from firmware_app.drivers.scale_scp01 import NCI_SCP01, read_scp01

__all__ = [
    "NCI_SCP01",
    "PROTOCOLS",
    "TOLEDO_8217",
    "ScaleAnswer",
    "ScaleProtocol",
    "Unreadable",
    "parse_8217",
    "protocol_for",
    "read_8217",
    "read_scp01",
    "take_frame",
]

PROTOCOLS: dict[str, ScaleProtocol] = {p.name: p for p in (TOLEDO_8217, NCI_SCP01)}


def protocol_for(name: str) -> ScaleProtocol:
    """The protocol called ``name`` in the config's ``scale.protocol`` (``8217``, ``scp01``)."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise DeviceError(f"scale.protocol: unknown scale protocol {name!r}") from None
