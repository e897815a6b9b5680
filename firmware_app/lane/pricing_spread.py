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
    base = sum([weight for _, weight in weights])
    if total <= 0 or base <= 0:
        return {key: 0 for key, _ in weights}
    shares: dict[int, int] = {}
    remainders: list[tuple[int, int]] = []  # (−remainder, key): largest first, lower key
    given = 0
    for key, weight in weights:
        share, remainder = divmod(weight * total, base)
        shares[key] = share
        given += share
        if remainder:
            remainders.append((-remainder, key))
    left = total - given
    if left:
        remainders.sort()
        for _, key in remainders[:left]:
            shares[key] += 1
    return shares


def to_lines(
    lines: Sequence[tuple[int, int]], shares: Sequence[tuple[int, int]]
) -> dict[int, list[tuple[int, int]]]:
    """A class's shares ((promotion rank, minor units), in the order they are given)
    over its ``lines`` ((line number, amount)): line number -> [(rank, discount > 0)]."""
    if len(lines) == 1:  # most classes: one line takes it all
        no, left = lines[0]
        alone: list[tuple[int, int]] = []
        for rank, share in shares:
            share = min(share, left)
            if share > 0:
                left -= share
                alone.append((rank, share))
        return {no: alone}
    numbers = [no for no, _ in lines]  # ascending: ties to the lower line number
    rest = [amount for _, amount in lines]
    given: dict[int, list[tuple[int, int]]] = {no: [] for no in numbers}
    for rank, share in shares:
        base = sum(rest)
        share = min(share, base)
        if share <= 0:
            continue
        got = [0] * len(rest)
        remainders: list[tuple[int, int]] = []  # (−remainder, position)
        for i, weight in enumerate(rest):
            got[i], remainder = divmod(weight * share, base)
            if remainder:
                remainders.append((-remainder, i))
        remainders.sort()
        for _, i in remainders[: share - sum(got)]:
            got[i] += 1
        for i, amount in enumerate(got):
            if amount > 0:
                rest[i] -= amount
                given[numbers[i]].append((rank, amount))
    return given
