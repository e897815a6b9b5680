"""Spreading a saving to the fen: over classes, then over each class's lines.

Both steps share by largest remainder (``spread``). A promotion's saving is first shared
over the classes it covers, in proportion to the amounts it covers there, ties to the
lower class (by sku, then price: never by line number, so renumbering the lines cannot
move a fen from one sku to another); then each class's shares go to its lines in
promotion order (item-level promotions by id, then thresholds by id), each in
proportion to what is left of the lines, ties to the lower line number. What is left
never goes below zero, so no line's discount exceeds its amount.
"""

from __future__ import annotations

from collections.abc import Sequence


def spread(total: int, weights: Sequence[tuple[int, int]]) -> dict[int, int]:
    """``total`` (minor units) shared over ``weights`` (key, weight ≥ 0) in proportion,
    by largest remainder, ties to the lower key. The shares sum to ``total`` exactly and
    none exceeds its weight while ``total`` ≤ the weights' sum (the caller keeps it so)."""
    base = sum(weight for _, weight in weights)
    if total <= 0 or base <= 0:
        return {key: 0 for key, _ in weights}
    shares = {key: weight * total // base for key, weight in weights}
    left = total - sum(shares.values())
    if left:
        order = sorted(weights, key=lambda w: (-(w[1] * total % base), w[0]))
        for key, _ in order[:left]:
            shares[key] += 1
    return shares


def to_lines(
    lines: Sequence[tuple[int, int]], shares: Sequence[tuple[int, int]]
) -> dict[int, list[tuple[int, int]]]:
    """A class's shares ((promotion rank, minor units), in the order they are given)
    over its ``lines`` ((line number, amount)): line number -> [(rank, discount > 0)]."""
    left = dict(lines)
    given: dict[int, list[tuple[int, int]]] = {no: [] for no, _ in lines}
    for rank, share in shares:
        if share <= 0:
            continue
        if len(lines) == 1:
            no = lines[0][0]
            got = {no: min(share, left[no])}
        else:
            got = spread(min(share, sum(left.values())), sorted(left.items()))
        for no, amount in got.items():
            if amount > 0:
                left[no] -= amount
                given[no].append((rank, amount))
    return given
