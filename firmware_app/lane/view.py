"""What the screens show: pure functions of the lane state, beside the core.

The cashier's screen and the customer display are views, never owners: after each
step the lane hands its new (immutable) state here and gets a snapshot back, which
a page, a pole display or a log only draws. Everything is already worded in the
screen's language and money is already formatted, so a page does no arithmetic and
knows no currency. No I/O, no clock: ``now`` is passed in.

The snapshots' JSON shapes (``lane.screen/1``, ``lane.customer/1``) are documented
in docs/screen.md.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from firmware_app.lane.catalog import Unit
from firmware_app.lane.devices import FINE, Device, StateWord
from firmware_app.lane.line_notes import line_notes
from firmware_app.lane.messages import TERMS, Message, Msg
from firmware_app.lane.money import MILLI, format_money
from firmware_app.lane.receipt_builder import line_detail
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.sale import Line, SaleKind
from firmware_app.lane.state import LaneState, Mode
from firmware_app.lane.weighing import ScaleReading, ScaleStatus, format_kg

SCREEN_SCHEMA = "lane.screen/1"
CUSTOMER_SCHEMA = "lane.customer/1"

SECRET_MODES = (Mode.PIN, Mode.SUPERVISOR_PIN)


class Level(enum.StrEnum):
    """How a message is shown: a refusal in red, a warning in amber, else plain."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


# Refusals: the key or scan changed nothing and the cashier must do something else.
ERRORS = frozenset(
    [
        Msg.SIGN_ON_FIRST,
        Msg.WRONG_PIN,
        Msg.KEY_NOT_ALLOWED,
        Msg.NEEDS_ENTRY,
        Msg.BAD_ENTRY,
        Msg.UNKNOWN_CODE,
        Msg.BAD_CODE,
        Msg.UNKNOWN_PLU,
        Msg.NOT_FOR_SALE,
        Msg.QTY_TOO_BIG,
        Msg.QTY_NOT_WEIGHED,
        Msg.LABEL_MISMATCH,
        Msg.SCALE_MOVING,
        Msg.SCALE_OVER,
        Msg.SCALE_UNDER,
        Msg.SCALE_EMPTY,
        Msg.SCALE_SILENT,
        Msg.SCALE_ERROR,
        Msg.SCALE_SAME_WEIGHT,
        Msg.SCALE_BELOW_MIN,
        Msg.SCALE_REFUSED,
        Msg.NOTHING_TO_VOID,
        Msg.NO_SUCH_LINE,
        Msg.NOT_SUPERVISOR,
        Msg.SALE_OPEN,
        Msg.CASH_TOO_LARGE,
        Msg.AMOUNT_TOO_LARGE,
        Msg.FINISH_PAYMENT,
        Msg.TERMINAL_BUSY,
        Msg.DECLINED,
        Msg.NOT_AVAILABLE,
        Msg.SAVE_FAILED,
        Msg.NO_RECEIPT,
        Msg.NO_SUCH_TENDER,
        Msg.PAID_LINES_LOCKED,
        Msg.REVERSAL_DECLINED,
        # Suspend and resume.
        Msg.NOTHING_TO_PARK,
        Msg.PARK_PAID,
        Msg.PARK_FULL,
        Msg.PARKED_SALES,
        Msg.BASKET_NOT_EMPTY,
        Msg.NO_SUCH_PARKED,
        Msg.PARKED_ELSEWHERE,
        Msg.NOTHING_PARKED,
        # Price override and discounts.
        Msg.NO_LINE,
        Msg.PRICE_TOO_HIGH,
        Msg.LINE_DISCOUNTED,
        Msg.SALE_DISCOUNTED,
        Msg.DISCOUNT_TOO_BIG,
        Msg.DISCOUNT_ZERO,
        # Members: the number was refused, or the member taken off the sale.
        Msg.MEMBER_MALFORMED,
        Msg.MEMBER_BLOCKED,
        Msg.MEMBER_UNKNOWN,
        Msg.RETURN_AT_PAID_PRICE,  # returns without receipt at a keyed price
        Msg.RETURN_NO_DISCOUNT,  # a discount never changes what a return gives back
        Msg.REFUND_UNANSWERED,  # a late refund: the return waits for its answer
    ]
)
# Something needs attention, but nothing was refused.
WARNINGS = frozenset(
    [
        Msg.AGE_QUESTION,  # restrictions: the cashier must ask the customer
        Msg.DRAWER_OPEN,
        Msg.DRAWER_LEFT_OPEN,
        Msg.DEVICE_PROBLEM,
        Msg.CALL_TECHNICIAN,
        Msg.RECEIPT_PENDING,
        Msg.RECEIPTS_WAITING,
        Msg.PAYMENT_UNSAVED,
        Msg.TERMINAL_TIMEOUT,
        Msg.REVERSAL_UNSAVED,
        Msg.REVERSAL_TIMEOUT,
        Msg.LATE_APPROVAL,
        Msg.CASH_BACK,
        Msg.CANCELLED_CASH_BACK,
        Msg.RESUMED_REPRICED,  # suspend and resume: the customer pays other prices
        Msg.MEMBER_UNVERIFIED,  # members: kept on the sale, but not checked
        # Restrictions: the item was not added.
        Msg.AGE_DECLINED,
        Msg.AGE_TOO_YOUNG,
        Msg.BAD_BIRTH_DATE,
        Msg.SALE_HOURS,
        # A refund approved after the lane stopped waiting (lane.late_refund).
        Msg.REFUND_TIMEOUT,
        Msg.LATE_REFUND_STANDS,
        Msg.LATE_REFUND_DECLINED,
    ]
)


