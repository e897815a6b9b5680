"""Fuzzing what a scan says: barcodes, in-store labels, GS1 element strings, and the lane
core's answer to any scan.

``parse_scan`` raises only ``BarcodeError``; a label pattern only ``LabelFormatError``.
In the core, a scan the lane refuses shows a message and changes nothing else: not the
sale, not the entry, no effect. Scans are drawn from every character the scanner's
keyboard layouts can type (the German and French ones type ``²`` and ``³``), and shaped
like the things a scan can be besides an item: a receipt, a parked sale's slip, a
supervisor's badge, a member card.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import example, given
from hypothesis import strategies as st

from firmware_app.drivers import keymaps
from firmware_app.lane.barcodes import GS, BarcodeError, CodeKind, parse_scan
from firmware_app.lane.events import Scanned
from firmware_app.lane.labels import LabelFormat, LabelFormatError, LabelKind
from firmware_app.lane.messages import Msg
from firmware_app.lane.parked import read_slip_code
from tests.fuzz.devices_budget import budget
from tests.unit.till import LABELS, Till, setup_with

# Every character a wedge scanner can type in any of the layouts the driver supports.
TYPEABLE = sorted({ch for name in keymaps.LAYOUT_NAMES for ch in keymaps.layout(name).strokes})
SHAPES = ["", "S001-07-", "S001-", "S001-99-", "SUSP-S001-07-", "]C0SUSP-", "SV", "M", "]E0", "]C1"]
SHAPES += ["]e0", "]Q3", "]d2", "]E4", "20", "21", "02", "0", "]", "01"]
ODD_DIGITS = "²³١٢٣٠۱߁０１"  # digits to str.isdigit, not to a barcode: ASCII digits only

scans = st.one_of(
    st.text(alphabet=TYPEABLE, max_size=40),
    st.tuples(
        st.sampled_from(SHAPES),
        st.text(alphabet="0123456789-" + GS + ODD_DIGITS, max_size=24),
    ).map("".join),
    st.text(max_size=150),
)


def _signed_on_with_a_sale() -> Till:
    till = Till(setup=setup_with(approvals=setup_with().rules.approvals))
    till.do("signon", "scan 6954767410388", "key 2")  # an open sale, and 2 keyed
    assert till.message is Msg.ITEM_ADDED and till.state.entry == "2"
    return till


SELLING = _signed_on_with_a_sale()
READY = Till().do("signon")


def _is_something_else(text: str) -> bool:
    """A receipt, slip, badge or member card: the lane reads those before any barcode."""
    rules = SELLING.setup.rules
    badge = rules.approvals.badge_prefix
    return (
        text.startswith(SELLING.setup.store + "-")
        or read_slip_code(text) is not None
        or bool(badge and text.startswith(badge))
        or text.startswith(rules.member_prefix)
    )


# A receipt number in digits that are no ASCII digits once crashed the core (int("²")).
@example("S001-07-²")
@example("S001-07-١٢")
@budget(300)
@given(scans)
def test_a_refused_scan_shows_a_message_and_changes_nothing_else(text: str) -> None:
    for start in (SELLING, READY):
        till = Till(state=start.state)
        till.send(Scanned(text))  # raises nothing, whatever the scan
        after = till.state
        if till.effects or after.sale != start.state.sale:
            continue  # accepted: an item, a return, a member ...
        assert after.message is not None
        assert replace(after, message=start.state.message) == start.state or (
            after.mode is not start.state.mode  # a choice or an approval was asked for
        )


@budget(300)
@given(scans)
def test_a_code_the_parser_refuses_is_refused_by_the_lane(text: str) -> None:
    rules = SELLING.setup.rules
    try:
        parse_scan(text, labels=rules.label_formats, max_length=rules.max_scan_length)
    except BarcodeError:
        pass
    else:
        return
    if _is_something_else(text):
        return
    till = Till(state=SELLING.state)
    till.send(Scanned(text))
    assert till.effects == []
    assert till.message is Msg.BAD_CODE
    assert replace(till.state, message=SELLING.state.message) == SELLING.state


# --- barcodes --------------------------------------------------------------------------------


@budget(400)
@given(scans, st.integers(0, 200), st.integers(0, 4))
def test_parse_scan_raises_only_barcode_errors_and_keys_are_sane(
    text: str, max_length: int, minor_digits: int
) -> None:
    try:
        code = parse_scan(text, labels=LABELS, max_length=max_length, minor_digits=minor_digits)
    except BarcodeError:
        return
    assert code.data and text.strip().endswith(code.data)
    if code.kind is CodeKind.GTIN:
        assert len(code.key) == 14 and code.key.isascii() and code.key.isdigit()
    if code.kind is CodeKind.LABEL:
        assert code.label is not None and code.label.value >= 0
    if code.kind is CodeKind.GS1:
        assert len(code.key) == 14
        assert code.grams is None or code.grams >= 0
        assert code.price is None or code.price >= 0


# --- GS1 element strings ---------------------------------------------------------------------


def _gtin14(body: str) -> str:
    digits = body[::-1]
    total = 3 * sum(map(int, digits[0::2])) + sum(map(int, digits[1::2]))
    return body + str(-total % 10)


# A price with fewer digits than decimals (3922 1 = 0.01) was read ten times too high.
@example("00000000000000", 0, 0, (2, 1), "]C1")
@example("06954767410388", 3, 532, (3, 5), "]e0")
@budget(300)
@given(
    st.text(alphabet="0123456789", min_size=13, max_size=13).map(_gtin14),
    st.integers(0, 3),
    st.integers(0, 999_999),
    st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(0, 10**9))),
    st.sampled_from(["]C1", "]e0", "]d2", "]Q3"]),
)
def test_gs1_weight_and_price_read_exactly_or_are_refused(
    gtin: str, weight_decimals: int, weight: int, price: tuple[int, int] | None, prefix: str
) -> None:
    text = f"{prefix}01{gtin}310{weight_decimals}{weight:06d}"
    if price is not None:
        text += f"{GS}392{price[0]}{price[1]}"
    try:
        code = parse_scan(text, minor_digits=2)
    except BarcodeError as e:
        assert price is not None and price[0] > 2, e  # more decimals than the currency has
        return
    assert code.kind is CodeKind.GS1 and code.key == gtin
    assert code.grams == weight * 10 ** (3 - weight_decimals)
    if price is None:
        assert code.price is None
    else:
        assert code.price == price[1] * 10 ** (2 - price[0])


# --- in-store labels -------------------------------------------------------------------------


@budget(400)
@given(st.text(alphabet="0123456789IPWVCX", max_size=15))
def test_a_label_pattern_is_usable_or_refused_with_its_own_error(pattern: str) -> None:
    try:
        fmt = LabelFormat.parse(pattern)
    except LabelFormatError:
        return
    assert len(fmt.pattern) in (12, 13) and fmt.pattern.endswith("C")


@st.composite
def label_formats(draw: st.DrawFn) -> LabelFormat:
    """A valid layout: prefix digits, the PLU, maybe a verifier, the measure, the check."""
    length = draw(st.sampled_from([12, 13]))
    prefix = draw(st.sampled_from(["2", "20", "21", "29", "02"]))
    letter = draw(st.sampled_from("PW"))
    measure = draw(st.integers(4, 5))
    verifier = "V" if draw(st.booleans()) else ""
    item = length - 1 - len(prefix) - measure - len(verifier)
    parts = [prefix, "I" * item, verifier, letter * measure]
    if draw(st.booleans()):
        parts = [prefix, verifier, letter * measure, "I" * item]
    pattern = "".join(parts) + "C"
    return LabelFormat.parse(pattern)


@budget(200)
@given(label_formats(), st.data())
def test_labels_round_trip_and_any_digits_are_read_or_refused(
    fmt: LabelFormat, data: st.DataObject
) -> None:
    item_digits = fmt.item.stop - fmt.item.start
    measure_digits = fmt.measure.stop - fmt.measure.start
    plu = data.draw(st.integers(0, 10**item_digits - 1))
    value = data.draw(st.integers(0, 10**measure_digits - 1))
    label = fmt.encode(plu, value)
    code = parse_scan(label, labels=(fmt,))
    assert code.kind is CodeKind.LABEL and code.label is not None
    assert (code.label.plu, code.label.value) == (plu, value)
    assert code.label.kind is (LabelKind.PRICE if "P" in fmt.pattern else LabelKind.WEIGHT)
    # Any digit changed: the check digit or the verifier refuses it, or it reads as typed.
    where = data.draw(st.integers(0, len(label) - 1))
    digit = data.draw(st.sampled_from("0123456789"))
    changed = label[:where] + digit + label[where + 1 :]
    try:
        other = parse_scan(changed, labels=(fmt,))
    except BarcodeError:
        return
    assert other.data == changed
