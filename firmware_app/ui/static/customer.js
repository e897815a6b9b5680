/*
 * The customer display: draws each lane.customer/1 snapshot whole (docs/screen.md).
 * Phases (body data-phase): idle shows the store's idle_text; selling the last item
 * and the total; paying the total and what was paid; done what was paid, the change
 * and labels.thanks. Every word comes from the snapshot; nothing is computed here.
 * This page sends nothing.
 *
 * Test hooks:
 *   body dataset v, run, draws, connected   see lane-socket.js
 *   body dataset phase, lang                the drawn snapshot's phase and lang
 *   #c-idle > .idle-line                    the idle_text lines
 *   #c-last                                 .c-last-name .c-last-qty .c-last-amount
 *   #c-total #c-paid #c-due #c-change #c-items  the figures (shown as the phase wants)
 *   #c-member #c-savings #c-thanks          member, savings (hidden when none), thanks
 *   #training, #offline                     the banners
 */
(function () {
  "use strict";

  function $(id) {
    return document.getElementById(id);
  }

  function setText(id, text) {
    $(id).textContent = text === null || text === undefined ? "" : String(text);
  }

  function draw(view) {
    var labels = view.labels || {};
    var body = document.body;
    var lang = view.lang === "en" ? "en" : "zh";
    body.dataset.lang = lang;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    body.dataset.phase = view.phase;

    body.classList.toggle("training", !!view.training);
    setText("training", view.training ? labels.training : "");
    $("training").hidden = !view.training;

    var idle = $("c-idle");
    idle.textContent = "";
    (view.idle_text || []).forEach(function (text) {
      var line = document.createElement("div");
      line.className = "idle-line";
      line.textContent = text;
      idle.appendChild(line);
    });

    var last = view.last;
    var box = $("c-last");
    box.querySelector(".c-last-name").textContent = last ? last.name : "";
    box.querySelector(".c-last-qty").textContent = last ? last.qty : "";
    box.querySelector(".c-last-amount").textContent = last ? last.amount : "";
    box.classList.toggle("empty", !last);

    setText("c-items-label", labels.items);
    setText("c-items", view.items);
    setText("c-total-label", labels.total);
    setText("c-total", view.total);
    setText("c-paid-label", labels.paid);
    setText("c-paid", view.paid);
    setText("c-due-label", labels.due);
    setText("c-due", view.due);
    setText("c-change-label", labels.change);
    setText("c-change", view.change);
    setText("c-thanks", labels.thanks);

    $("c-member").hidden = !view.member;
    setText("c-member", view.member ? labels.member + " " + view.member : "");
    var saved = typeof view.savings === "string";
    $("c-savings").hidden = !saved;
    setText("c-savings", saved ? labels.savings + " " + view.savings : "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.LaneSocket.connect({ path: "/ws/customer", schema: "lane.customer/1", draw: draw });
  });
})();
