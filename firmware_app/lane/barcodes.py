"""Reading what the scanner typed: symbology prefixes, GTINs, in-store labels, GS1 element strings.

UPC-E, GS1 element strings and symbology identifiers come from biip. A plain
GTIN's check is the GS1 mod-10 sum, done here: it is the one test on the scan
and catalog-import paths, and biip's full parse (company prefix lookups) cost
five times as much for nothing the lane uses; a property test holds both to
one verdict. The lane adds what a checkout
needs around it: the AIM prefix decides between EAN-8 and UPC-E for 8-digit
codes, in-store label layouts are configurable (``labels.py``), and every code
gets one lookup key so a UPC-A, its UPC-E form and a zero-padded EAN-13 find
the same catalog item.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_messages import GS1Message
from biip.symbology import SymbologyIdentifier
from biip.upc import Upc

from firmware_app.lane.labels import LabelData, LabelFormat

GS = "\x1d"  # FNC1 as sent by scanners between GS1 fields

# AIM symbology identifiers (ISO/IEC 15424) of the GS1 symbologies a lane sees.
_EAN_UPC = "E0"  # EAN-13, UPC-A, UPC-E
_EAN_8 = "E4"
_GS1_MESSAGE = frozenset(
    {"C1", "e0", "d2", "Q3", "J1"}
)  # GS1-128, DataBar, DataMatrix, QR, DotCode


class BarcodeError(ValueError):
    """A scan that cannot be a valid code: the message says why, for the technician log."""


class CodeKind(enum.Enum):
    GTIN = "gtin"  # a trade item number: look it up by its GTIN-14 key
    LABEL = "label"  # an in-store label: PLU plus price or weight
    GS1 = "gs1"  # GS1 element strings (DataBar Expanded on fresh food)
    OTHER = "other"  # anything else (member cards, internal codes): looked up as typed


@dataclass(frozen=True)
class ScannedCode:
    """One scan, understood.

    ``data`` is the code without its AIM prefix (what goes into the sale line as
    ``code``); ``key`` is what the catalog is searched by; ``label`` is set for
    in-store labels; ``grams``/``price`` are set when a GS1 element string
    carries a net weight (AI 310n) or a price (AI 392n, minor units).
    """

    kind: CodeKind
    data: str
    key: str
    symbology: str = ""
    label: LabelData | None = None
    grams: int | None = None
    price: int | None = None


def catalog_key(code: str) -> str:
    """The lookup key of a catalog code: GTINs as 14 digits, anything else unchanged.

    Catalog import and scans both go through here, so ``036000291452`` (UPC-A),
    its UPC-E form ``03600024``, ``0036000291452`` and ``00036000291452`` all meet.
    """
    if is_gtin_shaped(code):
        return gtin_key(code) or code
    return code


def is_gtin_shaped(code: str) -> bool:
    """ASCII digits of a GTIN's length (8, 12, 13 or 14): a GTIN unless its check fails."""
    return len(code) in (8, 12, 13, 14) and _digits(code)


def gtin_key(code: str) -> str | None:
    """The GTIN-14 key of a GTIN-shaped code whose check digit is right (an 8-digit code
    as EAN-8, else as UPC-E), or None."""
    if _valid_gtin(code):
        return code.zfill(14)
    return _try_upc_e(code) if len(code) == 8 else None


def is_valid_gtin(code: str) -> bool:
    """True for an EAN-8/UPC-A/EAN-13/GTIN-14 or 8-digit UPC-E with a right check digit."""
    return is_gtin_shaped(code) and gtin_key(code) is not None


