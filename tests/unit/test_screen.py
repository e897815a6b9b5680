"""The cashier's screen line: how many items, what is due, in the lane's language."""

from __future__ import annotations

import pytest

from firmware_app.drivers.text_display import render
from tests.unit.till import Till

ONE_COLA = ("signon", "scan 6954767410388")


@pytest.mark.parametrize(
    ("steps", "language", "shown"),
    [
        (ONE_COLA, "en", "1 item, due 3.50"),
        ((*ONE_COLA, "scan 6954767410388"), "en", "2 items, due 7.00"),
        (("signon", "key 2 QTY", "scan 6954767410388"), "en", "2 items, due 7.00"),
        (("signon", "key 2 QTY", "scan 6954767410388"), "zh", "2 件，应付 7.00"),
        (("signon", "scale 0.532", "key 1 PLU"), "en", "1 item, due 6.81"),
        (("signon", "scale 0.532", "key 1 PLU", "key 3 QTY", "scan 6954767410388"), "en",
         "4 items, due 17.31"),
        (("signon", "key 3 QTY", "scan 6954767410388", "key VOID"), "en", "0 items, due 0.00"),
        (("signon", "key 1 2 3 MEMBER"), "zh", "0 件，应付 0.00"),
    ],
)  # fmt: skip
def test_the_screen_counts_pieces(steps: tuple[str, ...], language: str, shown: str) -> None:
    till = Till().do(*steps)
    assert shown in render(till.state, till.setup, language)
