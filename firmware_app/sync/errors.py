"""Errors of the sync layer."""

from __future__ import annotations

from firmware_app.errors import LaneError


class SyncError(LaneError):
    """Base of the sync layer's errors."""


class ContractError(SyncError):
    """A message breaks the MQTT contract; the text names the field and the reason."""


class LinkError(SyncError):
    """The broker could not be reached or refused the connection attempt."""
