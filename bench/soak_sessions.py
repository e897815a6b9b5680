"""The soak's cashier: random sessions at the lane, as hw_sim console lines.

A session is what one customer (or one back-office action) takes: a basket with
counted and weighed items, promotions, a member, voids, a declined card, then a tender;
a return by receipt; parking a basket and taking it back; a paid-in or paid-out; a
no-sale; an X report; a copy of the last receipt; and once a Z. Each session starts
from what the lane has on disk (``Durable``): an open sale left by a kill is finished,
parked or cancelled first. Every session starts with ``CLEAR``s (a prompt or a list a
kill left behind is gone after a restart anyway, but one left by a refused key is not)
and closes the drawer after anything that opens it.

The cashier is 1001 (PIN 1234); a supervisor approves by scanning the badge ``SV9001``
(scanned when no approval is asked, a badge is refused and changes nothing).
"""

from __future__ import annotations

import json
import random
import sqlite3
from contextlib import closing
from pathlib import Path

from bench.soak_lane import Durable
from firmware_app.store.journal import open_readonly

SIGN_ON = ["key CLEAR", "type 1001", "key SIGNON", "type 1234", "key ENTER", "key CLEAR"]
BADGE = "scan SV9001"
COUNTED = {
    "cola": "6954767410388",  # buy one, the second half price
    "water": "6921094000018",  # member price
    "noodles": "6902263021362",  # 3 for 10.00
    "milk": "6901045504017",  # members 10% off
    "bread": "96385074",  # fixed price in the evening
    "oreo": "036000291452",  # 3.00 off in December; snacks and drinks: 100 less 20
    "gum": "042100005264",
}
BEER = "6901035603423"  # 18 or older: the lane asks
WEIGHED_PLUS = (1, 2, 101)  # apples, bananas, pork belly
BAG_PLU = 9
MEMBERS = (
    "6901234567892",  # active, 120 points
    "6901234567885",  # active
    "6901234567878",  # blocked: taken off the sale
    "6901234567861",  # well formed, not a member: taken off the sale
)
MAX_PARKED = 4


def returnable(db_path: Path) -> list[tuple[int, int]]:
    """(receipt number, line number) of sold lines no return has touched yet."""
    try:
        with closing(open_readonly(db_path)) as db:
            return db.execute(
                'SELECT t.receipt_no, l.no FROM "transaction" t JOIN transactionline l '
                "ON l.sale_id = t.sale_id WHERE t.kind = 'sale' AND NOT l.voided AND l.qty > 0 "
                "AND NOT EXISTS (SELECT 1 FROM returnline r "
                "WHERE r.of_receipt = t.receipt_no AND r.of_line = l.no) "
                "ORDER BY t.receipt_no DESC LIMIT 50"
            ).fetchall()
    except sqlite3.Error:
        return []


