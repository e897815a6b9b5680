"""What each role may do at the lane.

Cashiers and supervisors sell (a supervisor also approves, see ``lane.approvals``).
A technician signs on for the doctor, the config and a test print, and never sells:
only the keys below are theirs; every other key of a signed-on lane, and any scan,
is refused with a message saying so. A key added later is refused to a technician
until it is listed here.
"""

from __future__ import annotations

from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Role
from firmware_app.lane.state import LaneState

# Sign off, zero and tare the scale, print the last receipt again (a test print), and
# open the drawer to test it (that needs a supervisor, as for anyone).
TECHNICIAN_KEYS = frozenset(["SIGNOFF", "ZERO", "TARE", "REPRINT", "NOSALE"])


def refuse_key(state: LaneState, key: str, ctx: Ctx) -> Outcome | None:
    """The refusal of ``key`` (``SCAN`` for a scan) for the signed-on role, or None."""
    cashier = state.cashier
    if cashier is None or cashier.role is not Role.TECHNICIAN or key in TECHNICIAN_KEYS:
        return None
    return refuse(state, Msg.TECHNICIAN_CANNOT_SELL, key=key)
