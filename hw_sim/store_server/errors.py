"""The simulated store server's exceptions."""

from __future__ import annotations


class StoreServerError(RuntimeError):
    """The simulated store server could not start."""


class ConflictError(StoreServerError):
    """A lane sent a seq again with different content."""