def level(msg: Msg) -> Level:
    if msg in ERRORS:
        return Level.ERROR
    if msg in WARNINGS:
        return Level.WARNING
    return Level.INFO


# The screens' own words (messages are worded by lane.messages).
LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "cashier": "收银员",
        "lane": "收银台",
        "receipt": "小票",
        "items": "件数",
        "total": "合计",
        "discount": "优惠",
        "paid": "已付",
        "due": "应付",
        "change": "找零",
        "savings": "节省",
        "member": "会员",
        "points": "积分",  # members
        "member_asked": "查询中",
        "member_unverified": "未验证",
        "weight": "重量",
        "training": "练习 TRAINING — 不是销售凭证",
        "last": "最后商品",
        "entry": "输入",
        "qty": "数量",
        "signed_off": "未登录",
        "welcome": "欢迎光临",
        "thanks": "谢谢惠顾",
        "offline": "连接断开",
        "prompt_signed_off": "工号 + 登录键",
        "prompt_pin": "输入密码，按确认",
        "prompt_ready": "请扫描商品",
        "prompt_paying": "收款：金额 + 现金，或刷卡 / 移动支付",
        "prompt_supervisor_id": "主管工号，按确认",
        "prompt_supervisor_pin": "主管密码，按确认",
        "prompt_terminal": "请在支付终端上付款",
        "prompt_choose_tender": "选择编号，按确认",
        "prompt_choose_parked": "输入挂单号，按确认",  # suspend and resume
        "prompt_choose_return": "输入行号按确认，n 数量 退 n 件；小计结束",  # returns
        "prompt_cash_reason": "选择原因编号，按确认",  # cash movements, reports
        "prompt_counted_cash": "输入清点的现金，按确认",
        "prompt_age_check": "是 / 否，或出生日期 YYYYMMDD 按确认",  # restrictions
        "prompt_price_reason": "选择原因编号，按确认",  # price override and discounts
        "stable": "稳定",
        "moving": "晃动",
        "over": "超载",
        "under": "负值",
        "error": "故障",
        "silent": "无响应",
    },
    "en": {
        "cashier": "Cashier",
        "lane": "Lane",
        "receipt": "Receipt",
        "items": "Items",
        "total": "Total",
        "discount": "Discount",
        "paid": "Paid",
        "due": "Due",
        "change": "Change",
        "savings": "You saved",
        "member": "Member",
        "points": "points",  # members
        "member_asked": "checking",
        "member_unverified": "not checked",
        "weight": "Weight",
        "training": "TRAINING — not a receipt",
        "last": "Last item",
        "entry": "Entry",
        "qty": "Qty",
        "signed_off": "Signed off",
        "welcome": "Welcome",
        "thanks": "Thank you",
        "offline": "Connection lost",
        "prompt_signed_off": "ID, then SIGNON",
        "prompt_pin": "PIN, then ENTER",
        "prompt_ready": "Scan items",
        "prompt_paying": "Pay: amount + CASH, or CARD / MOBILE",
        "prompt_supervisor_id": "Supervisor ID, then ENTER",
        "prompt_supervisor_pin": "Supervisor PIN, then ENTER",
        "prompt_terminal": "Follow the payment terminal",
        "prompt_choose_tender": "Pick a number, then ENTER",
        "prompt_choose_parked": "Parked sale number, then ENTER",  # suspend and resume
        "prompt_choose_return": "Line number, ENTER (n QTY first for n); SUBTOTAL ends",  # returns
        "prompt_cash_reason": "Pick a reason's number, then ENTER",  # cash movements, reports
        "prompt_counted_cash": "Counted cash, then ENTER",
        "prompt_age_check": "YES / NO, or date of birth YYYYMMDD + ENTER",  # restrictions
        "prompt_price_reason": "Pick a reason's number, then ENTER",  # price override
        "stable": "stable",
        "moving": "moving",
        "over": "over",
        "under": "under zero",
        "error": "error",
        "silent": "silent",
    },
}


