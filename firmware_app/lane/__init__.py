"""The lane core: pure sale logic.

Nothing here performs I/O, reads the clock or imports a driver, the store, paho,
peewee, evdev, pyserial or gpiozero (``tests/unit/test_purity.py`` enforces it).
Time arrives with each event; reads go through the ports in ``ports.py``;
everything the lane should *do* comes back as effects.
"""
