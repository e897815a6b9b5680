"""Hypothesis budgets of the device-side fuzz tests (``test_fuzz_devices*.py``).

The default run keeps each test to a small number of examples, so the whole device
fuzz suite stays within its share of the test run. The ``fuzz`` profile
(``HYPOTHESIS_PROFILE=fuzz``, or pytest's ``--hypothesis-profile=fuzz``) runs many
more examples of each, for a long session before a release::

    HYPOTHESIS_PROFILE=fuzz .venv/bin/pytest -q tests/fuzz -k devices
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = 5000  # per test under the fuzz profile
settings.register_profile("fuzz", max_examples=FUZZ_EXAMPLES, deadline=None)


def fuzzing() -> bool:
    """Whether the long ``fuzz`` profile was asked for."""
    asked = os.environ.get("HYPOTHESIS_PROFILE", "")
    return asked == "fuzz" or settings.get_current_profile_name() == "fuzz"


def budget(examples: int, *, fuzz: int = FUZZ_EXAMPLES) -> settings:
    """Settings for one test: ``examples`` in the default run, ``fuzz`` when fuzzing.

    No deadline: a loaded machine must not turn a slow example into a failure.
    """
    return settings(
        max_examples=fuzz if fuzzing() else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
