"""Barcodes: GTIN check digits, UPC-E, AIM prefixes, in-store labels, GS1 element strings."""

from __future__ import annotations

import contextlib

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from firmware_app.lane.barcodes import BarcodeError, CodeKind, catalog_key, parse_scan
from firmware_app.lane.labels import LabelFormat, LabelFormatError, LabelKind, verifier_digit

PRICE = LabelFormat.parse("20IIIIIPPPPPC")
WEIGHT = LabelFormat.parse("21IIIIIWWWWWC")
LABELS = (PRICE, WEIGHT)

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@pytest.mark.parametrize(
    ("raw", "kind", "data", "key"),
    [
        ("6954767410388", CodeKind.GTIN, "6954767410388", "06954767410388"),
        ("]E06954767410388", CodeKind.GTIN, "6954767410388", "06954767410388"),
        ("036000291452", CodeKind.GTIN, "036000291452", "00036000291452"),  # UPC-A
        ("]E0036000291452", CodeKind.GTIN, "036000291452", "00036000291452"),
        ("96385074", CodeKind.GTIN, "96385074", "00000096385074"),  # EAN-8
        ("]E496385074", CodeKind.GTIN, "96385074", "00000096385074"),
        ("]E004252614", CodeKind.GTIN, "04252614", "00042100005264"),  # UPC-E, expanded
        ("04252614", CodeKind.GTIN, "04252614", "00042100005264"),  # not a valid EAN-8
        ("  6954767410388\n", CodeKind.GTIN, "6954767410388", "06954767410388"),
        ("ABC-123", CodeKind.OTHER, "ABC-123", "ABC-123"),
        ("12345", CodeKind.OTHER, "12345", "12345"),
    ],
)
def test_codes(raw: str, kind: CodeKind, data: str, key: str) -> None:
    code = parse_scan(raw)
    assert (code.kind, code.data, code.key) == (kind, data, key)


@pytest.mark.parametrize(
    "raw",
    [
        "6954767410381",  # EAN-13, wrong check digit
        "036000291453",  # UPC-A, wrong check digit
        "]E496385075",  # EAN-8, wrong check digit
        "]E004252615",  # UPC-E, wrong check digit
        "]E0123",  # ]E0 but not an EAN/UPC length
        "",
        "   ",
        "]",
        "]!9123",  # unknown symbology
        "]E0１２３４５６７８",  # full-width digits
        "6954\x00767410388",
        "1" * 129,
        "]C1019501101530008",  # GS1-128 with a bad GTIN
        "]C117251231",  # GS1-128 without AI 01
        "2000001005003",  # price label, wrong EAN check digit
    ],
)
def test_bad_scans_are_refused(raw: str) -> None:
    with pytest.raises(BarcodeError):
        parse_scan(raw, labels=LABELS)


def test_catalog_key_joins_every_form_of_a_code() -> None:
    assert catalog_key("036000291452") == catalog_key("0036000291452") == "00036000291452"
    assert catalog_key("04252614") == catalog_key("042100005264")
    assert catalog_key("INTERNAL-7") == "INTERNAL-7"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_ean13_with_its_check_digit_parses(payload: str) -> None:
    code = payload + str(gs1_standard_check_digit(payload))
    scanned = parse_scan(code)
    assert scanned.data == code
    assert scanned.key == catalog_key(code)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(1, 9))
def test_any_wrong_check_digit_is_refused(payload: str, off: int) -> None:
    wrong = (gs1_standard_check_digit(payload) + off) % 10
    with pytest.raises(BarcodeError):
        parse_scan(payload + str(wrong))


@given(st.text(max_size=300))
def test_parse_scan_raises_only_barcode_errors(raw: str) -> None:
    with contextlib.suppress(BarcodeError):
        parse_scan(raw, labels=LABELS)


def test_labels_price_and_weight() -> None:
    price = parse_scan("2000001005002", labels=LABELS)
    assert price.kind is CodeKind.LABEL and price.label is not None
    assert (price.label.plu, price.label.kind, price.label.value) == (1, LabelKind.PRICE, 500)
    weight = parse_scan("2100001005320", labels=LABELS)
    assert weight.label is not None
    assert (weight.label.plu, weight.label.kind, weight.label.value) == (1, LabelKind.WEIGHT, 532)


def test_prefix_without_a_configured_layout_is_a_plain_gtin() -> None:
    code = "22" + "0000100500"
    code += str(gs1_standard_check_digit(code))
    assert parse_scan(code, labels=LABELS).kind is CodeKind.GTIN


@given(st.integers(0, 99999), st.integers(0, 99999))
def test_label_round_trip(plu: int, value: int) -> None:
    for fmt in LABELS:
        code = fmt.encode(plu, value)
        scanned = parse_scan(code, labels=LABELS)
        assert scanned.label is not None
        assert (scanned.label.plu, scanned.label.value) == (plu, value)


def test_verifier_digits_from_the_gs1_examples() -> None:
    assert verifier_digit("2875") == 9
    assert verifier_digit("14685") == 6


def test_label_with_verifier_digit() -> None:
    fmt = LabelFormat.parse("2IIIIIVPPPPC")  # 12-digit UPC layout with a price verifier
    code = fmt.encode(1234, 2875)
    assert code[6] == "9"
    assert fmt.decode(code).value == 2875
    bad = code[:6] + "0" + code[7:]
    with pytest.raises(ValueError, match="verifier"):
        fmt.decode(bad)


@pytest.mark.parametrize(
    "pattern",
    [
        "20IIIIIPPPPP",
        "20IIIIIPPPPPCC",
        "2XIIIIPPPPPPC",
        "20IIIIIWWPPPC",
        "20IIPIIPPPPPC",
        "IIIIIIPPPPPPC",
        "20IIIIIIIIIIC",
        "20IIIVPPPPPPC",
    ],
)
def test_bad_label_patterns(pattern: str) -> None:
    with pytest.raises(LabelFormatError):
        LabelFormat.parse(pattern)


def _biip_gtin14(code: str) -> str | None:
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        return Gtin.parse(code).as_gtin_14()
    except ParseError:
        return None


gtin_like = st.one_of(
    st.sampled_from([8, 12, 13, 14]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    ),
    st.text(alphabet="0123456789", min_size=1, max_size=16),
)


@given(gtin_like)
def test_the_gtin_check_agrees_with_biip(code: str) -> None:
    """The lane's own mod-10 check and key give biip's verdict for every digit string."""
    from firmware_app.lane.barcodes import is_valid_gtin

    expected = _biip_gtin14(code)
    if len(code) != 8 or expected is not None:  # 8 digits may also be a UPC-E
        assert is_valid_gtin(code) == (expected is not None)
    if expected is not None:
        assert catalog_key(code) == expected
        assert parse_scan(code).key == expected
