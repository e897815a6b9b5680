"""Errors of the lane's shell (config, store, command line)."""


class LaneError(Exception):
    """Base of the lane's own errors."""


class ConfigError(LaneError):
    """The config file is unusable; the message names the file, key and reason."""


class CatalogError(LaneError):
    """A catalog document is malformed; the message names the field and reason."""


class StoreError(LaneError):
    """The local database refused an operation."""


class CatalogGap(CatalogError):
    """A catalog change does not follow the lane's version: a snapshot is needed."""


class CatalogOlder(CatalogError):
    """A catalog snapshot is older than the lane's catalog: applying it would go back."""
