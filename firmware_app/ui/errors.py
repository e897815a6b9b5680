"""Errors of the screens' web server."""

from __future__ import annotations

from firmware_app.errors import LaneError


class UiError(LaneError):
    """The screen could not be served: the message names the address and the reason."""
