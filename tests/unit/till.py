"""A till for core tests: fakes with memory for the core's ports, and a tiny step language.

till = Till()
till.do("key 1 0 0 1 SIGNON 1 2 3 4 ENTER", "scan 6954767410388")
assert till.message == Msg.ITEM_ADDED
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import ClassVar

from firmware_app.lane.catalog import Item, Unit
from firmware_app.lane.effects import (
    DURABLE,
    ClearPinFailures,
    CommitSale,
    Effect,
    RecordPinFailure,
)
from firmware_app.lane.events import (
    DrawerSwitch,
    Event,
    KeyPressed,
    PaymentResult,
    SaveFailed,
    ScaleUpdate,
    Scanned,
    Tick,
)
from firmware_app.lane.labels import LabelFormat
from firmware_app.lane.machine import handle
from firmware_app.lane.messages import Msg
from firmware_app.lane.ports import Cashier, PinRecord, Ports, Role
from firmware_app.lane.promotions import Loyalty, Promotion
from firmware_app.lane.return_source import NotReturnable, ReturnSource
from firmware_app.lane.rules import (
    ApprovalRules,
    CashRounding,
    LaneSetup,
    ReceiptSetup,
    SaleRules,
)
from firmware_app.lane.sale import FinishedSale
from firmware_app.lane.state import LaneState
from firmware_app.lane.weighing import ScaleReading, ScaleStatus

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=CST)

COLA = Item("100234", "可口可乐 330ml", Unit.EACH, 350, Decimal("13"), plu=234)
APPLE = Item("200001", "富士苹果", Unit.KG, 1280, Decimal("9"), plu=1)
BREAD = Item("300001", "Bread", Unit.EACH, 1000, Decimal("9"), plu=3001)
BEER = Item("400001", "青岛啤酒", Unit.EACH, 600, Decimal("13"), age_restricted=True)
OLD = Item("500001", "Discontinued", Unit.EACH, 100, Decimal("13"), active=False)

CODES = {
    "06954767410388": COLA,  # EAN-13 6954767410388
    "00000096385074": BREAD,  # EAN-8 96385074
    "06901035603423": BEER,
    "00042100005264": OLD,  # UPC-A 042100005264 / UPC-E 04252614
}

LABELS = (LabelFormat.parse("20IIIIIPPPPPC"), LabelFormat.parse("21IIIIIWWWWWC"))


class FakeCatalog:
    def __init__(self) -> None:
        self.codes = dict(CODES)
        self.items = [COLA, APPLE, BREAD, BEER, OLD]

    def by_code(self, key: str) -> Item | None:
        return self.codes.get(key)

    def by_plu(self, plu: int) -> Item | None:
        return next((i for i in self.items if i.plu == plu), None)

    # Promotions and loyalty: none in this catalog.
    def promotions(self) -> tuple[Promotion, ...]:
        return ()

    def loyalty(self) -> Loyalty | None:
        return None


class FakeCashiers:
    """Accounts, and the wrong-PIN records the core's effects write (``remember``)."""

    accounts: ClassVar[dict[str, tuple[str, Role]]] = {
        "1001": ("1234", Role.CASHIER),
        "1002": ("2222", Role.CASHIER),
        "9001": ("9999", Role.SUPERVISOR),
        "9002": ("8888", Role.SUPERVISOR),
        "7001": ("7777", Role.TECHNICIAN),
    }

    def __init__(self) -> None:
        self.records: dict[str, PinRecord] = {}

    def verify(self, cashier_id: str, pin: str) -> Cashier | None:
        account = self.accounts.get(cashier_id)
        return Cashier(cashier_id, account[1]) if account and account[0] == pin else None

    def find(self, cashier_id: str) -> Cashier | None:
        account = self.accounts.get(cashier_id)
        return Cashier(cashier_id, account[1]) if account else None

    def pin_record(self, cashier_id: str) -> PinRecord:
        return self.records.get(cashier_id, PinRecord())

    def remember(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, RecordPinFailure):
                self.records[effect.cashier_id] = PinRecord(effect.failures, effect.locked_until)
            elif isinstance(effect, ClearPinFailures):
                self.records.pop(effect.cashier_id, None)


# Returns: finished sales by receipt number, as the store keeps them.
class FakeReturns:
    """The sales the till committed (``remember``), plus any a test puts in ``sales``;
    ``gone``: receipt numbers that answer with a reason instead."""

    def __init__(self, lane: str) -> None:
        self.lane = lane
        self.sales: dict[int, FinishedSale] = {}
        self.gone: dict[int, NotReturnable] = {}

    def sale_by_receipt(self, receipt_no: int) -> ReturnSource | NotReturnable:
        if receipt_no in self.gone:
            return self.gone[receipt_no]
        sale = self.sales.get(receipt_no)
        if sale is None or sale.training:
            return NotReturnable.UNKNOWN
        returned: dict[int, int] = {}
        for other in self.sales.values():
            for line in other.lines:
                ref = line.return_of
                if ref is not None and ref.receipt_no == receipt_no and not line.voided:
                    returned[ref.line] = returned.get(ref.line, 0) - line.qty
        return ReturnSource(
            self.lane,
            receipt_no,
            sale.kind,
            sale.lines,
            tuple(sorted(returned.items())),
            # Members and points: the sale's member and the points it earned.
            member=sale.member,
            member_verified=sale.member_verified,
            points=sale.points,
        )

    def remember(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, CommitSale) and not effect.record.training:
                self.sales[effect.record.receipt_no] = effect.record


