"""orjson writes the lane's JSON on the commit path; Python's json is the reference.

A journal hash is SHA-256 over canonical JSON: a store server recomputing it with
Python's ``json`` must get the lane's bytes, so the two encoders are held to the
same output for every value the lane's messages can hold.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_app.store.journal import canonical
from firmware_app.sync.contract import encode

# Text as the lane carries it: any code point but a lone surrogate (not UTF-8 at all).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300)
@given(values)
def test_canonical_json_is_pythons_byte_for_byte(value: Any) -> None:
    assert canonical(value) == json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


@settings(max_examples=300)
@given(st.dictionaries(text, values, max_size=8))
def test_encoded_messages_are_pythons_byte_for_byte(message: dict[str, Any]) -> None:
    expected = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert encode(message) == expected


def test_integers_past_64_bits_are_written_all_the_same() -> None:
    value = {"n": 10**40, "m": -(2**70)}
    assert canonical(value) == '{"m":-1180591620717411303424,"n":' + str(10**40) + "}"
    assert encode(value) == b'{"n":' + str(10**40).encode() + b',"m":-1180591620717411303424}'


def test_a_receipt_is_written_as_its_fields_in_order() -> None:
    """The print queue's JSON of a receipt: what ``json.dumps(asdict(receipt))`` wrote."""
    import dataclasses

    from firmware_app.store.print_queue import receipt_from_json, receipt_to_json
    from tests.unit.till import Till

    till = Till().do("signon", "scan 6954767410388", "scale 0.532", "key 1 PLU", "key CASH")
    receipt = till.state.last_receipt
    assert receipt is not None
    written = receipt_to_json(receipt)
    assert written == json.dumps(
        dataclasses.asdict(receipt), ensure_ascii=False, separators=(",", ":")
    )
    assert receipt_from_json(written) == receipt
