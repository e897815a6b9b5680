"""``python -m hw_sim.store_server``: see ``hw_sim.store_server`` for the options."""

import sys

from hw_sim.store_server import main

sys.exit(main())
