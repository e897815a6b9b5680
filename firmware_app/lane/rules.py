"""The sale rules a lane is configured with (built from the config file by the shell)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from firmware_app.lane.labels import LabelFormat
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.state import Action


@dataclass(frozen=True)
class CashRounding:
    """Rounding of what a customer pays in cash.

    ``step`` in minor units (0 = none, 10 = to the jiao); ``mode`` is
    ``half-up`` (nearest step, halves up) or ``down`` (抹零: always in the
    customer's favour).
    """

    step: int = 0
    mode: str = "half-up"


# Roles and approvals: who approves what, and the PIN lockout.
@dataclass(frozen=True)
class ApprovalRules:
    """Which actions need a supervisor, and how wrong PINs lock an id.

    Every ``Action`` needs a supervisor unless it is in ``without_supervisor`` (a
    new action is covered by default). A signed-on supervisor acts alone, except for
    the actions in ``second_supervisor``: another supervisor approves those.
    ``badge_prefix``: a scan starting with it is a supervisor's badge (the id after
    the prefix; the badge is the credential, no PIN); "" = no badges.
    ``pin_tries`` wrong PINs in a row lock an id for ``lockout_min`` minutes.
    """

    without_supervisor: frozenset[Action] = frozenset()
    second_supervisor: frozenset[Action] = frozenset()
    badge_prefix: str = ""
    pin_tries: int = 5
    lockout_min: int = 15


# Members: which member numbers are well formed, how long the store server may take to
# answer, and the loyalty rule used when the catalog has none.
CHECK_DIGITS = ("none", "luhn", "mod10-gs1")


@dataclass(frozen=True)
class MemberRules:
    """``lengths``: the digits a member number may have (empty: 1 to 20); ``check_digit``:
    ``none``, ``luhn`` or ``mod10-gs1`` (the last digit checks the others);
    ``answer_timeout_ms``: how long the lane waits for the store server's answer before
    the member stays on the sale unverified; ``loyalty``: the points rule when the
    catalog gives none (None: no points)."""

    lengths: tuple[int, ...] = ()
    check_digit: str = "none"
    answer_timeout_ms: int = 1000
    loyalty: Loyalty | None = None


@dataclass(frozen=True)
class SaleRules:
    """Everything about selling that the config decides.

    Money in minor units; ``max_quantity`` in items; ``scale_stale_ms`` is how
    old the last scale answer may be before the scale counts as silent.
    """

    currency: str = "CNY"
    minor_digits: int = 2
    cash_rounding: CashRounding = field(default_factory=CashRounding)
    max_cash_tender: int = 500000
    max_quantity: int = 999
    max_scan_length: int = 128
    scale_stale_ms: int = 2000
    member_prefix: str = "M"
    min_weight_g: int = 0  # no weighed sale below this (legal for trade, e.g. 20 e)
    drawer_alert_s: int = 60  # drawer open longer than this: alert and audit event
    block_sale_while_open: bool = False  # no new sale starts while the drawer is open
    # No answer from the payment terminal within this many seconds: the lane stops
    # waiting (the charge counts as not paid; a late approval is reversed).
    payment_timeout_s: int = 120
    label_formats: tuple[LabelFormat, ...] = ()
    approvals: ApprovalRules = field(default_factory=ApprovalRules)  # roles and approvals
    max_suspended: int = 10  # suspend and resume: parked sales a lane holds at most
    # Training mode, cash movements, reports: the reasons offered after PAIDIN / PAIDOUT
    # (shown numbered, as written here).
    paid_in_reasons: tuple[str, ...] = ("备用金 float", "找零补充 change")
    paid_out_reasons: tuple[str, ...] = ("缴款 pickup", "零用 petty cash")
    # Restrictions: the minimum age of an item marked only ``age_restricted`` (years);
    # sale hours by department: (department, start, end), local time, end exclusive.
    default_min_age: int = 18
    department_hours: tuple[tuple[str, time, time], ...] = ()
    # Price override and discounts: the reasons offered after PRICE, the highest unit
    # price PRICE takes (minor units), and the percent a cashier may give alone and a
    # supervisor at most (DISC).
    price_reasons: tuple[str, ...] = ("破损 damaged", "临期 near expiry", "价签错误 wrong label")
    max_override_price: int = 999900  # 9999.00
    cashier_discount_max: int = 10
    supervisor_discount_max: int = 50
    # Returns: what returns without receipt may give back in one transaction (minor units).
    return_limit: int = 20000
    members: MemberRules = field(default_factory=MemberRules)  # members and points


@dataclass(frozen=True)
class ReceiptSetup:
    """Receipt wording: store header and footer lines, and the label language
    (``zh``, ``en`` or ``zh-en`` for both)."""

    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()
    language: str = "zh-en"


@dataclass(frozen=True)
class LaneSetup:
    """Who this lane is and how it sells: everything the core needs from the config."""

    store: str = "S1"
    lane: str = "1"
    rules: SaleRules = field(default_factory=SaleRules)
    receipt: ReceiptSetup = field(default_factory=ReceiptSetup)