def labels(language: str) -> Mapping[str, str]:
    return LABELS.get(language, LABELS["en"])


@dataclass(frozen=True)
class ScreenSetup:
    """How the screens speak: ``language`` (``zh`` | ``en``), the customer display's
    ``idle_text`` between sales, and ``done_s``: how long after a sale the customer
    still sees what was paid and the change."""

    language: str = "zh"
    idle_text: tuple[str, ...] = ()
    done_s: int = 20


# --- the cashier's screen ------------------------------------------------------------------


@dataclass(frozen=True)
class SubLine:
    """A discount or promotion under its line: its name and the (negative) saving."""

    text: str
    amount: str


@dataclass(frozen=True)
class LineView:
    no: int
    name: str
    qty: str  # "2 × 3.50", "0.532 kg × 12.80/kg"
    amount: str
    voided: bool
    subs: tuple[SubLine, ...] = ()


@dataclass(frozen=True)
class Totals:
    items: int
    total: str
    discount: str
    paid: str
    due: str
    change: str | None  # after a cash sale, until the next sale starts


@dataclass(frozen=True)
class LastItem:
    name: str
    qty: str
    amount: str


@dataclass(frozen=True)
class ScaleView:
    """The live weight (the scale's own figure) and its state word (``ScaleStatus``)."""

    weight: str
    state: str
    text: str  # the state in the screen's language


@dataclass(frozen=True)
class MessageView:
    text: str
    level: Level


@dataclass(frozen=True)
class Choice:
    no: int
    text: str


@dataclass(frozen=True)
class Health:
    """One indicator: a device or part of the uplink, its state word, how bad it is."""

    device: str
    label: str
    state: str
    level: Level
    text: str  # the state in the screen's language


# Members: the member on the open sale, as the cashier's screen shows it.
@dataclass(frozen=True)
class MemberView:
    """The sale's member: its number; ``state`` ``asked`` (no answer yet), ``verified``
    (then ``name`` and ``points``, the balance before this sale, when the store server
    gave them) or ``unverified`` (no answer in time)."""

    number: str
    state: str
    name: str = ""
    points: int | None = None


def member_view(state: LaneState) -> MemberView | None:
    sale = state.sale
    if sale is None or sale.member is None:
        return None
    check = sale.member_check
    if check is None:
        return MemberView(sale.member, "unverified")
    return MemberView(sale.member, check.state.value, check.name, check.balance)


