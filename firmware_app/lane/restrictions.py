"""Restrictions on what may be sold: age checks and sale hours.

Sale hours: an item's own ``sale_hours``, else its department's hours from the config
(``[restrictions]``), in the lane's local time (``ctx.now``): the start is inclusive,
the end exclusive; an end before the start runs over midnight (``22:00``–``06:00``:
from 22:00 to 05:59). Outside them the item is refused with the hours on screen.

Age: an item whose ``min_age`` applies (its own, or the configured default for
``age_restricted``) is not added until the cashier answers: ``YES`` (or ``ENTER``
with nothing keyed), or the customer's date of birth keyed ``YYYYMMDD`` + ``ENTER``;
``NO`` (or ``CLEAR`` with nothing keyed) drops the item. Each minimum age is asked
once per sale (``Sale.age_checked``, parked with the sale); a void never asks, and
returns use ``age_to_ask(..., is_return=True)``, which never asks either. The
``age_check`` event keeps how it was answered and the age in years, never the date.

A customer born on 29 February has a birthday on 1 March in a year that is not a
leap year (the day after 28 February, as the law counts it).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time

from firmware_app.lane.catalog import Item
from firmware_app.lane.context import Ctx, Outcome, refuse, refused
from firmware_app.lane.effects import RecordEvent
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.pending_item import PendingItem
from firmware_app.lane.rules import SaleRules
from firmware_app.lane.sale import Sale
from firmware_app.lane.state import LaneState, Mode

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
OLDEST_BIRTH_YEAR = 1900


# --- sale hours ------------------------------------------------------------------------


def hours_of(value: object) -> tuple[time, time]:
    """``["08:00", "22:00"]`` as (start, end); ``ValueError`` with the reason otherwise
    (used for the catalog's ``sale_hours`` and the config's ``[restrictions]``)."""
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) and _HHMM.fullmatch(v) for v in value)
    ):
        raise ValueError('expected ["HH:MM", "HH:MM"] (00:00 to 23:59)')
    start, end = (time.fromisoformat(v) for v in value)
    if start == end:
        raise ValueError(f"start and end are both {value[0]} (no hours to sell in)")
    return start, end


def within(hours: tuple[time, time], at: time) -> bool:
    """Whether ``at`` is in ``hours``: start inclusive, end exclusive, over midnight
    when the end is before the start."""
    start, end = hours
    if start < end:
        return start <= at < end
    return at >= start or at < end


def sale_hours(item: Item, rules: SaleRules) -> tuple[time, time] | None:
    """The hours ``item`` may be sold in: its own, else its department's, else None."""
    if item.sale_hours is not None:
        return item.sale_hours
    for department, start, end in rules.department_hours:
        if department == item.department:
            return start, end
    return None


def hours_refusal(item: Item, ctx: Ctx) -> Message | None:
    """Why ``item`` may not be sold now (its hours, in the lane's local time), or None."""
    hours = sale_hours(item, ctx.setup.rules)
    local = ctx.now.timetz().replace(tzinfo=None)  # the lane's local time of day
    if hours is None or within(hours, local):
        return None
    start, end = (t.strftime("%H:%M") for t in hours)
    return Message.of(Msg.SALE_HOURS, name=item.name, start=start, end=end)


# --- age -------------------------------------------------------------------------------


def min_age(item: Item, rules: SaleRules) -> int | None:
    """The age in years a customer must have for ``item``, or None."""
    if item.min_age is not None:
        return item.min_age
    return rules.default_min_age if item.age_restricted else None


def age_to_ask(
    sale: Sale | None, item: Item, rules: SaleRules, *, is_return: bool = False
) -> int | None:
    """The minimum age to ask about before adding ``item`` to ``sale``, or None: not on
    a return, and not when this sale has confirmed that age already."""
    needed = min_age(item, rules)
    if needed is None or is_return:
        return None
    if sale is not None and needed in sale.age_checked:
        return None
    return needed


def birthday_in(born: date, year: int) -> date:
    """The day ``born`` has its birthday in ``year``: 29 February is 1 March in a year
    that is not a leap year."""
    try:
        return born.replace(year=year)
    except ValueError:  # 29 February, not a leap year
        return date(year, 3, 1)


