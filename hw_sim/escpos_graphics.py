"""What the simulated printer prints that is not text: raster images, QR codes and
barcodes, kept whole so a picture of the paper can draw them. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

# GS k m: the symbologies of function A (m 0..6) and function B (m 65..79).
BARCODE_NAMES = (
    "UPC-A",
    "UPC-E",
    "EAN13",
    "EAN8",
    "CODE39",
    "ITF",
    "CODABAR",
    "CODE93",
    "CODE128",
    "GS1-128",
    "DATABAR",
    "DATABAR-TRUNCATED",
    "DATABAR-LIMITED",
    "DATABAR-EXPANDED",
    "CODE128-AUTO",
)
FUNCTION_B = 65
CODE128 = 73
CODE128_SETS = "ABC"
CODE128_FUNCTIONS = {"1": "<FNC1>", "2": "<FNC2>", "3": "<FNC3>", "4": "<FNC4>", "S": ""}


@dataclass(frozen=True)
class Graphic:
    """A printed symbol or picture.

    ``kind`` is ``image`` (``rows``: the raster bytes, ``width`` x ``height`` dots,
    enlarged ``scale`` times), ``qr`` (``text``: the data, ``module`` dots per module)
    or ``barcode`` (``name`` the symbology, ``text`` what it encodes, ``height`` and
    ``module`` in dots, as set by GS h and GS w).
    """

    kind: str
    text: str = ""
    name: str = ""
    width: int = 0
    height: int = 0
    module: int = 0
    rows: bytes = b""
    scale: tuple[int, int] = (1, 1)

    @property
    def label(self) -> str:
        """The placeholder printed in the receipt's text: ``[LOGO 576x120]``,
        ``[QR S001-01-1]``, ``[BARCODE CODE128 S001-01-1]``."""
        if self.kind == "image":
            return f"[LOGO {self.width * self.scale[0]}x{self.height * self.scale[1]}]"
        if self.kind == "qr":
            return f"[QR {self.text}]"
        return f"[BARCODE {self.name} {self.text}]"


def barcode_name(system: int) -> str:
    """The symbology of ``GS k m``, or ``m`` as a number when it is not one."""
    index = system - FUNCTION_B if system >= FUNCTION_B else system
    return BARCODE_NAMES[index] if 0 <= index < len(BARCODE_NAMES) else str(system)


def barcode_text(system: int, data: bytes) -> str:
    """What a barcode's data says: CODE128's code-set escapes read, others as sent."""
    if system == CODE128:
        return code128_text(data)
    return data.decode("latin-1")


def code128_text(data: bytes) -> str:
    """The characters a ``GS k 73`` barcode encodes: ``{A``/``{B``/``{C`` select a
    code set (C: each byte is two digits), ``{{`` is ``{``, ``{1``..``{4`` are the
    function characters (shown as ``<FNC1>``...), ``{S`` shifts one character."""
    out: list[str] = []
    code_set = "B"
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == ord("{") and index + 1 < len(data):
            escape = chr(data[index + 1])
            index += 2
            if escape in CODE128_SETS:
                code_set = escape
            else:
                out.append("{" if escape == "{" else CODE128_FUNCTIONS.get(escape, "?"))
            continue
        index += 1
        if code_set == "C":
            out.append(f"{byte:02d}" if byte <= 99 else "?")
        else:
            out.append(chr(byte) if 0x20 <= byte <= 0x7E else "?")
    return "".join(out)
