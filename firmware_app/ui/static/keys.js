/*
 * The cashier's touch keys: one per lane key name (spec/lane-input.md; the lane checks
 * names against firmware_app/config.py KEY_NAMES). The captions are the only words the
 * pages own; the snapshot's `lang` picks zh or en. `group` sets a key's colour; each key
 * sits in the keypad grid at the area "k" + its lower-cased name (cashier.css).
 *
 * Test hooks: none here; the buttons cashier.js makes carry data-key="NAME".
 */
(function (global) {
  "use strict";

  function key(name, zh, en, group) {
    return { name: name, zh: zh, en: en, group: group };
  }

  var digits = [];
  for (var d = 0; d <= 9; d += 1) digits.push(key(String(d), String(d), String(d), "num"));

  global.LaneKeys = digits.concat([
    key("00", "00", "00", "num"),
    key("DOT", ".", ".", "num"),
    key("CLEAR", "清除", "Clear", "clear"),
    key("ENTER", "确认", "Enter", "enter"),
    key("SUBTOTAL", "小计", "Subtotal", "subtotal"),
    key("CASH", "现金", "Cash", "pay"),
    key("CARD", "银行卡", "Card", "pay"),
    key("MOBILE", "移动支付", "Mobile", "pay"),
    key("VOID", "作废", "Void", "danger"),
    key("CANCEL", "取消交易", "Cancel sale", "danger"),
    key("QTY", "数量", "Qty", "sale"),
    key("PLU", "PLU", "PLU", "sale"),
    key("MEMBER", "会员", "Member", "sale"),
    key("DISC", "折扣", "Disc %", "sale"),
    key("PRICE", "改价", "Price", "sale"),
    key("RETURN", "退货", "Return", "sale"),
    key("SUSPEND", "挂单", "Suspend", "sale"),
    key("RESUME", "取单", "Resume", "sale"),
    key("REPRINT", "重印", "Reprint", "sale"),
    key("YES", "是", "Yes", "answer"),
    key("NO", "否", "No", "answer"),
    key("ZERO", "归零", "Zero", "scale"),
    key("TARE", "去皮", "Tare", "scale"),
    key("SIGNON", "登录", "Sign on", "admin"),
    key("SIGNOFF", "签退", "Sign off", "admin"),
    key("NOSALE", "开钱箱", "No sale", "admin"),
    key("PAIDIN", "存入", "Paid in", "admin"),
    key("PAIDOUT", "支出", "Paid out", "admin"),
    key("XREPORT", "X 报表", "X report", "admin"),
    key("ZREPORT", "Z 日结", "Z report", "admin"),
    key("TRAINING", "练习", "Training", "admin"),
  ]);
})(window);