def age_on(born: date, today: date) -> int:
    """Full years from ``born`` to ``today``: one more on the birthday itself."""
    years = today.year - born.year
    return years if today >= birthday_in(born, today.year) else years - 1


def parse_birth_date(entry: str, today: date) -> date | None:
    """``YYYYMMDD`` as a date from 1900 up to ``today``, or None."""
    if len(entry) != 8 or not entry.isdigit():
        return None
    try:
        born = date(int(entry[:4]), int(entry[4:6]), int(entry[6:]))
    except ValueError:
        return None
    return born if born.year >= OLDEST_BIRTH_YEAR and born <= today else None


def ask(state: LaneState, pending: PendingItem) -> Outcome:
    """Hold the item and ask the question. A pending quantity stays for the item; the
    entry (a PLU keyed) is used up, so that a date of birth starts from nothing."""
    question = Message.of(Msg.AGE_QUESTION, name=pending.item.name, min_age=pending.min_age)
    return replace(state, mode=Mode.AGE_CHECK, age_pending=pending, entry="", message=question), ()


def answer_key(state: LaneState, key: str, ctx: Ctx) -> PendingItem | Outcome:
    """A key while the question is on screen: the pending item when the customer is old
    enough (``confirmed`` adds it to the sale), else what the lane shows and records."""
    pending = state.age_pending
    assert pending is not None
    if key == "NO":
        return decline(state, ctx)
    if key not in ("YES", "ENTER"):
        return refuse(state, Msg.KEY_NOT_ALLOWED, key=key)
    if not state.entry:
        return pending
    born = parse_birth_date(state.entry, ctx.now.date())
    if born is None:
        return refused(replace(state, entry=""), Message.of(Msg.BAD_BIRTH_DATE))
    years = age_on(born, ctx.now.date())
    if years >= pending.min_age:
        return pending
    event = _event(state, pending, ctx, "dob", "fail", age=years)
    message = Message.of(
        Msg.AGE_TOO_YOUNG, name=pending.item.name, age=years, min_age=pending.min_age
    )
    return replace(_back(state), message=message), (event,)


def clear(state: LaneState, ctx: Ctx) -> Outcome:
    """CLEAR: what was keyed, then the item itself (as NO)."""
    pending = state.age_pending
    assert pending is not None
    if state.entry:
        question = Message.of(Msg.AGE_QUESTION, name=pending.item.name, min_age=pending.min_age)
        return replace(state, entry="", message=question), ()
    return decline(state, ctx)


def decline(state: LaneState, ctx: Ctx) -> Outcome:
    pending = state.age_pending
    assert pending is not None
    event = _event(state, pending, ctx, "no", "declined")
    message = Message.of(Msg.AGE_DECLINED, name=pending.item.name)
    return replace(_back(state), message=message), (event,)


def confirmed(
    state: LaneState, pending: PendingItem, sale: Sale, ctx: Ctx
) -> tuple[Sale, RecordEvent]:
    """``sale`` with ``pending``'s age confirmed, and the ``age_check`` event; ``state``
    is the lane as the answer found it (its entry: a date of birth, or nothing)."""
    answered, details = ("yes", {}) if not state.entry else ("dob", _dob_details(state, ctx))
    sale = replace(sale, age_checked=tuple(sorted({*sale.age_checked, pending.min_age})))
    return sale, _event(replace(state, sale=sale), pending, ctx, answered, "pass", **details)


def _dob_details(state: LaneState, ctx: Ctx) -> dict[str, object]:
    born = parse_birth_date(state.entry, ctx.now.date())
    assert born is not None
    return {"age": age_on(born, ctx.now.date())}


def _back(state: LaneState) -> LaneState:
    """Back to selling, the item not added (a quantity keyed for it goes with it)."""
    return replace(state, mode=Mode.READY, age_pending=None, entry="", qty=None)


def _event(
    state: LaneState,
    pending: PendingItem,
    ctx: Ctx,
    answered: str,
    result: str,
    **details: object,
) -> RecordEvent:
    return ctx.audit(
        state,
        "age_check",
        sku=pending.item.sku,
        item=pending.item.name,
        min_age=pending.min_age,
        answered=answered,
        result=result,
        **details,
    )
