"""The lane as a program: the composition root, the lane loop, the command line and
the threads around the loop.

``bootstrap`` builds everything one lane runs from its config (real drivers, or
hw_sim's simulated hardware under the same drivers) and wires it to ``loop``, the
one writer that hands each event to the pure core and drives the effects;
``cli`` is ``firmware-lane``; ``spooler`` prints owed receipts, ``catalog_updates``
applies catalogs, ``clock`` watches the wall clock, ``notify`` talks to systemd,
``logs`` sets up logging, ``config_check`` checks what a config names on this
machine.
"""
