/*
 * The cashier's touch screen: draws each lane.screen/1 snapshot whole (docs/screen.md)
 * and sends one {"key": NAME} frame per key touched. Every word shown comes from the
 * snapshot except the key captions (keys.js). The page does no arithmetic and never
 * masks or unmasks `entry`: the lane sends it already masked in PIN modes.
 *
 * Test hooks:
 *   body dataset v, run, draws, connected    see lane-socket.js
 *   body dataset mode, lang                  the drawn snapshot's mode and lang
 *   body.training                            training mode (#training shows labels.training)
 *   [data-key="NAME"]                        the key button for lane key NAME
 *   #lines > [data-line="no"]                a basket line; class "voided" when voided;
 *                                            .line-name .line-qty .line-amount, .sub
 *                                            (.sub-text, .sub-amount); the newest line
 *                                            has class "newest"
 *   #due                                     the big amount: totals.due, or totals.change
 *                                            when set; #due-box data-kind "due"|"change"
 *   #last                                    .last-name .last-qty .last-amount
 *   #message                                 text; class "error" | "warning" | "info"
 *   #choices > [data-choice="no"]            a choice button
 *   #health > [data-device="name"]           an indicator; class = its level
 *   #scale (data-state), #entry, #qty, #prompt, #clock, #cashier, #lane-id, #receipt
 *   #offline                                 the offline indicator
 */
