"""firmware-lane: the checkout lane controller."""

__version__ = "0.1.0"
