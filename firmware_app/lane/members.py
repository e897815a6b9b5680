"""Members: a member number keyed with ``MEMBER`` or scanned from a card, checked by the
store server while the cashier goes on selling, and the points a transaction earns.

A number is first checked for its form (``rules.MemberRules``: its length and check
digit): a malformed one is refused and changes nothing. A well-formed one goes on the
sale at once and the store server is asked (``AskMember``); its answer
(``MemberAnswer``), if it comes within ``answer_timeout_ms`` of the lane's clock,
verifies the member (name and points shown) or takes a blocked or unknown one off the
sale. Without an answer in time the member stays, unverified (``member_verified:
false`` on the sale message); an answer after that is ignored. Selling never waits.

Points (``lane.points``): a member's sale earns them on what is paid for its goods
after discounts (cash rounding aside); a return by receipt of a member's sale takes
back what the refunded goods had earned, exactly (see ``with_points``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from firmware_app.lane import points
from firmware_app.lane.context import Ctx, Outcome, refuse
from firmware_app.lane.effects import AskMember, DiscardSale, MemberIgnored, SaveSale
from firmware_app.lane.events import MemberAnswer
from firmware_app.lane.member_check import CheckState, MemberCheck, MemberStatus
from firmware_app.lane.messages import Message, Msg
from firmware_app.lane.promotions import Loyalty
from firmware_app.lane.return_source import ReturnSource
from firmware_app.lane.returns import line_refund, share
from firmware_app.lane.rules import MemberRules
from firmware_app.lane.sale import FinishedSale, Sale, SaleKind
from firmware_app.lane.state import LaneState, Mode

MAX_DIGITS = 20  # longer is a stuck key or no member number at all

# --- the number's form --------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """The Luhn check (ISO/IEC 7812): from the right, every second digit doubled."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def gs1_ok(number: str) -> bool:
    """The GS1 mod-10 check digit (as on a GTIN): from the right, the digits before the
    check digit weigh 3, 1, 3, …"""
    body, check = number[:-1], int(number[-1])
    total = sum(int(ch) * (3 if i % 2 == 0 else 1) for i, ch in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


CHECKS = {"luhn": luhn_ok, "mod10-gs1": gs1_ok}


def malformed(number: str, rules: MemberRules) -> str | None:
    """Why ``number`` is no member number under ``rules`` (a short reason), or None."""
    if not number or not number.isascii() or not number.isdigit():
        return "digits only"
    if len(number) > MAX_DIGITS or (rules.lengths and len(number) not in rules.lengths):
        return "length"
    check = CHECKS.get(rules.check_digit)
    if check is not None and (len(number) < 2 or not check(number)):
        return "check digit"
    return None


# --- the question and its answer -------------------------------------------------------------


def refuse_malformed(state: LaneState, member: str, ctx: Ctx) -> Outcome | None:
    """The refusal of a malformed ``member`` (nothing changes), or None."""
    why = malformed(member, ctx.setup.rules.members)
    if why is None:
        return None
    return refuse(state, Msg.MEMBER_MALFORMED, member=member, reason=why)


def put_on(state: LaneState, sale: Sale, member: str, ctx: Ctx) -> Outcome:
    """Put ``member`` on ``sale`` (the open one, or a new one) and ask the store server
    about it; a malformed number is refused and nothing changes."""
    not_a_member = refuse_malformed(state, member, ctx)
    if not_a_member is not None:
        return not_a_member
    request_id = ctx.ports.new_id()
    check = MemberCheck(request_id=request_id, asked_at=ctx.now)
    sale = replace(sale, member=member, member_check=check)
    message = Message.of(Msg.MEMBER_SET, member=member)
    after = replace(state, sale=sale, entry="", message=message)
    return after, (SaveSale(sale), AskMember(request_id, member))


def _late(check: MemberCheck, ctx: Ctx) -> bool:
    limit = timedelta(milliseconds=ctx.setup.rules.members.answer_timeout_ms)
    return ctx.now - check.asked_at >= limit


def _shown(state: LaneState, message: Message) -> LaneState:
    """The news about the member, unless the cashier is answering a question (a PIN,
    a reason, a choice): that prompt stays."""
    return replace(state, message=message) if state.mode is Mode.READY else state


def on_answer(state: LaneState, answer: MemberAnswer, ctx: Ctx) -> Outcome:
    """The store server's answer: the member verified, or taken off the sale; an answer
    to no open question, or after the time allowed, changes nothing (logged)."""
    sale = state.sale
    check = sale.member_check if sale is not None else None
    if sale is None or check is None or check.request_id != answer.request_id:
        return state, (MemberIgnored(answer.request_id, "no open question with this id"),)
    if sale.member != answer.member:
        return state, (MemberIgnored(answer.request_id, "answer about another member"),)
    if check.state is not CheckState.ASKED or _late(check, ctx):
        timed_out = _timed_out(state, sale, check)
        return timed_out[0], (*timed_out[1], MemberIgnored(answer.request_id, "late"))
    if answer.status is MemberStatus.ACTIVE:
        check = replace(check, state=CheckState.VERIFIED, name=answer.name, balance=answer.points)
        sale = replace(sale, member_check=check)
        shown = Message.of(
            Msg.MEMBER_VERIFIED,
            name=answer.name or answer.member,
            points="?" if answer.points is None else answer.points,
        )
        return _shown(replace(state, sale=sale), shown), (SaveSale(sale),)
    refused = Msg.MEMBER_BLOCKED if answer.status is MemberStatus.BLOCKED else Msg.MEMBER_UNKNOWN
    message = Message.of(refused, member=answer.member)
    if not sale.lines:  # the sale was opened for the member alone: nothing is left of it
        return _shown(replace(state, sale=None), message), (DiscardSale(sale.id),)
    sale = replace(sale, member=None, member_check=None)
    return _shown(replace(state, sale=sale), message), (SaveSale(sale),)


def on_tick(state: LaneState, ctx: Ctx) -> Outcome:
    """No answer within the time allowed: the member stays on the sale, unverified."""
    sale = state.sale
    check = sale.member_check if sale is not None else None
    if sale is None or check is None or check.state is not CheckState.ASKED:
        return state, ()
    if not _late(check, ctx):
        return state, ()
    return _timed_out(state, sale, check)


def _timed_out(state: LaneState, sale: Sale, check: MemberCheck) -> Outcome:
    if check.state is not CheckState.ASKED:
        return state, ()
    sale = replace(sale, member_check=replace(check, state=CheckState.UNVERIFIED))
    message = Message.of(Msg.MEMBER_UNVERIFIED, member=sale.member)
    return _shown(replace(state, sale=sale), message), (SaveSale(sale),)


# --- points ------------------------------------------------------------------------------------


def loyalty(ctx: Ctx) -> Loyalty | None:
    """The loyalty rule: the catalog's, else the config's ``[members]`` one, else None."""
    rule = ctx.ports.catalog.loyalty()
    return rule if rule is not None else ctx.setup.rules.members.loyalty


def _sold_net(record: FinishedSale) -> int:
    """What the sold (not returned) goods cost after discounts (minor units)."""
    return sum(ln.amount - ln.discount for ln in record.lines if not ln.voided and not ln.is_return)


def _source_paid(source: ReturnSource) -> int:
    return sum(ln.amount - ln.discount for ln in source.lines if not ln.voided and not ln.is_return)


def _source_refunded(source: ReturnSource) -> int:
    """What the committed returns of ``source`` gave back (minor units): each line's
    returned quantity at the share ``returns`` refunds it at."""
    total = 0
    for ln in source.lines:
        back = source.already_returned(ln.no)
        if back > 0 and not ln.voided and ln.qty > 0:
            total += share(ln.amount, ln.qty, 0, back) - share(ln.discount, ln.qty, 0, back)
    return total


def _sources(record: FinishedSale, ctx: Ctx) -> list[tuple[ReturnSource, int]]:
    """The sales this transaction returns goods of by receipt, each with what this
    transaction refunds of it (minor units), in the order of their first line."""
    refunds: dict[int, int] = {}
    for ln in record.lines:
        if ln.voided or not ln.is_return or ln.return_of is None:
            continue
        no = ln.return_of.receipt_no
        refunds[no] = refunds.get(no, 0) + line_refund(ln)
    port = ctx.ports.returns
    found: list[tuple[ReturnSource, int]] = []
    for receipt_no, refunded in refunds.items():
        source = port.sale_by_receipt(receipt_no) if port is not None else None
        if isinstance(source, ReturnSource) and source.member is not None:
            found.append((source, refunded))
    return found


def with_points(record: FinishedSale, ctx: Ctx) -> FinishedSale:
    """``record`` with the points it earns: the member's sold goods by the rule, less
    what its returns by receipt take back of the sales they return from (same member
    only). A return of a member's sale with no member keyed carries that sale's
    member. Training and cancelled transactions earn nothing."""
    if record.training or record.kind is SaleKind.CANCELLED:
        return replace(record, points=0)
    rule = loyalty(ctx)
    sources = _sources(record, ctx)
    if record.member is None and sources:
        first = sources[0][0]
        state = CheckState.VERIFIED if first.member_verified else CheckState.UNVERIFIED
        check = MemberCheck(request_id="", asked_at=record.closed_at, state=state)
        record = replace(record, member=first.member, member_check=check)
    if record.member is None:
        return replace(record, points=0)
    earned = points.points_for(_sold_net(record), rule)
    taken = sum(
        points.reversal(
            source.points, _source_paid(source), _source_refunded(source), refunded, rule
        )
        for source, refunded in sources
        if source.member == record.member
    )
    return replace(record, points=earned + taken)