(function () {
  "use strict";

  var socket = null;
  var keyButtons = {}; // name -> button
  var lang = "zh";
  var newestLine = null; // what the newest basket line looked like: scroll when it changes
  var pinned = true; // the basket shows its end; false while the cashier scrolled up
  var scrolledByPage = null; // where the page itself last scrolled the basket to

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setText(id, text) {
    $(id).textContent = text === null || text === undefined ? "" : String(text);
  }

  // --- touching ------------------------------------------------------------------------

  /*
   * A touch fires once, on release over the button it started on (slide off to take it
   * back). Pointer events only: a touch never fires again as a click. Several fingers
   * are tracked apart, so a fast two-finger entry loses nothing.
   */
  function touchable(container, selector, fire) {
    var pressed = new Map(); // pointerId -> button

    function release(event, fired) {
      var button = pressed.get(event.pointerId);
      if (!button) return;
      pressed.delete(event.pointerId);
      button.classList.remove("pressed");
      if (fired && inside(button, event.clientX, event.clientY)) fire(button);
    }

    container.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      var button = event.target.closest(selector);
      if (!button || !container.contains(button)) return;
      event.preventDefault(); // no focus, no text selection, no emulated mouse events
      pressed.set(event.pointerId, button);
      button.classList.add("pressed");
    });
    container.addEventListener("pointerup", function (event) {
      release(event, true);
    });
    container.addEventListener("pointercancel", function (event) {
      release(event, false);
    });
    container.addEventListener("contextmenu", function (event) {
      event.preventDefault(); // a long press is still a key press, not a menu
    });
  }

  var SLOP_PX = 12; // a finger may drift this far off the key and still press it

  function inside(button, x, y) {
    var r = button.getBoundingClientRect();
    return x >= r.left - SLOP_PX && x <= r.right + SLOP_PX && y >= r.top - SLOP_PX && y <= r.bottom + SLOP_PX;
  }

  function sendKey(name) {
    if (socket) socket.send({ key: name });
  }

  function buildKeys() {
    var pad = $("keys");
    window.LaneKeys.forEach(function (k) {
      var button = el("button", "key");
      button.type = "button";
      button.tabIndex = -1;
      button.dataset.key = k.name;
      button.dataset.group = k.group;
      button.style.gridArea = "k" + k.name.toLowerCase();
      pad.appendChild(button);
      keyButtons[k.name] = { button: button, key: k };
    });
    captionKeys();
    touchable(pad, "[data-key]", function (button) {
      sendKey(button.dataset.key);
    });
    touchable($("choices"), "[data-choice]", function (button) {
      // A choice is its number keyed digit by digit, then ENTER, as on the keypad.
      button.dataset.choice.split("").forEach(sendKey);
      sendKey("ENTER");
    });
  }

  function captionKeys() {
    Object.keys(keyButtons).forEach(function (name) {
      var entry = keyButtons[name];
      entry.button.textContent = lang === "en" ? entry.key.en : entry.key.zh;
    });
  }

  // --- drawing -------------------------------------------------------------------------

  function drawLang(view) {
    var next = view.lang === "en" ? "en" : "zh";
    document.body.dataset.lang = next;
    if (next === lang) return;
    lang = next;
    document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
    captionKeys();
  }

  function drawBar(view, labels) {
    setText("lane-id", labels.lane + " " + view.store + "-" + view.lane);
    setText("cashier", view.cashier === null ? labels.signed_off : labels.cashier + " " + view.cashier);
    setText("receipt", labels.receipt + " " + view.receipt_no);
    setText("clock", view.clock);
    var list = $("health");
    list.textContent = "";
    (view.health || []).forEach(function (h) {
      // A device in trouble says what is wrong, in the screen's words: "打印机 缺纸".
      var chip = el("li", "chip " + h.level, h.level === "info" ? h.label : h.label + " " + (h.text || h.state));
      chip.dataset.device = h.device;
      chip.dataset.state = h.state;
      chip.title = h.label + ": " + (h.text || h.state);
      list.appendChild(chip);
    });
    document.body.classList.toggle("training", !!view.training);
    setText("training", view.training ? labels.training : "");
    $("training").hidden = !view.training;
  }

  function lineItem(line, isNewest) {
    var item = el("li", "line" + (line.voided ? " voided" : "") + (isNewest ? " newest" : ""));
    item.dataset.line = String(line.no);
    item.appendChild(el("span", "line-no num", line.no));
    item.appendChild(el("span", "line-name", line.name));
    item.appendChild(el("span", "line-qty num", line.qty));
    item.appendChild(el("span", "line-amount num", line.amount));
    if (line.subs && line.subs.length) {
      var subs = el("ul", "subs");
      line.subs.forEach(function (s) {
        var sub = el("li", "sub");
        sub.appendChild(el("span", "sub-text", s.text));
        sub.appendChild(el("span", "sub-amount num", s.amount));
        subs.appendChild(sub);
      });
      item.appendChild(subs);
    }
    return item;
  }

  function scrollBasket(top) {
    var scroller = $("basket-scroll");
    scroller.scrollTop = top;
    scrolledByPage = scroller.scrollTop;
  }

  function keepPinned() {
    if (pinned) scrollBasket($("basket-scroll").scrollHeight);
  }

  /* The basket stays at its end while the cashier has not scrolled it, also when the
     lines' heights change after drawing (fonts) or the box's size does. */
  function followBasket() {
    var scroller = $("basket-scroll");
    scroller.addEventListener("scroll", function () {
      // The page's own scrolling is not the cashier's, even if the box resized since.
      if (scroller.scrollTop === scrolledByPage) return;
      pinned = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 4;
    });
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(keepPinned);
      observer.observe(scroller);
      observer.observe($("lines"));
    }
  }

  function drawBasket(view, labels) {
    var list = $("lines");
    var lines = view.lines || [];
    var scrolledTo = $("basket-scroll").scrollTop;
    list.textContent = "";
    lines.forEach(function (line, i) {
      list.appendChild(lineItem(line, i === lines.length - 1));
    });
    // Follow the newest line, but leave the cashier's scrolling alone otherwise.
    var newest = lines.length ? lines.length + JSON.stringify(lines[lines.length - 1]) : null;
    if (newest !== newestLine) {
      newestLine = newest;
      pinned = true;
    }
    if (pinned) keepPinned();
    else scrollBasket(scrolledTo);
    var t = view.totals;
    setText("items-label", labels.items);
    setText("items", t.items);
    setText("total-label", labels.total);
    setText("total", t.total);
    setText("discount-label", labels.discount);
    setText("discount", t.discount);
    setText("paid-label", labels.paid);
    setText("paid", t.paid);
  }

  function drawChoices(view) {
    var box = $("choices");
    var choices = view.choices || [];
    box.textContent = "";
    choices.forEach(function (c) {
      var button = el("button", "choice", c.text);
      button.type = "button";
      button.tabIndex = -1;
      button.dataset.choice = String(c.no);
      box.appendChild(button);
    });
    box.hidden = choices.length === 0;
  }

  function drawInfo(view, labels) {
    var t = view.totals;
    var change = t.change !== null && t.change !== undefined;
    $("due-box").dataset.kind = change ? "change" : "due";
    setText("due-label", change ? labels.change : labels.due);
    setText("due", change ? t.change : t.due);

    var last = view.last;
    var lastBox = $("last");
    lastBox.querySelector(".last-name").textContent = last ? last.name : "";
    lastBox.querySelector(".last-qty").textContent = last ? last.qty : "";
    lastBox.querySelector(".last-amount").textContent = last ? last.amount : "";
    lastBox.classList.toggle("empty", !last);

    var scale = view.scale;
    $("scale").hidden = !scale;
    if (scale) {
      $("scale").dataset.state = scale.state;
      setText("scale-label", labels.weight);
      setText("scale-weight", scale.weight);
      setText("scale-text", scale.text);
    }
    $("qty").hidden = view.qty === null || view.qty === undefined;
    setText("qty", view.qty === null ? "" : labels.qty + " " + view.qty + " ×");

    // The member: the name and points once the store server answered, else the number
    // and whether it is being checked or went unchecked.
    var member = view.member;
    $("member").hidden = !member;
    if (member) {
      $("member").dataset.state = member.state;
      var who = member.name || member.number;
      var more = "";
      if (member.state === "verified" && member.points !== null && member.points !== undefined) {
        more = " · " + labels.points + " " + member.points;
      } else if (member.state === "asked") {
        more = " · " + labels.member_asked;
      } else if (member.state === "unverified") {
        more = " · " + labels.member_unverified;
      }
      setText("member", labels.member + " " + who + more);
    }

    setText("prompt", view.prompt);
    setText("entry", view.entry);
    var message = view.message;
    var box = $("message");
    box.textContent = message ? message.text : "";
    box.className = "message " + (message ? message.level : "info");
  }

  function draw(view) {
    var labels = view.labels || {};
    drawLang(view);
    document.body.dataset.mode = view.mode;
    drawBar(view, labels);
    drawBasket(view, labels);
    drawChoices(view);
    drawInfo(view, labels);
  }

  document.addEventListener("DOMContentLoaded", function () {
    buildKeys();
    followBasket();
    socket = window.LaneSocket.connect({ path: "/ws", schema: "lane.screen/1", draw: draw });
  });
})();
