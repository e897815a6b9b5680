"""``python -m firmware_app`` is the ``firmware-lane`` command."""

import sys

from firmware_app.app.cli import main

sys.exit(main())