@dataclass(frozen=True)
class ScreenView:
    """The cashier's screen (``lane.screen/1``)."""

    lang: str
    store: str
    lane: str
    clock: str  # the lane's time, to the minute: "2026-12-02 19:30"
    cashier: str | None
    mode: str
    receipt_no: int  # the number this (or the next) sale's receipt gets
    training: bool
    lines: tuple[LineView, ...]
    totals: Totals
    last: LastItem | None
    scale: ScaleView | None
    entry: str  # masked in PIN modes: the PIN never leaves the lane
    qty: int | None
    prompt: str
    message: MessageView | None
    choices: tuple[Choice, ...]
    health: tuple[Health, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    member: MemberView | None = None  # members
    schema: str = SCREEN_SCHEMA


def _health_level(state: StateWord) -> Level:
    if state in FINE:
        return Level.INFO
    if state in (StateWord.BACKLOG, StateWord.OFFLINE, StateWord.UNSYNCED, StateWord.JUMPED):
        return Level.WARNING
    return Level.ERROR


def _term(language: str, word: str) -> str:
    return TERMS.get(language, {}).get(word, word.replace("_", " "))


def health(devices: tuple[tuple[Device, StateWord], ...], language: str) -> tuple[Health, ...]:
    return tuple(
        Health(str(d), _term(language, str(d)), str(s), _health_level(s), _term(language, str(s)))
        for d, s in devices
    )


def _line_view(line: Line, digits: int, words: Mapping[str, str], language: str = "zh") -> LineView:
    subs: tuple[SubLine, ...] = ()
    # Price override, discounts, member prices and promotions: each under its line.
    if line.override is not None or line.discounts or line.promotions or line.member_saving:
        notes = line_notes(line, lambda m: format_money(m, digits), language)
        subs = tuple(SubLine(text, amount) for text, amount in notes)
    elif line.discount:
        subs = (SubLine(words["discount"], format_money(-line.discount, digits)),)
    return LineView(
        line.no,
        line.name,
        line_detail(line, digits),
        format_money(line.amount, digits),
        line.voided,
        subs,
    )


def _scale_view(reading: ScaleReading | None, words: Mapping[str, str]) -> ScaleView | None:
    if reading is None:
        return None
    if reading.status is ScaleStatus.STABLE and reading.grams is not None:
        weight = f"{format_kg(reading.grams)} kg"
    else:
        weight = "-.--- kg"
    state = reading.status.value
    return ScaleView(weight, state, words.get(state, state))


def _prompt(state: LaneState, words: Mapping[str, str]) -> str:
    mode = state.mode
    if mode is Mode.READY and state.sale is not None and state.sale.tenders:
        return words["prompt_paying"]
    return words[f"prompt_{mode.value}"]


def _choices(message: Message | None, language: str) -> tuple[Choice, ...]:
    if message is None:
        return ()
    out = []
    for i, choice in enumerate(message.choices, start=1):
        no = choice.arg("no")
        out.append(Choice(int(no) if no.isdigit() else i, choice.render(language)))
    return tuple(out)


def _message_view(message: Message | None, language: str) -> MessageView | None:
    if message is None:
        return None
    return MessageView(Message(message.id, message.args).render(language), level(message.id))


def screen_view(
    state: LaneState, setup: LaneSetup, screen: ScreenSetup, now: datetime
) -> ScreenView:
    """The cashier's screen for ``state`` at ``now`` (the lane's local time)."""
    language = screen.language
    words = labels(language)
    digits = setup.rules.minor_digits

    def money(amount: int) -> str:
        return format_money(amount, digits)

    sale = state.sale
    last: LastItem | None = None
    if sale is not None:
        lines = tuple(_line_view(line, digits, words, language) for line in sale.lines)
        live = sale.live_lines
        if live:
            line = live[-1]
            last = LastItem(line.name, line_detail(line, digits), money(line.amount))
        totals = Totals(
            sale.item_count,
            money(sale.total),
            money(sale.discount),
            money(sale.paid),
            money(max(sale.due, 0)),
            None,
        )
    else:
        lines = ()
        done = state.last_sale
        change = (
            money(done.change)
            if done is not None and done.kind is SaleKind.SALE and done.change
            else None
        )
        zero = money(0)
        totals = Totals(0, zero, zero, zero, zero, change)
    entry = "*" * len(state.entry) if state.mode in SECRET_MODES else state.entry
    return ScreenView(
        lang=language,
        store=setup.store,
        lane=setup.lane,
        clock=now.strftime("%Y-%m-%d %H:%M"),
        cashier=state.cashier.id if state.cashier else None,
        mode=state.mode.value,
        # Training mode: the training counter's number, which its receipt prints as T n.
        receipt_no=state.next_training_no if state.training else state.next_receipt_no,
        training=state.training,
        lines=lines,
        totals=totals,
        last=last,
        scale=_scale_view(state.scale, words),
        entry=entry,
        qty=state.qty,
        prompt=_prompt(state, words),
        message=_message_view(state.message, language),
        choices=_choices(state.message, language),
        health=health(state.devices, language),
        labels=words,
        member=member_view(state),  # members
    )


# --- the customer display -----------------------------------------------------------------


class Phase(enum.StrEnum):
    """Where the customer is: between sales, buying, paying, or just paid."""

    IDLE = "idle"
    SELLING = "selling"
    PAYING = "paying"
    DONE = "done"


@dataclass(frozen=True)
class CustomerItem:
    """The last item: ``name`` as the catalog has it, ``name_ascii`` for displays that
    can only show ASCII (the name when it is printable ASCII, else the item's code),
    ``qty`` worded like on the receipt, ``amount`` in minor units."""

    name: str
    name_ascii: str
    qty: str
    amount: int


@dataclass(frozen=True)
class CustomerView:
    """What the customer sees, in minor units (``minor_digits`` to format them): the
    web page, the 2×20 pole display and the 8-digit LED all draw this."""

    phase: Phase
    last: CustomerItem | None
    items: int  # pieces, as the customer counts them (a weighed line is one)
    total: int
    paid: int
    due: int  # still to pay
    change: int
    savings: int
    member: str | None
    training: bool
    idle_text: tuple[str, ...]
    minor_digits: int


def pieces(lines: tuple[Line, ...]) -> int:
    """Pieces as the customer counts them: a weighed line is one item (``Sale.item_count``)."""
    return sum(ln.qty // MILLI if ln.unit is Unit.EACH else 1 for ln in lines if not ln.voided)


WORD = re.compile(r"[A-Za-z]{3}")


def ascii_name(name: str, code: str) -> str:
    """What an ASCII-only display shows for an item: the Latin part of its name (the
    name's printable-ASCII words, when one of them has three letters in a row: ``法式面包
    Baguette`` -> ``Baguette``, ``Oreo cookies 进口饼干`` -> ``Oreo cookies``), else
    ``code``: never mojibake, and never a bare ``330ml`` for ``可口可乐 330ml``."""
    words = [w for w in name.split() if w.isascii() and w.isprintable()]
    if any(WORD.search(w) for w in words):
        return " ".join(words)
    return code


PAYING_MESSAGES = frozenset([Msg.SUBTOTAL, Msg.DUE, Msg.PAYMENT_STARTED])


def customer_view(
    state: LaneState, setup: LaneSetup, screen: ScreenSetup, now: datetime
) -> CustomerView:
    """The customer display for ``state`` at ``now``."""
    idle = CustomerView(
        phase=Phase.IDLE,
        last=None,
        items=0,
        total=0,
        paid=0,
        due=0,
        change=0,
        savings=0,
        member=None,
        training=state.training,
        idle_text=screen.idle_text or (labels(screen.language)["welcome"],),
        minor_digits=setup.rules.minor_digits,
    )
    sale = state.sale
    if sale is not None and sale.lines:
        live = sale.live_lines
        last = None
        if live:
            line = live[-1]
            last = CustomerItem(
                line.name,
                ascii_name(line.name, line.code or line.sku),
                line_detail(line, setup.rules.minor_digits),
                line.amount,
            )
        paying = (
            bool(sale.live_tenders)
            or state.mode is Mode.TERMINAL
            or (state.message is not None and state.message.id in PAYING_MESSAGES)
        )
        return replace(
            idle,
            phase=Phase.PAYING if paying else Phase.SELLING,
            last=last,
            items=sale.item_count,
            total=sale.total,
            paid=sale.paid,
            due=max(0, sale.due),
            change=max(0, -sale.due),
            savings=sale.discount,
            member=sale.member,
        )
    done = state.last_sale
    if (
        done is not None
        and done.kind is SaleKind.SALE
        and 0 <= (now - done.closed_at).total_seconds() < screen.done_s
    ):
        return replace(
            idle,
            phase=Phase.DONE,
            items=pieces(done.lines),
            total=done.total,
            paid=sum(t.amount for t in done.tenders if not t.voided),
            change=done.change,
            savings=done.discount,
            member=done.member,
        )
    return idle


@dataclass(frozen=True)
class CustomerScreen:
    """The customer display's page (``lane.customer/1``): the view, worded."""

    lang: str
    phase: str
    last: LastItem | None
    items: int
    total: str
    paid: str
    due: str
    change: str
    savings: str | None  # None when nothing was saved
    member: str | None
    training: bool
    idle_text: tuple[str, ...]
    labels: Mapping[str, str]
    schema: str = CUSTOMER_SCHEMA


def customer_screen(view: CustomerView, language: str) -> CustomerScreen:
    def money(amount: int) -> str:
        return format_money(amount, view.minor_digits)

    last = None
    if view.last is not None:
        last = LastItem(view.last.name, view.last.qty, money(view.last.amount))
    return CustomerScreen(
        lang=language,
        phase=view.phase.value,
        last=last,
        items=view.items,
        total=money(view.total),
        paid=money(view.paid),
        due=money(view.due),
        change=money(view.change),
        savings=money(view.savings) if view.savings else None,
        member=view.member,
        training=view.training,
        idle_text=view.idle_text,
        labels=labels(language),
    )
