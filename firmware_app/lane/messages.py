"""What the cashier is told: message ids with their wording per language.

The core only picks a ``Msg`` and its arguments; the display words it in the
lane's language. Keep messages short: they are read at a glance mid-scan.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Msg(enum.Enum):
    SIGN_ON_FIRST = "sign_on_first"
    ENTER_PIN = "enter_pin"
    WRONG_PIN = "wrong_pin"
    SIGNED_ON = "signed_on"
    SIGNED_OFF = "signed_off"
    SALE_RESTORED = "sale_restored"
    KEY_NOT_ALLOWED = "key_not_allowed"
    NEEDS_ENTRY = "needs_entry"
    BAD_ENTRY = "bad_entry"
    UNKNOWN_CODE = "unknown_code"
    BAD_CODE = "bad_code"
    UNKNOWN_PLU = "unknown_plu"
    NOT_FOR_SALE = "not_for_sale"
    ITEM_ADDED = "item_added"
    QTY_SET = "qty_set"
    QTY_TOO_BIG = "qty_too_big"
    QTY_NOT_WEIGHED = "qty_not_weighed"
    LABEL_MISMATCH = "label_mismatch"
    SCALE_MOVING = "scale_moving"
    SCALE_OVER = "scale_over"
    SCALE_UNDER = "scale_under"
    SCALE_EMPTY = "scale_empty"
    SCALE_SILENT = "scale_silent"
    SCALE_ERROR = "scale_error"
    SCALE_SAME_WEIGHT = "scale_same_weight"
    SCALE_BELOW_MIN = "scale_below_min"
    SCALE_COMMAND = "scale_command"
    SCALE_RESULT = "scale_result"
    SCALE_REFUSED = "scale_refused"
    LINE_VOIDED = "line_voided"
    NOTHING_TO_VOID = "nothing_to_void"
    NO_SUCH_LINE = "no_such_line"
    SUPERVISOR_ID = "supervisor_id"
    SUPERVISOR_PIN = "supervisor_pin"
    NOT_SUPERVISOR = "not_supervisor"
    NO_SALE = "no_sale"
    SALE_OPEN = "sale_open"
    SUBTOTAL = "subtotal"
    DUE = "due"
    CHANGE = "change"
    CASH_TOO_LARGE = "cash_too_large"
    AMOUNT_TOO_LARGE = "amount_too_large"
    FINISH_PAYMENT = "finish_payment"
    PAYMENT_STARTED = "payment_started"
    TERMINAL_BUSY = "terminal_busy"
    DECLINED = "declined"
    SALE_CANCELLED = "sale_cancelled"
    DRAWER_OPENED = "drawer_opened"
    MEMBER_SET = "member_set"
    NOT_AVAILABLE = "not_available"
    SAVE_FAILED = "save_failed"
    DRAWER_OPEN = "drawer_open"
    DRAWER_LEFT_OPEN = "drawer_left_open"
    NO_RECEIPT = "no_receipt"
    DEVICE_PROBLEM = "device_problem"
    DEVICE_OK = "device_ok"
    CALL_TECHNICIAN = "call_technician"
    RECEIPT_PENDING = "receipt_pending"
    RECEIPTS_PRINTED = "receipts_printed"
    RECEIPTS_WAITING = "receipts_waiting"
    RECEIPT_REPRINTED = "receipt_reprinted"
    ITEMS_DUE = "items_due"
    PAYMENT_UNSAVED = "payment_unsaved"
    TERMINAL_TIMEOUT = "terminal_timeout"
    CHOOSE_TENDER = "choose_tender"
    TENDER_CHOICE = "tender_choice"
    NO_SUCH_TENDER = "no_such_tender"
    PAID_LINES_LOCKED = "paid_lines_locked"
    CASH_BACK = "cash_back"
    REVERSING = "reversing"
    REVERSED = "reversed"
    REVERSAL_DECLINED = "reversal_declined"
    CANCELLED_CASH_BACK = "cancelled_cash_back"
    REVERSAL_UNSAVED = "reversal_unsaved"
    REVERSAL_TIMEOUT = "reversal_timeout"
    LATE_APPROVAL = "late_approval"
    # Roles and approvals
    SELF_APPROVAL = "self_approval"
    OTHER_SUPERVISOR = "other_supervisor"
    ID_LOCKED = "id_locked"
    BADGE_NOT_NOW = "badge_not_now"
    TECHNICIAN_CANNOT_SELL = "technician_cannot_sell"
    # Suspend and resume.
    NOTHING_TO_PARK = "nothing_to_park"
    PARK_PAID = "park_paid"
    PARK_FULL = "park_full"
    SALE_PARKED = "sale_parked"
    PARKED_SALES = "parked_sales"
    BASKET_NOT_EMPTY = "basket_not_empty"
    NO_SUCH_PARKED = "no_such_parked"
    PARKED_ELSEWHERE = "parked_elsewhere"
    NOTHING_PARKED = "nothing_parked"
    CHOOSE_PARKED = "choose_parked"
    PARKED_CHOICE = "parked_choice"
    SALE_RESUMED = "sale_resumed"
    RESUMED_REPRICED = "resumed_repriced"
    # Training mode, cash movements, reports:
    PAID_IN_REASON = "paid_in_reason"
    PAID_OUT_REASON = "paid_out_reason"
    REASON_CHOICE = "reason_choice"
    NO_SUCH_REASON = "no_such_reason"
    CASH_DROPPED = "cash_dropped"
    PAID_IN_DONE = "paid_in_done"
    PAID_OUT_DONE = "paid_out_done"
    TRAINING_ON = "training_on"
    TRAINING_OFF = "training_off"
    X_REPORT_PRINTED = "x_report_printed"
    COUNT_CASH = "count_cash"
    Z_REPORT_DONE = "z_report_done"
    DAY_CLOSED = "day_closed"
    # Restrictions: age checks and sale hours.
    AGE_QUESTION = "age_question"
    AGE_DECLINED = "age_declined"
    AGE_TOO_YOUNG = "age_too_young"
    BAD_BIRTH_DATE = "bad_birth_date"
    SALE_HOURS = "sale_hours"
    # Price override and discounts:
    NO_LINE = "no_line"
    PRICE_TOO_HIGH = "price_too_high"
    PRICE_REASON = "price_reason"
    PRICE_CHANGED = "price_changed"
    PRICE_DROPPED = "price_dropped"
    LINE_DISCOUNTED = "line_discounted"
    SALE_DISCOUNTED = "sale_discounted"
    DISCOUNT_TOO_BIG = "discount_too_big"
    DISCOUNT_ZERO = "discount_zero"
    DISCOUNT_GIVEN = "discount_given"
    # Returns:
    CHOOSE_RETURN = "choose_return"
    RETURN_CHOICE = "return_choice"
    RETURN_ADDED = "return_added"
    RETURN_NOT_FOUND = "return_not_found"
    RETURN_TOO_OLD = "return_too_old"
    RETURN_TRAINING = "return_training"
    RETURN_OF_RETURN = "return_of_return"
    RETURN_OTHER_LANE = "return_other_lane"
    RETURN_NOTHING_LEFT = "return_nothing_left"
    RETURN_TOO_MANY = "return_too_many"
    RETURN_WHOLE_LINE = "return_whole_line"
    RETURN_NOT_HERE = "return_not_here"
    REFUND = "refund"
    RETURN_SCAN_ITEM = "return_scan_item"
    REFUNDING = "refunding"
    RETURN_OVER_LIMIT = "return_over_limit"
    # Members and points:
    MEMBER_MALFORMED = "member_malformed"
    MEMBER_VERIFIED = "member_verified"
    MEMBER_BLOCKED = "member_blocked"
    MEMBER_UNKNOWN = "member_unknown"
    MEMBER_UNVERIFIED = "member_unverified"
    # Returns without receipt at a keyed price: PRICE on a line returned by receipt.
    RETURN_AT_PAID_PRICE = "return_at_paid_price"
    RETURN_NO_DISCOUNT = "return_no_discount"
    # A refund approved after the lane stopped waiting (lane.late_refund).
    REFUND_TIMEOUT = "refund_timeout"
    REFUND_UNANSWERED = "refund_unanswered"
    LATE_REFUND = "late_refund"
    LATE_REFUND_STANDS = "late_refund_stands"
    LATE_REFUND_DECLINED = "late_refund_declined"


@dataclass(frozen=True)
class Message:
    """One message on the cashier's screen; ``args`` fill the wording's placeholders and
    ``choices`` (numbered answers to a question) follow it."""

    id: Msg
    args: tuple[tuple[str, str], ...] = ()
    choices: tuple[Message, ...] = ()

    @classmethod
    def of(cls, id: Msg, **args: object) -> Message:
        return cls(id, tuple((k, str(v)) for k, v in args.items()))

    def arg(self, name: str) -> str:
        return dict(self.args).get(name, "")

    def render(self, language: str = "en") -> str:
        table = WORDING.get(language, WORDING["en"])
        wording = table.get(self.id) or WORDING["en"][self.id]
        terms = TERMS.get(language, {})
        args = {k: terms.get(v, v.replace("_", " ")) if k in TERMED else v for k, v in self.args}
        template = wording if isinstance(wording, str) else _plural(wording, self.id, args)
        try:
            text = template.format(**args)
        except (KeyError, IndexError):
            text = template
        return "  ".join([text, *(choice.render(language) for choice in self.choices)])


def _plural(forms: tuple[str, str], id: Msg, args: Mapping[str, str]) -> str:
    """The singular form when the counted argument is 1, else the plural."""
    return forms[0] if args.get(COUNTED.get(id, "count")) == "1" else forms[1]


# Arguments that are words to translate, not data.
TERMED = ("device", "state", "result", "command", "reason", "tender")
# The argument that picks a singular or plural wording.
COUNTED: Mapping[Msg, str] = {
    Msg.SALE_RESTORED: "lines",
    Msg.ITEMS_DUE: "count",
    Msg.PARKED_CHOICE: "items",  # suspend and resume
    Msg.SALE_RESUMED: "lines",
}
TERMS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "cash": "现金",
        "card": "银行卡",
        "mobile": "移动支付",
        "scanner": "扫描枪",
        "keypad": "键盘",
        "scale": "秤",
        "printer": "打印机",
        "drawer": "钱箱",
        "broker": "服务器连接",
        "outbox": "待发送数据",
        "screen": "收银屏",
        "clock": "时钟",
        "customer_display": "顾客显示屏",
        "missing": "未连接",
        "silent": "无响应",
        "error": "故障",
        "offline": "离线",
        "paper_out": "缺纸",
        "paper_near_end": "纸将用完",
        "cover_open": "盖子打开",
        "jammed": "卡住",
        "ambiguous": "设备不明确",
        "conflict": "设备冲突",
        "zero": "归零",
        "tare": "去皮",
        "clear tare": "清除皮重",
        "zeroed": "已归零",
        "tared": "已去皮",
        "tare cleared": "皮重已清除",
        "moving": "秤在晃动",
        "over capacity": "超载",
        "below zero": "低于零",
        "outside zero range": "超出归零范围",
        "tare on": "已去皮",
        "nothing on the scale": "秤上无物",
        "zero the empty scale first": "请先空秤归零",
        "tare kept": "皮重保留",
        "scale error": "秤故障",
        "unknown to the scale": "秤不支持",
        "refused": "拒绝连接",
        "not_authorized": "无权限",
        "backlog": "积压",
        "ack_ahead": "确认号超前",
        "ok": "正常",
        "open": "打开",
        "closed": "关闭",
        "unsynced": "未校时",
        "jumped": "时间跳变",
        "online": "在线",
    }
}


# A wording is one text, or (singular, plural) for a message with a count (``COUNTED``).
WORDING: Mapping[str, Mapping[Msg, str | tuple[str, str]]] = {
    "en": {
        Msg.SIGN_ON_FIRST: "Sign on first: ID, SIGNON",
        Msg.ENTER_PIN: "PIN for {cashier}, then ENTER",
        Msg.WRONG_PIN: "Wrong ID or PIN",
        Msg.SIGNED_ON: "Signed on: {cashier}",
        Msg.SIGNED_OFF: "Signed off",
        Msg.SALE_RESTORED: (
            "Open sale restored ({lines} line)",
            "Open sale restored ({lines} lines)",
        ),
        Msg.KEY_NOT_ALLOWED: "{key} not allowed now",
        Msg.NEEDS_ENTRY: "Key a number first, then {key}",
        Msg.BAD_ENTRY: "Invalid entry for {key}",
        Msg.UNKNOWN_CODE: "Unknown item {code}",
        Msg.BAD_CODE: "Bad barcode, scan again",
        Msg.UNKNOWN_PLU: "Unknown PLU {plu}",
        Msg.NOT_FOR_SALE: "{name}: not for sale",
        Msg.ITEM_ADDED: "{name}  {amount}",
        Msg.QTY_SET: "Quantity {qty}",
        Msg.QTY_TOO_BIG: "Quantity above {max}",
        Msg.QTY_NOT_WEIGHED: "No quantity for weighed items",
        Msg.LABEL_MISMATCH: "Label does not fit item {name}",
        Msg.SCALE_MOVING: "Scale moving, wait",
        Msg.SCALE_OVER: "Scale over capacity",
        Msg.SCALE_UNDER: "Scale below zero, re-zero",
        Msg.SCALE_EMPTY: "Put the item on the scale",
        Msg.SCALE_SILENT: "Scale not answering",
        Msg.SCALE_ERROR: "Scale error",
        Msg.SCALE_SAME_WEIGHT: "Same weight again: lift the item, weigh again",
        Msg.SCALE_BELOW_MIN: "Below the minimum weight {min} kg",
        Msg.SCALE_COMMAND: "Scale: {command} sent",
        Msg.SCALE_RESULT: "Scale: {result}",
        Msg.SCALE_REFUSED: "Scale refused {command}: {reason}",
        Msg.LINE_VOIDED: "Voided line {line}: {name}",
        Msg.NOTHING_TO_VOID: "Nothing to void",
        Msg.NO_SUCH_LINE: "No line {line}",
        Msg.SUPERVISOR_ID: "Supervisor ID, then ENTER",
        Msg.SUPERVISOR_PIN: "Supervisor PIN, then ENTER",
        Msg.NOT_SUPERVISOR: "Supervisor approval refused",
        Msg.NO_SALE: "No sale open",
        Msg.SALE_OPEN: "Finish or cancel the sale first",
        Msg.SUBTOTAL: "Due {due}",
        Msg.DUE: "Paid {paid}, due {due}",
        Msg.CHANGE: "Change {change}",
        Msg.CASH_TOO_LARGE: "Cash above {max}",
        Msg.AMOUNT_TOO_LARGE: "Amount above due {due}",
        Msg.FINISH_PAYMENT: "Finish payment first",
        Msg.PAYMENT_STARTED: "{tender} {amount}: follow the terminal",
        Msg.TERMINAL_BUSY: "Waiting for the terminal",
        Msg.DECLINED: "{tender} declined: {reason}",
        Msg.SALE_CANCELLED: "Sale cancelled",
        Msg.DRAWER_OPENED: "Drawer opened",
        Msg.MEMBER_SET: "Member {member}",
        Msg.NOT_AVAILABLE: "{key} not available",
        Msg.SAVE_FAILED: "Cannot save: call a technician",
        Msg.DRAWER_OPEN: "Close the drawer first",
        Msg.DRAWER_LEFT_OPEN: "Drawer open too long: close it",
        Msg.NO_RECEIPT: "No receipt to reprint",
        Msg.DEVICE_PROBLEM: "{device}: {state}",
        Msg.DEVICE_OK: "{device}: ok",
        Msg.CALL_TECHNICIAN: "{device}: {state}, call a technician",
        Msg.RECEIPT_PENDING: "Printer {state}: receipt kept, prints when ready ({count} waiting)",
        Msg.RECEIPTS_PRINTED: "Waiting receipts printed",
        Msg.RECEIPTS_WAITING: "receipts to print: {count}",
        Msg.RECEIPT_REPRINTED: "Receipt {receipt} printed again (copy)",
        Msg.ITEMS_DUE: ("{count} item, due {due}", "{count} items, due {due}"),
        Msg.PAYMENT_UNSAVED: "{tender} {amount} paid but not saved: do NOT charge again, "
        "call a technician",
        Msg.TERMINAL_TIMEOUT: "Terminal did not answer: {tender} {amount} not paid",
        Msg.CHOOSE_TENDER: "Void which payment? Number, ENTER:",
        Msg.TENDER_CHOICE: "{no} {tender} {amount}",
        Msg.NO_SUCH_TENDER: "No payment {no}",
        Msg.PAID_LINES_LOCKED: "Paid in part: VOID a payment first",
        Msg.CASH_BACK: "Hand back cash {amount}",
        Msg.REVERSING: "Reversing {tender} {amount}: follow the terminal",
        Msg.REVERSED: "{tender} {amount} reversed",
        Msg.REVERSAL_DECLINED: "{tender} reversal refused: {reason}",
        Msg.CANCELLED_CASH_BACK: "Sale cancelled: hand back cash {amount}",
        Msg.REVERSAL_UNSAVED: "{tender} {amount} reversed but not saved: do NOT reverse "
        "again, call a technician",
        Msg.REVERSAL_TIMEOUT: "Terminal did not answer: check whether {tender} {amount} "
        "was reversed",
        Msg.LATE_APPROVAL: "{tender} {amount} approved too late: reversing it",
        # Roles and approvals
        Msg.SELF_APPROVAL: "{cashier} cannot approve their own action",
        Msg.OTHER_SUPERVISOR: "Another supervisor: ID, then ENTER",
        Msg.ID_LOCKED: "{cashier} locked for {minutes} min",
        Msg.BADGE_NOT_NOW: "Badge: only to approve an action",
        Msg.TECHNICIAN_CANNOT_SELL: "Technician: {key} not allowed (no selling)",
        # Suspend and resume.
        Msg.NOTHING_TO_PARK: "No items to park",
        Msg.PARK_PAID: "Payment started: cannot park, finish or void the payment",
        Msg.PARK_FULL: "{max} sales parked already: resume one first",
        Msg.SALE_PARKED: "Sale parked as {no}: give the customer the slip",
        Msg.PARKED_SALES: "Parked sales {nos}: resume and finish them first",
        Msg.BASKET_NOT_EMPTY: "Basket not empty: finish or park this sale first",
        Msg.NO_SUCH_PARKED: "No parked sale {no}",
        Msg.PARKED_ELSEWHERE: "Parked on lane {lane}: resume it there",
        Msg.NOTHING_PARKED: "No parked sales",
        Msg.CHOOSE_PARKED: "Resume which sale? Number, ENTER:",
        Msg.PARKED_CHOICE: (
            "{no}: {items} item {total} {time}",
            "{no}: {items} items {total} {time}",
        ),
        Msg.SALE_RESUMED: (
            "Parked sale {no} resumed ({lines} line)",
            "Parked sale {no} resumed ({lines} lines)",
        ),
        Msg.RESUMED_REPRICED: "Parked sale {no} resumed; prices changed (✕ no longer sold, "
        "voided): {changes}",
        # Training mode, cash movements, reports:
        Msg.PAID_IN_REASON: "Paid in {amount}: reason? Number, ENTER:",
        Msg.PAID_OUT_REASON: "Paid out {amount}: reason? Number, ENTER:",
        Msg.REASON_CHOICE: "{no} {reason}",
        Msg.NO_SUCH_REASON: "No reason {no}",
        Msg.CASH_DROPPED: "Nothing paid in or out",
        Msg.PAID_IN_DONE: "Paid in {amount} ({reason}): put it in the drawer",
        Msg.PAID_OUT_DONE: "Paid out {amount} ({reason}): take it from the drawer",
        Msg.TRAINING_ON: "Training mode ON: sales are not real",
        Msg.TRAINING_OFF: "Training mode off",
        Msg.X_REPORT_PRINTED: "X report {date} printed",
        Msg.COUNT_CASH: "Count the drawer: cash amount, ENTER",
        Msg.Z_REPORT_DONE: "Z {z_no} closed {date}: expected {expected}, counted {counted}, "
        "difference {difference}",
        Msg.DAY_CLOSED: "Day {date} already closed (Z {z_no})",
        # Restrictions: age checks and sale hours.
        Msg.AGE_QUESTION: "{name}: customer {min_age} or older? YES / NO, or date of birth "
        "YYYYMMDD + ENTER",
        Msg.AGE_DECLINED: "{name} not added: age not confirmed",
        Msg.AGE_TOO_YOUNG: "{name} not added: customer is {age}, must be {min_age}",
        Msg.BAD_BIRTH_DATE: "Date of birth as YYYYMMDD (20081202), then ENTER",
        Msg.SALE_HOURS: "{name}: sold {start}–{end} only",
        # Price override and discounts:
        Msg.NO_LINE: "No item to change",
        Msg.PRICE_TOO_HIGH: "Price above {max}",
        Msg.PRICE_REASON: "{name}: new price {price}: reason? Number, ENTER:",
        Msg.PRICE_CHANGED: "{name}: price {was} → {now} ({reason})",
        Msg.PRICE_DROPPED: "Price not changed",
        Msg.LINE_DISCOUNTED: "Line {line} has a discount already",
        Msg.SALE_DISCOUNTED: "The sale has a discount already",
        Msg.DISCOUNT_TOO_BIG: "Discount above {max}%",
        Msg.DISCOUNT_ZERO: "Nothing to take off",
        Msg.DISCOUNT_GIVEN: "{percent}% off: -{amount}",
        # Returns:
        Msg.CHOOSE_RETURN: "Return from receipt {receipt}: line number, ENTER "
        "(n QTY for n); SUBTOTAL when done:",
        Msg.RETURN_CHOICE: "{no} {name} {left} of {sold} left",
        Msg.RETURN_ADDED: "Returned {qty} {name} -{amount}",
        Msg.RETURN_NOT_FOUND: "Receipt {receipt} not found on this lane",
        Msg.RETURN_TOO_OLD: "Receipt {receipt} is older than this lane keeps: no return here",
        Msg.RETURN_TRAINING: "Receipt {receipt} is a training receipt: nothing to return",
        Msg.RETURN_OF_RETURN: "Receipt {receipt} is a return: it cannot be returned",
        Msg.RETURN_OTHER_LANE: "Receipt of lane {lane}: "
        "other lanes' receipts need the store server",
        Msg.RETURN_NOTHING_LEFT: "Line {line}: nothing left to return",
        Msg.RETURN_TOO_MANY: "Line {line}: only {left} left to return",
        Msg.RETURN_WHOLE_LINE: "Line {line} is weighed: it returns whole (no QTY)",
        Msg.RETURN_NOT_HERE: "Returns need the sales store: not available on this lane",
        Msg.REFUND: "Refund {amount}: give it to the customer",
        Msg.RETURN_SCAN_ITEM: "Return without receipt: scan or key the item "
        "(another price: key it, then PRICE)",
        Msg.REFUNDING: "Refunding {amount} to {tender}: wait for the terminal",
        Msg.RETURN_OVER_LIMIT: "Returns without receipt above {limit}: not here",
        # Members and points:
        Msg.MEMBER_MALFORMED: "Not a member number: {member} ({reason})",
        Msg.MEMBER_VERIFIED: "Member {name}: {points} points",
        Msg.MEMBER_BLOCKED: "Member {member} blocked: not on this sale",
        Msg.MEMBER_UNKNOWN: "No member {member}: not on this sale",
        Msg.MEMBER_UNVERIFIED: "Member {member} not checked (store server silent)",
        Msg.RETURN_AT_PAID_PRICE: "Line {line} comes back at the price paid: no PRICE",
        Msg.RETURN_NO_DISCOUNT: "Line {line} is a return: no discount on it",
        Msg.REFUND_TIMEOUT: "Terminal did not answer: {tender} refund {amount} "
        "may still go through: wait for its answer",
        Msg.REFUND_UNANSWERED: "{tender} refund {amount} may still go through: "
        "wait for the terminal (or CANCEL the return)",
        Msg.LATE_REFUND: "{tender} refund {amount} approved after all: return done",
        Msg.LATE_REFUND_STANDS: "{tender} refund {amount} approved too late: "
        "it stands, call a supervisor",
        Msg.LATE_REFUND_DECLINED: "{tender} refund {amount} declined: refund another way",
    },
    "zh": {
        Msg.SIGN_ON_FIRST: "请先登录：工号 + 登录键",
        Msg.ENTER_PIN: "{cashier} 请输入密码，按确认",
        Msg.WRONG_PIN: "工号或密码错误",
        Msg.SIGNED_ON: "已登录：{cashier}",
        Msg.SIGNED_OFF: "已退出",
        Msg.SALE_RESTORED: "已恢复未完成交易（{lines} 行）",
        Msg.KEY_NOT_ALLOWED: "现在不能按 {key}",
        Msg.NEEDS_ENTRY: "请先输入数字，再按 {key}",
        Msg.BAD_ENTRY: "{key} 输入无效",
        Msg.UNKNOWN_CODE: "未知商品 {code}",
        Msg.BAD_CODE: "条码错误，请重扫",
        Msg.UNKNOWN_PLU: "未知 PLU {plu}",
        Msg.NOT_FOR_SALE: "{name}：停售",
        Msg.ITEM_ADDED: "{name}  {amount}",
        Msg.QTY_SET: "数量 {qty}",
        Msg.QTY_TOO_BIG: "数量超过 {max}",
        Msg.QTY_NOT_WEIGHED: "称重商品不能输数量",
        Msg.LABEL_MISMATCH: "标签与商品 {name} 不符",
        Msg.SCALE_MOVING: "秤不稳定，请稍候",
        Msg.SCALE_OVER: "超出秤量程",
        Msg.SCALE_UNDER: "秤低于零，请归零",
        Msg.SCALE_EMPTY: "请把商品放在秤上",
        Msg.SCALE_SILENT: "秤无响应",
        Msg.SCALE_ERROR: "秤故障",
        Msg.SCALE_SAME_WEIGHT: "重量未变：请拿起商品重新称重",
        Msg.SCALE_BELOW_MIN: "低于最小称量 {min} kg",
        Msg.SCALE_COMMAND: "秤：已发送{command}",
        Msg.SCALE_RESULT: "秤：{result}",
        Msg.SCALE_REFUSED: "秤拒绝{command}：{reason}",
        Msg.LINE_VOIDED: "已删除第 {line} 行：{name}",
        Msg.NOTHING_TO_VOID: "没有可删除的行",
        Msg.NO_SUCH_LINE: "没有第 {line} 行",
        Msg.SUPERVISOR_ID: "主管工号，按确认",
        Msg.SUPERVISOR_PIN: "主管密码，按确认",
        Msg.NOT_SUPERVISOR: "主管授权失败",
        Msg.NO_SALE: "没有进行中的交易",
        Msg.SALE_OPEN: "请先完成或取消交易",
        Msg.SUBTOTAL: "应付 {due}",
        Msg.DUE: "已付 {paid}，还需 {due}",
        Msg.CHANGE: "找零 {change}",
        Msg.CASH_TOO_LARGE: "现金超过 {max}",
        Msg.AMOUNT_TOO_LARGE: "金额超过应付 {due}",
        Msg.FINISH_PAYMENT: "请先完成付款",
        Msg.PAYMENT_STARTED: "{tender} {amount}：请在终端操作",
        Msg.TERMINAL_BUSY: "等待支付终端",
        Msg.DECLINED: "{tender} 被拒绝：{reason}",
        Msg.SALE_CANCELLED: "交易已取消",
        Msg.DRAWER_OPENED: "钱箱已打开",
        Msg.MEMBER_SET: "会员 {member}",
        Msg.NOT_AVAILABLE: "{key} 暂不可用",
        Msg.SAVE_FAILED: "无法保存，请联系技术人员",
        Msg.DRAWER_OPEN: "请先关闭钱箱",
        Msg.DRAWER_LEFT_OPEN: "钱箱打开时间过长，请关闭",
        Msg.NO_RECEIPT: "没有可重打的小票",
        Msg.DEVICE_PROBLEM: "{device}：{state}",
        Msg.DEVICE_OK: "{device}：正常",
        Msg.CALL_TECHNICIAN: "{device}：{state}，请联系技术人员",
        Msg.RECEIPT_PENDING: "打印机{state}：小票已保留，恢复后打印（{count}张）",
        Msg.RECEIPTS_PRINTED: "待打印小票已打印",
        Msg.RECEIPTS_WAITING: "待打印小票{count}张",
        Msg.RECEIPT_REPRINTED: "小票 {receipt} 已重打（副本）",
        Msg.ITEMS_DUE: "{count} 件，应付 {due}",
        Msg.PAYMENT_UNSAVED: "{tender} {amount} 已付款但无法保存：请勿重复收款，请联系技术人员",
        Msg.TERMINAL_TIMEOUT: "支付终端无响应：{tender} {amount} 未付款",
        Msg.CHOOSE_TENDER: "作废哪笔付款？输入序号，按确认：",
        Msg.TENDER_CHOICE: "{no} {tender} {amount}",
        Msg.NO_SUCH_TENDER: "没有第 {no} 笔付款",
        Msg.PAID_LINES_LOCKED: "已部分付款：请先作废付款",
        Msg.CASH_BACK: "请退还现金 {amount}",
        Msg.REVERSING: "正在撤销{tender} {amount}：请在终端操作",
        Msg.REVERSED: "{tender} {amount} 已撤销",
        Msg.REVERSAL_DECLINED: "{tender}撤销被拒绝：{reason}",
        Msg.CANCELLED_CASH_BACK: "交易已取消：请退还现金 {amount}",
        Msg.REVERSAL_UNSAVED: "{tender} {amount} 已撤销但无法保存：请勿重复撤销，请联系技术人员",
        Msg.REVERSAL_TIMEOUT: "支付终端无响应：请核实{tender} {amount} 是否已撤销",
        Msg.LATE_APPROVAL: "{tender} {amount} 超时后才批准：正在撤销",
        # Roles and approvals
        Msg.SELF_APPROVAL: "{cashier} 不能授权自己的操作",
        Msg.OTHER_SUPERVISOR: "请另一位主管输入工号，按确认",
        Msg.ID_LOCKED: "{cashier} 已锁定，{minutes} 分钟后再试",
        Msg.BADGE_NOT_NOW: "主管卡只用于授权",
        Msg.TECHNICIAN_CANNOT_SELL: "技术员不能销售：{key}",
        # Suspend and resume (挂单/取单).
        Msg.NOTHING_TO_PARK: "没有可挂单的商品",
        Msg.PARK_PAID: "已开始付款，不能挂单：请完成或作废付款",
        Msg.PARK_FULL: "已挂 {max} 单：请先取单",
        Msg.SALE_PARKED: "已挂单，单号 {no}：请把挂单小票交给顾客",
        Msg.PARKED_SALES: "还有挂单 {nos}：请先取单并完成",
        Msg.BASKET_NOT_EMPTY: "当前交易未完成：请先完成或挂单",
        Msg.NO_SUCH_PARKED: "没有挂单 {no}",
        Msg.PARKED_ELSEWHERE: "此单挂在 {lane} 号收银台：请到该收银台取单",
        Msg.NOTHING_PARKED: "没有挂单",
        Msg.CHOOSE_PARKED: "取哪一单？输入单号，按确认：",
        Msg.PARKED_CHOICE: "{no}：{items} 件 {total} {time}",
        Msg.SALE_RESUMED: "已取回挂单 {no}（{lines} 行）",
        Msg.RESUMED_REPRICED: "已取回挂单 {no}；价格有变动（✕ 已停售，已删除）：{changes}",
        # Training mode, cash movements, reports:
        Msg.PAID_IN_REASON: "存入 {amount}：原因？输入序号，按确认：",
        Msg.PAID_OUT_REASON: "支出 {amount}：原因？输入序号，按确认：",
        Msg.REASON_CHOICE: "{no} {reason}",
        Msg.NO_SUCH_REASON: "没有第 {no} 个原因",
        Msg.CASH_DROPPED: "未存入或支出",
        Msg.PAID_IN_DONE: "已存入 {amount}（{reason}）：请放入钱箱",
        Msg.PAID_OUT_DONE: "已支出 {amount}（{reason}）：请从钱箱取出",
        Msg.TRAINING_ON: "练习模式已开启：交易不是真实销售",
        Msg.TRAINING_OFF: "练习模式已关闭",
        Msg.X_REPORT_PRINTED: "X 报表 {date} 已打印",
        Msg.COUNT_CASH: "请清点钱箱：输入现金金额，按确认",
        Msg.Z_REPORT_DONE: "Z {z_no} 日结 {date}：应有 {expected}，实点 {counted}，"
        "差额 {difference}",
        Msg.DAY_CLOSED: "{date} 已日结（Z {z_no}）",
        # Restrictions: age checks and sale hours.
        Msg.AGE_QUESTION: "{name}：顾客满 {min_age} 岁？按是 / 否，或输入出生日期 YYYYMMDD 按确认",
        Msg.AGE_DECLINED: "{name} 未加入：未确认年龄",
        Msg.AGE_TOO_YOUNG: "{name} 未加入：顾客 {age} 岁，须满 {min_age} 岁",
        Msg.BAD_BIRTH_DATE: "出生日期请输入 YYYYMMDD（如 20081202），按确认",
        Msg.SALE_HOURS: "{name}：仅限 {start}–{end} 销售",
        # Price override and discounts:
        Msg.NO_LINE: "没有可修改的商品",
        Msg.PRICE_TOO_HIGH: "价格超过 {max}",
        Msg.PRICE_REASON: "{name}：新价格 {price}：原因？输入序号，按确认：",
        Msg.PRICE_CHANGED: "{name}：价格 {was} → {now}（{reason}）",
        Msg.PRICE_DROPPED: "价格未修改",
        Msg.LINE_DISCOUNTED: "第 {line} 行已有折扣",
        Msg.SALE_DISCOUNTED: "整单已有折扣",
        Msg.DISCOUNT_TOO_BIG: "折扣超过 {max}%",
        Msg.DISCOUNT_ZERO: "折扣金额为零",
        Msg.DISCOUNT_GIVEN: "优惠 {percent}%：-{amount}",
        # Returns:
        Msg.CHOOSE_RETURN: "退货（小票 {receipt}）：输入行号按确认（n 数量 退 n 件）；按小计结束：",
        Msg.RETURN_CHOICE: "{no} {name} 可退 {left}/{sold}",
        Msg.RETURN_ADDED: "退货 {qty} {name} -{amount}",
        Msg.RETURN_NOT_FOUND: "本收银台没有小票 {receipt}",
        Msg.RETURN_TOO_OLD: "小票 {receipt} 已超过本机保存期限：不能在此退货",
        Msg.RETURN_TRAINING: "小票 {receipt} 是练习小票：不能退货",
        Msg.RETURN_OF_RETURN: "小票 {receipt} 是退货单：不能再退",
        Msg.RETURN_OTHER_LANE: "{lane} 号收银台的小票：需要门店服务器办理",
        Msg.RETURN_NOTHING_LEFT: "第 {line} 行：已无可退数量",
        Msg.RETURN_TOO_MANY: "第 {line} 行：最多还可退 {left}",
        Msg.RETURN_WHOLE_LINE: "第 {line} 行为称重商品：只能整行退（不能输数量）",
        Msg.RETURN_NOT_HERE: "本收银台无法查询销售记录：不能退货",
        Msg.REFUND: "退款 {amount}：请交给顾客",
        Msg.RETURN_SCAN_ITEM: "无小票退货：请扫描或输入商品（按其他价格退：输入价格，按改价）",
        Msg.REFUNDING: "正在退款 {amount} 到{tender}：请等待终端",
        Msg.RETURN_OVER_LIMIT: "无小票退货超过 {limit}：不能在此办理",
        # Members and points:
        Msg.MEMBER_MALFORMED: "会员号无效 {member}",
        Msg.MEMBER_VERIFIED: "会员 {name}：积分 {points}",
        Msg.MEMBER_BLOCKED: "会员已冻结 {member}",
        Msg.MEMBER_UNKNOWN: "会员号不存在 {member}",
        Msg.MEMBER_UNVERIFIED: "会员 {member} 未验证（门店服务器无应答）",
        Msg.RETURN_AT_PAID_PRICE: "第 {line} 行按原付款价格退：不能改价",
        Msg.RETURN_NO_DISCOUNT: "第 {line} 行是退货：不能打折",
        Msg.REFUND_TIMEOUT: "支付终端无响应：{tender} 退款 {amount} 仍可能成功：请等待结果",
        Msg.REFUND_UNANSWERED: "{tender} 退款 {amount} 仍可能成功：请等待终端（或取消退货）",
        Msg.LATE_REFUND: "{tender} 退款 {amount} 终端已批准：退货完成",
        Msg.LATE_REFUND_STANDS: "{tender} 退款 {amount} 超时后才批准：款已退出，请叫主管",
        Msg.LATE_REFUND_DECLINED: "{tender} 退款 {amount} 被拒绝：请用其他方式退款",
    },
}
