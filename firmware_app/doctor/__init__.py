"""``firmware-lane doctor`` and ``test-print``: is this lane ready to sell?

``checks`` runs the checks and prints one line each; ``devices`` checks the
scanner, keypad, scale, printer, GPIO pins and drawer; ``services`` the broker,
the databases, the outbox, the disk and the clock; ``screen`` the running lane's
screen server; ``kiosk`` the unit that shows it on the Pi's display (and is that
unit's start step); ``units`` asks systemd about a unit; ``result`` holds what a
check found and the advice a technician reads.
"""

from firmware_app.doctor.checks import (
    Check,
    DeviceAccess,
    DoctorError,
    doctor_checks,
    print_test_receipt,
    run_check,
    run_checks,
    run_doctor,
)
from firmware_app.doctor.result import CheckResult

__all__ = [
    "Check",
    "CheckResult",
    "DeviceAccess",
    "DoctorError",
    "doctor_checks",
    "print_test_receipt",
    "run_check",
    "run_checks",
    "run_doctor",
]
