"""``python -m hw_sim.store_server``: the command line in ``cli`` (``--help`` for its options)."""

import sys

from hw_sim.store_server.cli import main

sys.exit(main())
