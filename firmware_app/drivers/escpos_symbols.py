"""The receipt's code as a printed symbol: QR Code (``GS ( k``) or CODE128 (``GS k``). Pure.

Both print only the bars or modules: the encoder prints the code as text
below them itself, so it wraps and measures like every other line.
"""

from __future__ import annotations

from escpos.constants import BARCODE_HEIGHT, BARCODE_TXT_OFF, BARCODE_WIDTH, GS

QR_COMMAND: bytes = GS + b"(k"  # GS ( k pL pH cn fn ...: 2D codes
QR_CN = 49  # cn for QR Code among the GS ( k symbologies
QR_MODEL_2 = bytes((65, 50, 0))  # fn 65: select model, n1 = 50 (model 2), n2 = 0
QR_MODULE_DOTS = 4  # fn 67: module size in dots (about 0.5 mm at 203 dpi)
QR_EC_M = 49  # fn 69: error correction level M (15 %)
QR_STORE = 80  # fn 80: store the data, m = 48
QR_PRINT = 81  # fn 81: print the stored symbol, m = 48
QR_MAX_BYTES = 512  # longer codes are printed as text only

BARCODE_COMMAND: bytes = GS + b"k"  # GS k m n d1..dn (function B: m 65..79)
CODE128 = 73  # m for CODE128
CODE_SET_B = b"{B"  # CODE128 data starts by choosing a code set; B is printable ASCII
BARCODE_HEIGHT_DOTS = 80  # GS h: 10 mm, tall enough for any hand scanner
BARCODE_MODULE_DOTS = 2  # GS w: 0.25 mm bars; 2 is the narrowest every printer takes
# A scanner needs 10 blank modules (2.5 mm here) on each side of the bars: the paper's
# margins outside the printable width (4 mm on 80 mm paper, 5 mm on 58 mm) give them.
MAX_BARCODE_BYTES = 255  # n is one byte


def qr_code(data: bytes) -> bytes:
    """A QR Code (model 2, EC level M) of ``data``, stored and printed with GS ( k."""
    return b"".join(
        (
            _gs_paren_k(QR_MODEL_2),
            _gs_paren_k(bytes((67, QR_MODULE_DOTS))),
            _gs_paren_k(bytes((69, QR_EC_M))),
            _gs_paren_k(bytes((QR_STORE, 48)) + data),
            _gs_paren_k(bytes((QR_PRINT, 48))),
        )
    )


def _gs_paren_k(fn_and_params: bytes) -> bytes:
    """GS ( k pL pH 49 fn ...: the length counts cn, fn and the parameters."""
    size = len(fn_and_params) + 1
    return QR_COMMAND + size.to_bytes(2, "little") + bytes((QR_CN,)) + fn_and_params


def code128_data(text: str) -> bytes:
    """``text`` (printable ASCII) as GS k CODE128 data: code set B, ``{`` doubled."""
    if not text or not all(" " <= ch <= "~" for ch in text):
        raise ValueError(f"CODE128 set B takes printable ASCII only, got {text!r}")
    return CODE_SET_B + text.replace("{", "{{").encode("ascii")


def code128_modules(text: str) -> int:
    """Modules across the bars of ``text`` in code set B: start, one symbol per
    character, check symbol (11 modules each), stop (13)."""
    return 11 * (len(text) + 2) + 13


def code128_fits(text: str, dots: int) -> bool:
    """Whether ``text`` can be printed as CODE128 within ``dots`` (14 characters on
    58 mm paper, 23 on 80 mm)."""
    data_size = len(CODE_SET_B) + len(text) + text.count("{")
    modules = code128_modules(text) * BARCODE_MODULE_DOTS
    return bool(text) and data_size <= MAX_BARCODE_BYTES and modules <= dots


def code128(text: str) -> bytes:
    """``text`` as a CODE128 barcode without human-readable text: GS H 0 (HRI off),
    GS h (height), GS w (module width), GS k 73 n d1..dn."""
    data = code128_data(text)
    if len(data) > MAX_BARCODE_BYTES:
        raise ValueError(f"CODE128 data too long: {len(data)} bytes")
    return b"".join(
        (
            BARCODE_TXT_OFF,
            BARCODE_HEIGHT + bytes((BARCODE_HEIGHT_DOTS,)),
            BARCODE_WIDTH + bytes((BARCODE_MODULE_DOTS,)),
            BARCODE_COMMAND + bytes((CODE128, len(data))) + data,
        )
    )