def parse_scan(
    raw: str,
    *,
    labels: tuple[LabelFormat, ...] = (),
    max_length: int = 128,
    minor_digits: int = 2,
) -> ScannedCode:
    """Understand one scan; raises ``BarcodeError`` for garbage or a bad check digit."""
    if len(raw) > max_length:
        raise BarcodeError(f"scan of {len(raw)} characters is longer than {max_length}")
    text = raw.strip()
    if not text:
        raise BarcodeError("empty scan")
    if any(not c.isprintable() and c != GS for c in text):
        raise BarcodeError(f"scan {text!r} contains control characters")
    symbology, data = _split_symbology(text)
    if not data:
        raise BarcodeError(f"scan {text!r} has a symbology prefix but no data")
    if symbology in _GS1_MESSAGE:
        return _gs1_message(data, symbology, minor_digits)
    if symbology in (_EAN_UPC, _EAN_8) and not _digits(data):
        raise BarcodeError(f"scan {text!r}: EAN/UPC data must be digits")
    if _digits(data) and (len(data) in (8, 12, 13, 14) or symbology in (_EAN_UPC, _EAN_8)):
        return _numeric(data, symbology, labels)
    return ScannedCode(CodeKind.OTHER, data, data, symbology)


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts ``"١٢"`` and ``"²"``."""
    return text.isascii() and text.isdigit()


def _split_symbology(text: str) -> tuple[str, str]:
    if not text.startswith("]"):
        return "", text
    try:
        ident = SymbologyIdentifier.extract(text)
    except (ParseError, IndexError, ValueError) as e:
        raise BarcodeError(f"scan {text!r}: unknown symbology prefix") from e
    return ident.value[1:], text[len(ident.value) :]


def _numeric(data: str, symbology: str, labels: tuple[LabelFormat, ...]) -> ScannedCode:
    if len(data) == 8 and symbology != _EAN_8:
        upc_e = _try_upc_e(data)
        # With ]E0 an 8-digit code is UPC-E; without a prefix it is EAN-8 when
        # that is valid, else UPC-E.
        if upc_e is not None and (symbology == _EAN_UPC or not _valid_gtin(data)):
            return ScannedCode(CodeKind.GTIN, data, upc_e, symbology)
    if len(data) not in (8, 12, 13, 14):
        raise BarcodeError(f"code {data}: {len(data)} digits is not an EAN/UPC length")
    if not _valid_gtin(data):
        expected = gs1_standard_check_digit(data[:-1])  # for the message only
        raise BarcodeError(f"code {data}: wrong check digit (expected {expected}, got {data[-1]})")
    for fmt in labels:
        if fmt.matches(data):
            try:
                label = fmt.decode(data)
            except ValueError as e:
                raise BarcodeError(str(e)) from e
            return ScannedCode(CodeKind.LABEL, data, data, symbology, label=label)
    return ScannedCode(CodeKind.GTIN, data, data.zfill(14), symbology)


def _try_upc_e(data: str) -> str | None:
    if data[0] not in "01":
        return None
    try:
        return Upc.parse(data).as_gtin_14()
    except ParseError:
        return None


def _valid_gtin(data: str) -> bool:
    """``data`` (ASCII digits) is 8, 12, 13 or 14 long and ends in its GS1 check digit:
    from the right, the digits before it weigh 3, 1, 3, 1 …, and the sum plus the
    check digit is a multiple of ten."""
    if len(data) not in (8, 12, 13, 14):
        return False
    digits = data[::-1]
    total = 3 * sum(map(int, digits[1::2])) + sum(map(int, digits[2::2])) + int(digits[0])
    return total % 10 == 0


def _gs1_message(data: str, symbology: str, minor_digits: int) -> ScannedCode:
    try:
        message = GS1Message.parse(data)
    except ParseError as e:
        raise BarcodeError(f"GS1 code {data!r}: {e}") from e
    gtin = grams = price = None
    for element in message.element_strings:
        ai = element.ai.ai
        if ai == "01":
            if element.gtin is None:
                raise BarcodeError(f"GS1 code {data!r}: {element.gtin_error}")
            gtin = element.gtin.as_gtin_14()
        elif ai.startswith("310") and element.decimal is not None:
            grams = _scaled(_measure(element.value, ai), 3)
        elif ai.startswith("392") and element.decimal is not None:
            price = _scaled(_measure(element.value, ai), minor_digits)
    if gtin is None:
        raise BarcodeError(f"GS1 code {data!r} carries no GTIN (AI 01)")
    return ScannedCode(CodeKind.GS1, data, gtin, symbology, grams=grams, price=price)


def _measure(value: str, ai: str) -> Decimal:
    """The value of AI 310n or 392n with its n decimals. Not biip's ``decimal``: it reads
    a value of n digits or fewer wrongly (``3922`` ``1`` as 0.1 instead of 0.01)."""
    return Decimal(value).scaleb(-int(ai[3]))


def _scaled(value: Decimal, digits: int) -> int:
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise BarcodeError(f"value {value} has more than {digits} decimals")
    return int(scaled)