def setup_with(**rules: object) -> LaneSetup:
    base = {
        "label_formats": LABELS,
        "max_cash_tender": 100000,
        "cash_rounding": CashRounding(),
        "approvals": ApprovalRules(badge_prefix="SV"),
    }
    base.update(rules)
    return LaneSetup(
        store="S001",
        lane="07",
        rules=SaleRules(**base),  # type: ignore[arg-type]
        receipt=ReceiptSetup(header=("测试超市",), footer=("谢谢",), language="zh-en"),
    )


@dataclass
class Till:
    setup: LaneSetup = field(default_factory=setup_with)
    state: LaneState = field(default_factory=LaneState)
    now: datetime = T0
    effects: list[Effect] = field(default_factory=list)  # of the last step
    all_effects: list[Effect] = field(default_factory=list)
    ids: int = 0
    disk_full: bool = False  # every durable effect fails, as the lane loop would see it
    failed: list[Effect] = field(default_factory=list)  # durable effects that could not be saved

    def __post_init__(self) -> None:
        self.cashiers = FakeCashiers()
        self.returns = FakeReturns(self.setup.lane)  # returns
        self.ports = Ports(FakeCatalog(), self.cashiers, self._new_id, returns=self.returns)

    def _new_id(self) -> str:
        self.ids += 1
        return f"id-{self.ids}"

    def send(self, event: Event) -> Till:
        state, effects = handle(self.state, event, self.now, self.ports, self.setup)
        if self.disk_full and any(isinstance(e, DURABLE) for e in effects):
            # What the lane loop does when its transaction fails: nothing is driven,
            # and the core hears of the failure with the state as it was.
            self.failed.extend(effects)
            state, effects = handle(self.state, SaveFailed(event), self.now, self.ports, self.setup)
        self.cashiers.remember(list(effects))
        self.returns.remember(list(effects))
        self.state = state
        self.effects = list(effects)
        self.all_effects.extend(effects)
        return self

    def do(self, *steps: str) -> Till:
        """Steps: ``key K …``, ``type 12.5``, ``scan DATA``, ``scale 0.532|moving|over|under|
        silent``, ``wait SECONDS``, ``terminal approve|decline``, ``late approve|decline``,
        ``drawer open|closed``, ``tick``, ``signon`` (as 1001), ``supervisor`` (sign on as
        9001), ``approve`` (9001 approves at the prompt), ``disk full|ok``."""
        for step in steps:
            verb, _, rest = step.partition(" ")
            getattr(self, f"_{verb}")(rest)
        return self

    def _key(self, rest: str) -> None:
        for key in rest.split():
            self.send(KeyPressed(key))

    def _type(self, rest: str) -> None:
        for ch in rest:
            self.send(KeyPressed("DOT" if ch == "." else ch))

    def _scan(self, rest: str) -> None:
        self.send(Scanned(rest))

    def _scale(self, rest: str) -> None:
        statuses = {s.value: s for s in ScaleStatus}
        if rest in statuses:
            self.send(ScaleUpdate(ScaleReading(statuses[rest])))
        else:
            grams = int(Decimal(rest) * 1000)
            self.send(ScaleUpdate(ScaleReading.stable(grams, f"{Decimal(rest):06.3f}")))

    def _wait(self, rest: str) -> None:
        self.now += timedelta(seconds=float(rest))

    def _terminal(self, rest: str) -> None:
        assert self.state.payment is not None, "no payment pending"
        rid = self.state.payment.request_id
        self.send(PaymentResult(rid, approved=rest == "approve", reference="REF1", reason="NSF"))

    def _late(self, rest: str) -> None:
        """``late approve|decline``: the answer to the charge the lane last gave up on."""
        assert self.state.abandoned, "no charge given up on"
        rid = self.state.abandoned[-1].request_id
        self.send(PaymentResult(rid, approved=rest == "approve", reference="LATE1", reason="NSF"))

    def _drawer(self, rest: str) -> None:
        self.send(DrawerSwitch(is_open=rest == "open"))

    def _tick(self, rest: str) -> None:
        self.send(Tick())

    def _signon(self, rest: str) -> None:
        self._key("1 0 0 1 SIGNON 1 2 3 4 ENTER")

    def _supervisor(self, rest: str) -> None:
        self._key("9 0 0 1 SIGNON 9 9 9 9 ENTER")

    def _approve(self, rest: str) -> None:
        self._key("9 0 0 1 ENTER 9 9 9 9 ENTER")

    def _disk(self, rest: str) -> None:
        self.disk_full = rest == "full"

    @property
    def message(self) -> Msg | None:
        return self.state.message.id if self.state.message else None

    def effect_types(self) -> list[str]:
        return [type(e).__name__ for e in self.effects]


def check_path(till: Till, step: str, message: Msg, effects: list[str], refusals: set[Msg]) -> None:
    """One row of a table of paths: ``step`` (what is keyed before its last key is keyed
    first) shows ``message`` and has ``effects`` (their type names); a message in
    ``refusals`` leaves the state as it was before the last key, its message aside."""
    verb, _, keys = step.partition(" ")
    if verb == "key" and " " in keys:  # what is keyed before the last key stays keyed
        keyed, _, last = keys.rpartition(" ")
        till.do(f"key {keyed}")
        step = f"key {last}"
    before_last = till.state
    till.do(step)
    assert till.message == message, till.state.message
    assert till.effect_types() == effects
    if message in refusals:
        assert replace(till.state, message=None) == replace(before_last, message=None)
