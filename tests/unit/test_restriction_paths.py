"""Restrictions in the core: the age question (YES / NO, a date of birth), asked once per
sale and minimum age, and sale hours (an item's own, a department's from the config)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from firmware_app.lane import restrictions
from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.effects import RecordEvent, SaveSale
from firmware_app.lane.messages import Msg
from firmware_app.lane.rules import SaleRules
from firmware_app.lane.state import Mode
from firmware_app.lane.view import LABELS, ScreenSetup, screen_view
from tests.unit.till import BEER, CST, Till, setup_with

BEER_SCAN = "scan 06901035603423"  # age_restricted, no min_age: the default, 18
BAIJIU = Item("400002", "白酒", Unit.EACH, 9900, Decimal("13"), min_age=21, department="alcohol")
WINE = Item("400003", "葡萄酒", Unit.EACH, 5900, Decimal("13"), min_age=18, department="alcohol")
LATE = Item(
    "400004", "夜宵券", Unit.EACH, 500, Decimal("6"), plu=44, sale_hours=(time(22), time(6))
)


def till(**rules: object) -> Till:
    t = Till(setup=setup_with(**rules)).do("signon")
    catalog = t.ports.catalog
    for code, item in (("1", BAIJIU), ("2", WINE), ("4", LATE)):
        catalog.codes[code] = item  # type: ignore[attr-defined]
        catalog.items.append(item)  # type: ignore[attr-defined]
    return t


def age_events(t: Till) -> list[dict[str, str]]:
    return [
        dict(e.event.details)
        for e in t.all_effects
        if isinstance(e, RecordEvent) and e.event.type == "age_check"
    ]


def born(t: Till, yyyymmdd: str) -> Till:
    return t.do("key " + " ".join(yyyymmdd) + " ENTER")


# --- the age question ---------------------------------------------------------------


# (name, answer steps, message, lines in the sale, still asking, event details or None)
ANSWERS = [
    ("YES adds", ("key YES",), Msg.ITEM_ADDED, 1, False, {"answered": "yes", "result": "pass"}),
    ("ENTER adds", ("key ENTER",), Msg.ITEM_ADDED, 1, False, {"answered": "yes"}),
    ("NO drops", ("key NO",), Msg.AGE_DECLINED, 0, False, {"answered": "no", "result": "declined"}),
    ("CLEAR drops", ("key CLEAR",), Msg.AGE_DECLINED, 0, False, {"result": "declined"}),
    (
        "an old enough birth date adds",
        ("key 1 9 9 0 0 1 0 1 ENTER",),
        Msg.ITEM_ADDED,
        1,
        False,
        {"answered": "dob", "result": "pass", "age": "36"},
    ),
    (
        "a too young birth date refuses",
        ("key 2 0 1 0 0 1 0 1 ENTER",),
        Msg.AGE_TOO_YOUNG,
        0,
        False,
        {"answered": "dob", "result": "fail", "age": "16"},
    ),
    ("a short date asks again", ("key 1 9 9 0 ENTER",), Msg.BAD_BIRTH_DATE, 0, True, None),
    ("no such date", ("key 1 9 9 0 0 2 3 0 ENTER",), Msg.BAD_BIRTH_DATE, 0, True, None),
    ("a date to come", ("key 2 0 2 7 0 1 0 1 ENTER",), Msg.BAD_BIRTH_DATE, 0, True, None),
    ("before 1900", ("key 1 8 9 9 1 2 3 1 ENTER",), Msg.BAD_BIRTH_DATE, 0, True, None),
    ("CLEAR takes back the digits", ("key 1 9 CLEAR",), Msg.AGE_QUESTION, 0, True, None),
    ("another key is refused", ("key CASH",), Msg.KEY_NOT_ALLOWED, 0, True, None),
    ("DOT is refused", ("key DOT",), Msg.KEY_NOT_ALLOWED, 0, True, None),
    ("a scan waits for the answer", ("scan 6954767410388",), Msg.KEY_NOT_ALLOWED, 0, True, None),
]


@pytest.mark.parametrize(
    ("answer", "msg", "lines", "asking", "event"),
    [case[1:] for case in ANSWERS],
    ids=[case[0] for case in ANSWERS],
)
def test_the_age_question(answer, msg, lines, asking, event) -> None:
    t = till().do(BEER_SCAN)
    assert t.message is Msg.AGE_QUESTION
    assert t.state.mode is Mode.AGE_CHECK
    assert t.effects == []  # nothing added, nothing saved before the answer
    assert t.state.message is not None and t.state.message.arg("min_age") == "18"
    t.do(*answer)
    assert t.message is msg
    sale_lines = t.state.sale.live_lines if t.state.sale else ()
    assert len(sale_lines) == lines
    assert (t.state.mode is Mode.AGE_CHECK) == asking
    events = age_events(t)
    if event is None:
        assert events == []
        return
    assert len(events) == 1
    assert events[0].items() >= {"sku": BEER.sku, "min_age": "18", **event}.items()
    assert "born" not in events[0] and not any("19900101" in v for v in events[0].values())
    if lines:
        assert t.state.sale is not None and t.state.sale.age_checked == (18,)
        kinds = [type(e) for e in t.effects]
        assert kinds == [SaveSale, RecordEvent]  # the event is stamped with the sale's id
        assert t.effects[1].event.sale_id == t.state.sale.id  # type: ignore[attr-defined]


def test_a_declined_item_takes_its_quantity_with_it() -> None:
    t = till().do("key 6 QTY", BEER_SCAN, "key NO", "scan 6954767410388")
    assert t.state.sale is not None and [ln.qty for ln in t.state.sale.lines] == [1000]


def test_a_quantity_keyed_before_stays_for_the_confirmed_item() -> None:
    t = till().do("key 6 QTY", BEER_SCAN, "key YES")
    assert t.state.sale is not None and [ln.qty for ln in t.state.sale.lines] == [6000]


def test_asked_once_per_sale_and_minimum_age() -> None:
    t = till().do(BEER_SCAN, "key YES", BEER_SCAN)
    assert t.message is Msg.ITEM_ADDED  # 18 again: not asked
    t.do("scan 2")  # wine, min_age 18: the same restriction
    assert t.message is Msg.ITEM_ADDED
    t.do("scan 1")  # baijiu, 21: asked
    assert t.message is Msg.AGE_QUESTION and t.state.message is not None
    assert t.state.message.arg("min_age") == "21"
    t.do("key YES", "scan 1")
    assert t.message is Msg.ITEM_ADDED
    assert t.state.sale is not None and t.state.sale.age_checked == (18, 21)
    assert len(age_events(t)) == 2


def test_a_new_sale_asks_again() -> None:
    t = till().do(BEER_SCAN, "key YES", "type 10", "key CASH", BEER_SCAN)
    assert t.state.sale is None or not t.state.sale.lines
    assert t.message is Msg.AGE_QUESTION


def test_a_failed_birth_date_is_asked_again_for_the_next_item() -> None:
    t = born(till().do(BEER_SCAN), "20100101")
    assert t.message is Msg.AGE_TOO_YOUNG
    t.do(BEER_SCAN)
    assert t.message is Msg.AGE_QUESTION


def test_a_void_never_asks() -> None:
    t = till().do(BEER_SCAN, "key YES", "key VOID")
    assert t.state.mode is not Mode.AGE_CHECK
    assert t.message is not Msg.AGE_QUESTION


def test_a_resumed_sale_is_not_asked_again() -> None:
    t = till().do(BEER_SCAN, "key YES", "key SUSPEND")
    assert t.state.parked and t.state.parked[0].sale.age_checked == (18,)
    no = t.state.parked[0].no
    t.do(f"key {no} RESUME")
    assert t.state.sale is not None and t.state.sale.age_checked == (18,)
    t.do(BEER_SCAN)
    assert t.message is Msg.ITEM_ADDED


def test_the_default_minimum_age_is_configured() -> None:
    t = till(default_min_age=20).do(BEER_SCAN)
    assert t.state.message is not None and t.state.message.arg("min_age") == "20"
    born(t, "20071128")  # 19 today
    assert t.message is Msg.AGE_TOO_YOUNG


def test_returns_are_never_asked() -> None:
    rules = SaleRules()
    assert restrictions.age_to_ask(None, BEER, rules) == 18
    assert restrictions.age_to_ask(None, BEER, rules, is_return=True) is None
    assert restrictions.age_to_ask(None, replace(BEER, age_restricted=False), rules) is None


# --- the age boundary ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(2008, 12, 2), date(2026, 12, 1), 17),  # the day before the 18th birthday
        (date(2008, 12, 2), date(2026, 12, 2), 18),  # on it
        (date(2008, 12, 2), date(2026, 12, 3), 18),  # after it
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # not a leap year: not yet
        (date(2008, 2, 29), date(2026, 3, 1), 18),  # ... on 1 March
        (date(2004, 2, 29), date(2024, 2, 28), 19),  # a leap year: the day before
        (date(2004, 2, 29), date(2024, 2, 29), 20),  # ... on 29 February itself
        (date(2004, 2, 29), date(2024, 3, 1), 20),
        (date(2000, 1, 1), date(2000, 1, 1), 0),
    ],
)
def test_age_on(birth: date, today: date, age: int) -> None:
    assert restrictions.age_on(birth, today) == age


@pytest.mark.parametrize(
    ("today", "dob", "msg"),
    [
        (datetime(2026, 12, 1, 23, 59, tzinfo=CST), "20081202", Msg.AGE_TOO_YOUNG),
        (datetime(2026, 12, 2, 0, 0, tzinfo=CST), "20081202", Msg.ITEM_ADDED),
        (datetime(2026, 12, 3, 9, 0, tzinfo=CST), "20081202", Msg.ITEM_ADDED),
        (datetime(2026, 2, 28, 9, 0, tzinfo=CST), "20080229", Msg.AGE_TOO_YOUNG),
        (datetime(2026, 3, 1, 9, 0, tzinfo=CST), "20080229", Msg.ITEM_ADDED),
        (datetime(2024, 2, 28, 9, 0, tzinfo=CST), "20060229", Msg.BAD_BIRTH_DATE),  # no such day
        (datetime(2024, 2, 28, 9, 0, tzinfo=CST), "20060301", Msg.AGE_TOO_YOUNG),
        (datetime(2028, 2, 28, 9, 0, tzinfo=CST), "20100229", Msg.BAD_BIRTH_DATE),
        (datetime(2026, 2, 28, 9, 0, tzinfo=CST), "20040229", Msg.ITEM_ADDED),
    ],
)
def test_the_birth_date_at_the_boundary(today: datetime, dob: str, msg: Msg) -> None:
    t = till()
    t.now = today
    born(t.do(BEER_SCAN), dob)
    assert t.message is msg


def test_a_leap_day_birth_in_a_leap_year_is_exact() -> None:
    t = till()
    t.now = datetime(2028, 2, 28, 9, 0, tzinfo=CST)
    born(t.do(BEER_SCAN), "20100228")  # 18 on 2028-02-28
    assert t.message is Msg.ITEM_ADDED
    t = till()
    t.now = datetime(2028, 2, 28, 9, 0, tzinfo=CST)
    born(t.do(BEER_SCAN), "20080229")  # 20 on 2028-02-29: 19 today
    assert t.message is Msg.ITEM_ADDED and age_events(t)[-1]["age"] == "19"


# --- sale hours ------------------------------------------------------------------------


def at(hh: int, mm: int, day: int = 28) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=CST)


ALCOHOL = (("alcohol", time(8), time(22)),)


@pytest.mark.parametrize(
    ("when", "step", "msg"),
    [
        # the department's hours (config): 08:00 inclusive to 22:00 exclusive
        (at(7, 59), "scan 2", Msg.SALE_HOURS),
        (at(8, 0), "scan 2", Msg.AGE_QUESTION),
        (at(21, 59), "scan 2", Msg.AGE_QUESTION),
        (at(22, 0), "scan 2", Msg.SALE_HOURS),
        # the item's own hours, over midnight: 22:00 to 06:00
        (at(21, 59), "key 4 4 PLU", Msg.SALE_HOURS),
        (at(22, 0), "key 4 4 PLU", Msg.ITEM_ADDED),
        (at(23, 59), "key 4 4 PLU", Msg.ITEM_ADDED),
        (at(0, 0), "key 4 4 PLU", Msg.ITEM_ADDED),
        (at(5, 59), "key 4 4 PLU", Msg.ITEM_ADDED),
        (at(6, 0), "key 4 4 PLU", Msg.SALE_HOURS),
        (at(12, 0), "key 4 4 PLU", Msg.SALE_HOURS),
        # no hours at all
        (at(3, 0), "scan 6954767410388", Msg.ITEM_ADDED),
    ],
)
def test_sale_hours_at_their_edges(when: datetime, step: str, msg: Msg) -> None:
    t = till(department_hours=ALCOHOL)
    t.now = when
    t.do(step)
    assert t.message is msg


def test_an_items_own_hours_come_before_its_departments() -> None:
    rules = SaleRules(department_hours=ALCOHOL)
    own = replace(WINE, sale_hours=(time(10), time(12)))
    assert restrictions.sale_hours(own, rules) == (time(10), time(12))
    assert restrictions.sale_hours(WINE, rules) == (time(8), time(22))
    assert restrictions.sale_hours(replace(WINE, department="dairy"), rules) is None


def test_out_of_hours_shows_the_hours_and_changes_nothing() -> None:
    t = till(department_hours=ALCOHOL).do("scan 6954767410388", "key 2 QTY")
    before = t.state
    t.now = at(22, 0)
    t.do("scan 1")
    assert t.effects == []
    assert t.state == replace(before, message=t.state.message)
    assert t.state.message is not None
    assert t.state.message.render("en") == "白酒: sold 08:00–22:00 only"
    assert t.state.message.render("zh") == "白酒：仅限 08:00–22:00 销售"


def test_out_of_hours_is_refused_before_the_age_question() -> None:
    t = till(department_hours=ALCOHOL)
    t.now = at(23, 0)
    t.do("scan 1")
    assert t.message is Msg.SALE_HOURS and t.state.mode is Mode.READY


def test_hours_in_the_lanes_local_time() -> None:
    t = till(department_hours=ALCOHOL)
    t.now = at(21, 30).astimezone(CST)  # the core's now is the lane's local time
    assert restrictions.within((time(8), time(22)), t.now.time())


# --- the screen ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_age_question_on_screen(language: str) -> None:
    assert "prompt_age_check" in LABELS[language]
    t = till().do(BEER_SCAN)
    v = screen_view(t.state, t.setup, ScreenSetup(language=language), t.now)
    assert v.prompt == LABELS[language]["prompt_age_check"]
    assert v.message is not None and "18" in v.message.text


# --- properties ------------------------------------------------------------------------

TIMES = st.builds(time, st.integers(0, 23), st.integers(0, 59))


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@given(TIMES, TIMES, TIMES)
def test_within_is_the_span_from_start_to_end_going_forward(start, end, at_) -> None:
    assume(start != end)
    forward = (minutes(at_) - minutes(start)) % 1440 < (minutes(end) - minutes(start)) % 1440
    assert restrictions.within((start, end), at_) == forward


@given(st.dates(date(1900, 1, 1), date(2100, 1, 1)), st.integers(1, 100))
def test_a_birthday_adds_a_year_and_the_day_before_does_not(born, years) -> None:
    birthday = restrictions.birthday_in(born, born.year + years)
    assert restrictions.age_on(born, birthday) == years
    assert restrictions.age_on(born, birthday - timedelta(days=1)) == years - 1


@given(st.text(max_size=12))
def test_any_entry_is_a_birth_date_or_none(entry) -> None:
    born = restrictions.parse_birth_date(entry, date(2026, 12, 2))
    assert born is None or (born <= date(2026, 12, 2) and born.strftime("%Y%m%d") == entry)


@given(st.one_of(st.none(), st.integers(), st.text(max_size=6), st.lists(st.text(max_size=6))))
def test_hours_of_anything_is_hours_or_value_error(value) -> None:
    try:
        start, end = restrictions.hours_of(value)
    except ValueError:
        return
    assert start != end