class Cashier:
    """Picks the next session from what the lane holds; ``rng`` makes a run repeatable
    as far as the lane's own timing allows."""

    def __init__(self, rng: random.Random, db_path: Path) -> None:
        self.rng = rng
        self.db_path = db_path

    def session(self, state: Durable, *, z_due: bool) -> tuple[str, list[str]]:
        """(kind, lines) of the next session, after a sign-on when nobody is signed on."""
        kind, lines = self._next(state, z_due=z_due)
        return kind, lines if state.signed_on else SIGN_ON + lines

    def _next(self, state: Durable, *, z_due: bool) -> tuple[str, list[str]]:
        if state.open:
            return self._finish_open(state)
        if z_due and state.zs == 0:
            # The Z closes the day only with no sale parked.
            if state.parked:
                return "resume", self.resume(state)
            return "z_report", self.z_report()
        choices: list[tuple[str, int]] = [
            ("sale", 40),
            ("sale_declined", 8),
            ("sale_big", 4),
            ("cancel", 4),
            ("return", 10),
            ("suspend", 6 if len(state.parked) < MAX_PARKED else 0),
            ("resume", 8 if state.parked else 0),
            ("paid_in", 3),
            ("paid_out", 3),
            ("no_sale", 2),
            ("x_report", 2),
            ("reprint", 2),
        ]
        kinds, weights = zip(*choices, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        make = self.return_ if kind == "return" else getattr(self, kind)
        return kind, make(state)

    # --- baskets ---------------------------------------------------------------------

    def _items(self, count: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.55:
                name = self.rng.choice(list(COUNTED))
                if self.rng.random() < 0.3:
                    lines += [f"type {self.rng.randint(2, 3)}", "key QTY"]
                lines.append(f"scan {COUNTED[name]}")
            elif roll < 0.85:
                grams = self.rng.randint(80, 2500)
                plu = self.rng.choice(WEIGHED_PLUS)
                # The platter is emptied after each item: the load must change between two.
                lines += [f"scale {grams / 1000:.3f}", f"type {plu}", "key PLU", "scale 0"]
            elif roll < 0.93:
                lines += [f"type {BAG_PLU}", "key PLU"]
            else:
                lines += [f"scan {BEER}", "key YES"]
        return lines

    def _basket(self, low: int = 1, high: int = 6) -> list[str]:
        lines = ["key CLEAR", "key CLEAR"]
        if self.rng.random() < 0.35:
            lines.append(f"scan M{self.rng.choice(MEMBERS)}")
        lines += self._items(self.rng.randint(low, high))
        if self.rng.random() < 0.2:
            lines.append("key VOID")
            lines += self._items(1)
        if self.rng.random() < 0.1:
            lines += ["key SUBTOTAL", "type 5", "key DISC", BADGE]
        return lines

    def _tender(self) -> list[str]:
        roll = self.rng.random()
        if roll < 0.55:
            return ["key CASH", "drawer close"]
        if roll < 0.65:
            # Part in cash, the rest by card: a kill between the two leaves it part paid.
            return ["type 1", "key CASH", "terminal approve", "key CARD", "drawer close"]
        return ["terminal approve", f"key {self.rng.choice(('CARD', 'MOBILE'))}"]

    def sale(self, state: Durable) -> list[str]:
        return self._basket() + self._tender()

    def sale_declined(self, state: Durable) -> list[str]:
        then = self.rng.choice((["terminal approve", "key CARD"], ["key CASH", "drawer close"]))
        return [*self._basket(), "terminal decline", "key CARD", *then, "terminal approve"]

    def sale_big(self, state: Durable) -> list[str]:
        # Snacks and drinks over 100.00: the threshold promotion takes 20.00 off.
        lines = ["key CLEAR", "key CLEAR", "type 9", "key QTY", f"scan {COUNTED['oreo']}",
                 "type 3", "key QTY", f"scan {COUNTED['cola']}"]  # fmt: skip
        return lines + self._tender()

    def cancel(self, state: Durable) -> list[str]:
        return [*self._basket(1, 3), "key CANCEL", BADGE, "drawer close"]

    def suspend(self, state: Durable) -> list[str]:
        return [*self._basket(1, 4), "key SUSPEND"]

    def resume(self, state: Durable) -> list[str]:
        no = self.rng.choice(sorted(state.parked))
        lines = ["key CLEAR", "key CLEAR", f"type {no}", "key RESUME"]
        if self.rng.random() < 0.5:
            lines += self._items(1)
        return lines + self._tender()

    def return_(self, state: Durable) -> list[str]:
        candidates = returnable(self.db_path)
        if not candidates:
            return self.sale(state)
        receipt, line = self.rng.choice(candidates)
        refund = self.rng.choice((["key CASH", "drawer close"], ["terminal approve", "key CARD"]))
        return ["key CLEAR", "key CLEAR", f"type {receipt}", "key RETURN", f"type {line}",
                "key ENTER", "key SUBTOTAL", *refund]  # fmt: skip

    # --- outside a sale --------------------------------------------------------------

    def _cash_movement(self, key: str) -> list[str]:
        amount = self.rng.randint(1, 200)
        return ["key CLEAR", "key CLEAR", f"type {amount}", f"key {key}", BADGE, "key 1 ENTER",
                "drawer close"]  # fmt: skip

    def paid_in(self, state: Durable) -> list[str]:
        return self._cash_movement("PAIDIN")

    def paid_out(self, state: Durable) -> list[str]:
        return self._cash_movement("PAIDOUT")

    def no_sale(self, state: Durable) -> list[str]:
        return ["key CLEAR", "key CLEAR", "key NOSALE", BADGE, "drawer close"]

    def x_report(self, state: Durable) -> list[str]:
        return ["key CLEAR", "key CLEAR", "key XREPORT"]

    def reprint(self, state: Durable) -> list[str]:
        return ["key CLEAR", "key CLEAR", "key REPRINT"]

    def z_report(self) -> list[str]:
        counted = self.rng.randint(0, 5000)
        return ["key CLEAR", "key CLEAR", "key ZREPORT", BADGE, f"type {counted}", "key ENTER",
                "drawer close"]  # fmt: skip

    # --- what a kill left open -------------------------------------------------------

    def _finish_open(self, state: Durable) -> tuple[str, list[str]]:
        sale_id = next(iter(state.open))
        lines = state.open[sale_id]
        paid = bool(json.loads(state.tenders.get(sale_id) or "[]"))
        live = [line for line in lines if not line[-1]]
        start = ["key CLEAR", "key CLEAR"]
        roll = self.rng.random()
        if not paid and live and roll < 0.25:
            return "suspend", [*start, "key SUSPEND"]
        if roll < 0.35:
            return "cancel", [*start, "key CANCEL", BADGE, "drawer close"]
        more = self._items(1) if not paid and self.rng.random() < 0.3 else []
        # Exact cash pays what is due, a refund included.
        return "finish", start + more + ["key CASH", "drawer close"]
