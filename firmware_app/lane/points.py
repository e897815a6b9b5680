"""Loyalty points: what a member's sale earns, and what a return by receipt takes back.

Pure arithmetic in minor units and whole points. The rule (``promotions.Loyalty``) gives
``points`` for every full ``per`` minor units a member pays after discounts; nothing
without a rule.
"""

from __future__ import annotations

from firmware_app.lane.promotions import Loyalty


def points_for(paid_after_discounts: int, loyalty: Loyalty | None) -> int:
    """Points earned on ``paid_after_discounts`` (minor units): ``points`` per full
    ``per``; 0 without a rule, for a rule that gives nothing, or for nothing paid."""
    if loyalty is None or loyalty.per <= 0 or loyalty.points <= 0 or paid_after_discounts <= 0:
        return 0
    return (paid_after_discounts // loyalty.per) * loyalty.points


def earned_after_refunds(earned: int, paid: int, refunded: int, loyalty: Loyalty | None) -> int:
    """What a sale that ``earned`` points on ``paid`` (minor units) still earns once
    ``refunded`` (minor units, all its returns so far) went back: the points of what is
    left, by the rule, never more than it earned nor less than 0 (a rule changed since
    the sale gives no points back, nor takes more). Without a rule: ``earned`` in
    proportion to what is left (rounded down). Everything refunded: 0."""
    if refunded <= 0:
        return earned
    left = paid - refunded
    if left <= 0 or earned <= 0:
        return 0
    if loyalty is None:
        return earned * left // paid if paid > 0 else 0
    return max(0, min(earned, points_for(left, loyalty)))


def reversal(
    earned: int, paid: int, refunded_before: int, refunded_now: int, loyalty: Loyalty | None
) -> int:
    """The points a return takes back (≤ 0) from a sale that ``earned`` points on
    ``paid``, when ``refunded_before`` went back in its earlier returns and
    ``refunded_now`` in this one (minor units): what the sale still earned before this
    return less what it earns after it. The reversals of a sale's returns add up to
    ``-earned`` once everything is returned, however it was split."""
    before = earned_after_refunds(earned, paid, refunded_before, loyalty)
    after = earned_after_refunds(earned, paid, refunded_before + refunded_now, loyalty)
    return after - before
