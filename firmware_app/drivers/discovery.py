"""Finding the scanner's and the keypad's input nodes among the kernel's.

The config names each HID device in one of two ways:

- a **stable path**, ``path`` (``/dev/input/by-id/usb-…-event-kbd``, or a udev
  symlink such as ``/dev/lane-scanner``): opened as it is, so a device that
  comes back under a new ``/dev/input/eventN`` is found through the same link;
- a **match**, ``match``, used instead of the path when set:
  ``name:GLOB`` against the device's name (shell wildcards, case ignored:
  ``name:Honeywell*``) or ``usb:VVVV:PPPP`` against its USB vendor and product
  ids in hex (``usb:0c2e:0b61``). Matches are tried over the nodes evdev lists,
  on every attempt to open the device, so a re-plugged device is found again
  whatever node number the kernel gave it this time.

The lane never grabs a keyboard it was not told to: a match must name exactly
one device. Some scanners expose two nodes (the keys, and a consumer-control or
vendor node), so among the nodes that match only those that can send the keys
the driver reads count (letters or digits for the scanner, the keys of its map
for the keypad): the kernel drops any key a node did not declare, so another
node could never deliver a scan. That also keeps a scanner being plugged in,
whose key-less node may appear a moment before its keys node, from being taken
on the wrong node. More than one such node: ``DeviceAmbiguous`` naming them;
none: ``DeviceMissing``. And the scanner and the keypad never read the
same node: every device of one lane resolves through one ``InputDiscovery``,
which refuses a node that another device's selector also picks
(``DeviceConflict``, reported to both), so a misconfigured pair is refused
whichever of them starts first.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import evdev
from evdev import ecodes

from firmware_app.drivers.errors import DeviceError, DeviceMissing

log = logging.getLogger(__name__)

INPUT_DIR = "/dev/input"

# Keys that type data: a node with none of them is not the one that sends a scan
# or a keyed number (it is the scanner's consumer-control node, a power button…).
TYPING_KEYS = frozenset(
    [getattr(ecodes, f"KEY_{c}") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]
    + [getattr(ecodes, f"KEY_KP{d}") for d in range(10)]
)

_USB = re.compile(r"^usb:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")


class DeviceAmbiguous(DeviceError):
    """More than one input device fits the configured match."""


class DeviceConflict(DeviceError):
    """Two lane devices (the scanner and the keypad) would read the same input node."""


@dataclass(frozen=True, eq=True)
class InputNode:
    """One kernel input node as discovery sees it.

    ``path`` is the node (``/dev/input/event5``); ``vendor`` and ``product`` the USB
    ids (0 for devices that are not USB); ``capabilities`` maps an event type
    (``EV_KEY``) to the codes the device can send, as ``evdev`` reports them.
    """

    path: str
    name: str = ""
    vendor: int = 0
    product: int = 0
    capabilities: Mapping[int, frozenset[int]] = field(default_factory=dict, hash=False)

    def sends_any(self, keys: frozenset[int]) -> bool:
        """True when the node declares at least one of ``keys`` (``EV_KEY`` codes)."""
        return bool(self.capabilities.get(ecodes.EV_KEY, frozenset()) & keys)

    def __str__(self) -> str:
        return f"{self.path} ({self.name!r}, usb {self.vendor:04x}:{self.product:04x})"


NodeLister = Callable[[], Sequence[InputNode]]


def evdev_nodes(directory: str = INPUT_DIR) -> list[InputNode]:
    """The input nodes of ``directory`` this process may open, through python-evdev.

    A node that vanishes or cannot be opened while being listed is skipped: it is
    either gone (hot-plug) or not ours to read.
    """
    nodes = []
    for path in sorted(evdev.list_devices(directory), key=_node_order):
        try:
            nodes.append(_describe(path))
        except OSError as e:
            log.debug("input node %s skipped: %s", path, e.strerror or e)
    return nodes


def _describe(path: str) -> InputNode:
    device = evdev.InputDevice(path)
    try:
        caps = device.capabilities(absinfo=False)
        return InputNode(
            path=path,
            name=device.name,
            vendor=device.info.vendor,
            product=device.info.product,
            capabilities={t: frozenset(codes) for t, codes in caps.items()},
        )
    finally:
        device.close()


def _node_order(path: str) -> tuple[str, int]:
    """event2 before event10, so lists read as the kernel numbered them."""
    head = path.rstrip("0123456789")
    tail = path[len(head) :]
    return head, int(tail) if tail else -1


@dataclass(frozen=True)
class Selector:
    """How the config names one device: ``match`` when set, else ``path``.

    ``keys`` are the ``EV_KEY`` codes the driver reads; a matching node that can
    send none of them is not the device (letters and digits by default).
    """

    path: str
    match: str = ""
    keys: frozenset[int] = TYPING_KEYS

    def __post_init__(self) -> None:
        parse_match(self.match)  # a bad match fails at construction, not in a thread

    @property
    def by_match(self) -> bool:
        return bool(self.match)

    def matches(self, node: InputNode) -> bool:
        """True when ``node`` fits the match (a path selector matches no listed node)."""
        kind, value = parse_match(self.match)
        if kind == "name":
            return fnmatch.fnmatchcase(node.name.casefold(), value.casefold())
        if kind == "usb":
            return f"{node.vendor:04x}:{node.product:04x}" == value
        return False

    def __str__(self) -> str:
        return self.match or self.path


def parse_match(match: str) -> tuple[str, str]:
    """``("name", glob)``, ``("usb", "vvvv:pppp")`` (lower case) or ``("", "")`` for no
    match; ``ValueError`` naming the text otherwise."""
    if not match:
        return "", ""
    if match.startswith("name:") and len(match) > len("name:"):
        return "name", match[len("name:") :]
    usb = _USB.match(match)
    if usb:
        return "usb", f"{usb[1].lower()}:{usb[2].lower()}"
    raise ValueError(f"device match {match!r}: expected 'name:GLOB' or 'usb:VVVV:PPPP' (hex ids)")


@dataclass(frozen=True)
class Location:
    """Where a device was found: ``path`` is what to open, ``identity`` the node it
    leads to (symlinks resolved), ``node`` what evdev said of it (for a match)."""

    path: str
    identity: str
    node: InputNode | None = None

    def __str__(self) -> str:
        return str(self.node) if self.node is not None else self.path


def select_node(selector: Selector, nodes: Iterable[InputNode]) -> InputNode:
    """The one node ``selector``'s match picks among ``nodes``: it fits the match and
    can send the selector's keys.

    Raises ``DeviceMissing`` when there is no such node and ``DeviceAmbiguous``,
    naming them, when there are several.
    """
    fits = [node for node in nodes if selector.matches(node)]
    if not fits:
        raise DeviceMissing(f"{selector}: no input device matches")
    keyboards = [node for node in fits if node.sends_any(selector.keys)]
    if not keyboards:
        listed = ", ".join(str(node) for node in fits)
        raise DeviceMissing(f"{selector}: {listed} match but send none of the keys read")
    if len(keyboards) > 1:
        listed = ", ".join(str(node) for node in keyboards)
        raise DeviceAmbiguous(
            f"{selector}: {len(keyboards)} input devices match: {listed}; "
            "narrow the match or configure a /dev/input/by-id path"
        )
    return keyboards[0]  # with a scanner's second, key-less node left aside


class InputDiscovery:
    """Resolves the lane's HID devices to input nodes, one device name each.

    Share one instance between the scanner and the keypad: ``locate`` refuses a
    node that another registered selector also resolves to. ``lister`` lists the
    kernel's nodes (``evdev_nodes`` by default; tests and hw_sim pass their own);
    it is only called when some registered selector is a match. Build (register)
    every device before starting any, so that the first to look already knows the
    others. Thread-safe: each device locates from its own reader thread.
    """

    def __init__(self, *, lister: NodeLister = evdev_nodes) -> None:
        self._lister = lister
        self._selectors: dict[str, Selector] = {}
        self._lock = threading.Lock()

    def register(self, device: str, selector: Selector) -> None:
        """Add ``device`` (``"scanner"``, ``"keypad"``); one selector per name."""
        with self._lock:
            if device in self._selectors:
                raise ValueError(f"a {device} is already registered for input discovery")
            self._selectors[device] = selector

    def unregister(self, device: str) -> None:
        """Forget ``device``; nothing happens if it was not registered."""
        with self._lock:
            self._selectors.pop(device, None)

    def locate(self, device: str) -> Location:
        """Where ``device`` is now: ``DeviceMissing``, ``DeviceAmbiguous`` or
        ``DeviceConflict`` when it cannot be told."""
        with self._lock:
            selectors = dict(self._selectors)
        mine = selectors.pop(device)
        # Listing opens every input node: only when some selector needs it.
        listing = mine.by_match or any(s.by_match for s in selectors.values())
        nodes = self._lister() if listing else ()
        found = _resolve(mine, nodes)
        for other, theirs in selectors.items():
            if _identity(theirs, nodes) == found.identity:
                raise DeviceConflict(
                    f"{found}: the {other} is configured on the same input device "
                    f"({theirs}); give each its own"
                )
        return found


def _identity(selector: Selector, nodes: Sequence[InputNode]) -> str | None:
    """The node ``selector`` resolves to, or None when it resolves to none."""
    try:
        return _resolve(selector, nodes).identity
    except (DeviceMissing, DeviceAmbiguous):
        return None


def _resolve(selector: Selector, nodes: Sequence[InputNode]) -> Location:
    if not selector.by_match:
        # Opened as configured; a missing path is reported when it is opened.
        return Location(selector.path, os.path.realpath(selector.path))
    node = select_node(selector, nodes)
    return Location(node.path, os.path.realpath(node.path), node)
