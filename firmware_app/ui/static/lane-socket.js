/*
 * The lane's socket, shared by both pages (docs/screen.md, "How a page stays current").
 *
 * LaneSocket.connect({path, schema, draw}) opens ONE WebSocket to ws(s)://<host><path>,
 * with ?token= copied from the page's own address when it has one. Every frame is
 * {"run", "v", "view"}: a frame is drawn only if its run differs from the shown one or
 * its v is greater, and only if its view has the page's schema; anything else is
 * ignored (logged to the console), never half drawn. On close it reconnects after
 * 0.5 s, doubling to at most 5 s, back to 0.5 s once a socket opens. It never polls.
 *
 * While disconnected (after the first attempt failed or a socket closed) the body has
 * the class "offline" (the last snapshot stays, greyed by the page's CSS) and #offline
 * shows the last labels.offline seen, or "离线 / Offline" before any.
 *
 * Test hooks, on document.body.dataset:
 *   v, run      the drawn snapshot's v and run (set after it is drawn)
 *   draws       how many snapshots were drawn (a stale frame does not count)
 *   connected   "true" while the socket is open, else "false"
 * LaneSocket.backoff(n): the wait in ms before reconnect attempt n (0-based).
 */
(function (global) {
  "use strict";

  var FIRST_RETRY_MS = 500;
  var MAX_RETRY_MS = 5000;
  var FALLBACK_OFFLINE = "离线 / Offline";

  function backoff(attempt) {
    return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * Math.pow(2, attempt));
  }

  function socketUrl(path, loc) {
    var scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    var token = new URLSearchParams(loc.search).get("token");
    var query = token ? "?token=" + encodeURIComponent(token) : "";
    return scheme + "//" + loc.host + path + query;
  }

  /* The frame in `text` if it is one for this page, else null. */
  function parseFrame(text, schema) {
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      return null;
    }
    if (!frame || typeof frame !== "object") return null;
    if (typeof frame.run !== "string" || typeof frame.v !== "number") return null;
    var view = frame.view;
    if (!view || typeof view !== "object" || view.schema !== schema) return null;
    return frame;
  }

  function isNewer(frame, shown) {
    return shown === null || frame.run !== shown.run || frame.v > shown.v;
  }

  function connect(options) {
    var body = document.body;
    var offline = document.getElementById("offline");
    var shown = null; // {run, v} of the drawn snapshot
    var draws = 0;
    var offlineText = FALLBACK_OFFLINE;
    var socket = null;
    var attempt = 0;

    function setConnected(open, failed) {
      body.dataset.connected = open ? "true" : "false";
      var show = !open && failed;
      body.classList.toggle("offline", show);
      if (offline) {
        offline.textContent = offlineText;
        offline.hidden = !show;
      }
    }

    function onFrame(text) {
      var frame = parseFrame(text, options.schema);
      if (frame === null) {
        console.warn("lane: ignored a frame that is not a " + options.schema + " snapshot");
        return;
      }
      if (!isNewer(frame, shown)) return;
      try {
        options.draw(frame.view);
      } catch (e) {
        console.error("lane: could not draw snapshot " + frame.run + "/" + frame.v, e);
        return;
      }
      shown = { run: frame.run, v: frame.v };
      draws += 1;
      var labels = frame.view.labels;
      if (labels && typeof labels.offline === "string" && labels.offline) {
        offlineText = labels.offline;
      }
      body.dataset.run = frame.run;
      body.dataset.v = String(frame.v);
      body.dataset.draws = String(draws);
    }

    function open() {
      var ws;
      try {
        ws = new WebSocket(socketUrl(options.path, global.location));
      } catch (e) {
        console.error("lane: cannot open the socket", e);
        retry();
        return;
      }
      socket = ws;
      ws.onopen = function () {
        attempt = 0;
        setConnected(true, false);
      };
      ws.onmessage = function (event) {
        if (typeof event.data === "string") onFrame(event.data);
      };
      ws.onclose = function () {
        if (socket !== ws) return;
        socket = null;
        setConnected(false, true);
        retry();
      };
    }

    function retry() {
      var wait = backoff(attempt);
      attempt += 1;
      global.setTimeout(open, wait);
    }

    /* Sends one frame now, or drops it: a key touched while offline is never sent later. */
    function send(message) {
      if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    }

    setConnected(false, false);
    open();
    return { send: send };
  }

  global.LaneSocket = {
    connect: connect,
    backoff: backoff,
    socketUrl: socketUrl,
    parseFrame: parseFrame,
    isNewer: isNewer,
  };
})(window);
