"""What a page sends over the screen's WebSocket, under fuzzing.

The screen's socket handler (``ScreenServer``, docs/screen.md "What a page sends") takes
``{"key": "NAME"}`` text frames from the cashier's page and posts each as the keypad's
``KeyPressed``; that post is the only way a page reaches the lane's state. Whatever frames
come (random text, random bytes, mutations of a key frame, random JSON), the handler
never raises, posts exactly the keys of well-formed key frames before the first frame that
closes the socket, drops an unknown key, and closes on a binary frame or one that is not
JSON (1003); the customer page's socket posts nothing at all.

The handshake (Host, Origin, token) is fuzzed too: a socket is accepted or refused
with 1008 before any frame is read.

First the real Starlette app in-process, over ASGI, for many examples; then a handful
through the running server with a WebSocket client, where frame size limits apply too
(over 256 bytes: 1009) and the server must go on serving afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from firmware_app.config import KEY_NAMES
from firmware_app.lane.events import Event, KeyPressed
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.lane.view import ScreenSetup
from firmware_app.ui.server import MAX_FRAME, ScreenServer
from tests.fuzz.test_fuzz_data_mutations import (
    ODD_TEXT,
    Deep,
    Pairs,
    fuzz_settings,
    json_values,
    mutated,
    to_json,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone(timedelta(hours=8)))
PORT = 8080
Frame = str | bytes

# --- frames a page (or anything that reaches the socket) might send ---------------------------

key_frames = st.sampled_from(sorted(KEY_NAMES)).map(lambda k: json.dumps({"key": k}))
frames: st.SearchStrategy[Frame] = st.one_of(
    key_frames,
    key_frames,
    st.sampled_from([{"key": "SUBTOTAL"}, {"key": "7", "extra": 1}])
    .flatmap(mutated)
    .map(lambda doc: to_json(doc).decode("ascii")),
    json_values.map(lambda v: to_json(v).decode("ascii")),
    st.text(max_size=40),
    st.sampled_from(ODD_TEXT),
    st.sampled_from(sorted(KEY_NAMES)),  # a bare key name: not JSON
    st.binary(max_size=40),
)


def expected(sent: list[Frame], kind: str) -> tuple[list[str], int | None]:
    """The keys the handler of a socket of ``kind`` posts for ``sent`` and the code it
    closes with (None: it stays open), as docs/screen.md says."""
    keys: list[str] = []
    for frame in sent:
        if isinstance(frame, bytes):
            return keys, 1003
        if kind != "screen":
            continue
        try:
            data = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return keys, 1003
        key = data.get("key") if isinstance(data, dict) else None
        if isinstance(key, str) and key in KEY_NAMES:
            keys.append(key)
    return keys, None


def server(port: int = PORT, token: str = "") -> tuple[ScreenServer, queue.Queue[Event]]:
    posted: queue.Queue[Event] = queue.Queue()
    return (
        ScreenServer(
            host="127.0.0.1",
            port=port,
            token=token,
            setup=LaneSetup(),
            screen=ScreenSetup(language="en"),
            clock=lambda: NOW,
            post=posted.put,
        ),
        posted,
    )


def drained(posted: queue.Queue[Event]) -> list[Event]:
    out = []
    while not posted.empty():
        out.append(posted.get())
    return out


# --- in-process: the real app over ASGI ---------------------------------------------------------


def session(
    sent: list[Frame],
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    token: str = "",
) -> tuple[list[Event], list[dict[str, Any]]]:
    """One WebSocket session of the screen's Starlette app over ASGI: connect, ``sent``,
    then the page goes away. What was posted and what the app sent back."""
    app, posted = server(token=token)
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    for frame in sent:
        kind = "bytes" if isinstance(frame, bytes) else "text"
        incoming.append({"type": "websocket.receive", kind: frame})
    incoming.append({"type": "websocket.disconnect", "code": 1001})
    replies: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1006}

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", f"127.0.0.1:{PORT}".encode())] if headers is None else headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", PORT),
        "subprotocols": [],
    }
    in_a_thread(lambda: asyncio.run(asyncio.wait_for(app.app(scope, receive, send), 10)))
    return drained(posted), replies


def in_a_thread(run: Any) -> None:
    """``run()`` on a thread of its own, with no event loop of the caller's in its way
    (a browser test's driver may keep one running on the main thread); its exception
    is raised here."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as e:
            failed.append(e)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


@fuzz_settings(150)
@given(st.lists(frames, max_size=12), st.sampled_from(["/ws", "/ws/customer"]))
@example(['{"key": "ENTER"}', '{"key": "\\ud800"}', '{"key": "CASH"}'], "/ws")
@example(["[" * 5000, '{"key": "1"}'], "/ws")
@example([to_json(Pairs((("key", "FIRE"), ("key", "CASH")))).decode()], "/ws")
@example([to_json({"key": Deep(900)}).decode(), "\x00"], "/ws")
@example(['{"key": "CASH"}', b"\x00"], "/ws/customer")
def test_the_socket_posts_exactly_the_well_formed_keys(sent: list[Frame], path: str) -> None:
    posted, replies = session(sent, path)
    keys, code = expected(sent, "screen" if path == "/ws" else "customer")
    assert replies[0]["type"] == "websocket.accept"
    assert posted == [KeyPressed(k) for k in keys]
    closes = [r for r in replies if r["type"] == "websocket.close"]
    assert [c.get("code") for c in closes] == ([] if code is None else [code])


TOKEN = "0123456789abcdef"
header_values = st.binary(max_size=40) | st.sampled_from(
    [f"127.0.0.1:{PORT}".encode(), b"localhost:8080", b"[::1]:8080", b"\xed\xa0\x80", b""]
)


@fuzz_settings(100)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from([b"host", b"origin", b"x"]) | st.binary(max_size=8), header_values
        ),
        max_size=4,
    ),
    query=st.binary(max_size=40)
    | st.sampled_from([b"token=" + TOKEN.encode(), b"token=%ED%A0%80", b"token=%FF&token=x"]),
)
@example(headers=[(b"host", f"127.0.0.1:{PORT}".encode())], query=b"token=" + TOKEN.encode())
def test_any_handshake_is_taken_or_refused_before_a_frame_is_read(
    headers: list[tuple[bytes, bytes]], query: bytes
) -> None:
    """The handshake's Host, Origin and token (the page's query) are anything at all: the
    socket is accepted, or closed with 1008 before it is; never an error."""
    posted, replies = session(
        ['{"key": "CLEAR"}'], "/ws", headers=headers, query=query, token=TOKEN
    )
    if replies[0]["type"] == "websocket.accept":
        assert posted == [KeyPressed("CLEAR")]
    else:
        assert [(r["type"], r.get("code")) for r in replies] == [("websocket.close", 1008)]
        assert posted == []


# --- through the running server --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[ScreenServer, queue.Queue[Event]]]:
    s, posted = server(free_port())
    s.start()
    s.show(LaneState())
    yield s, posted
    s.stop()


def _through(
    s: ScreenServer, posted: queue.Queue[Event], sent: list[Frame]
) -> tuple[int | None, list[Event]]:
    """Send ``sent`` on a fresh cashier socket, then one CLEAR: the code the server closed
    with (None: it stayed open and CLEAR arrived; -1: the socket broke under the client's
    sending before the close frame was read) and everything the session posted."""
    code: int | None = None
    got: list[Event] = []
    with connect(f"ws://127.0.0.1:{s.port}/ws", open_timeout=5) as ws:
        json.loads(ws.recv(timeout=5))  # the first snapshot
        try:
            for frame in [*sent, '{"key": "CLEAR"}']:
                ws.send(frame)
            deadline = time.monotonic() + 5
            while KeyPressed("CLEAR") not in got and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    ws.recv(timeout=0.02)
                got += drained(posted)
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else -1
    # The session's handler may still be reading frames queued before the close: what
    # it posts belongs to this session, so wait until it has left.
    deadline = time.monotonic() + 5
    while s.hub.clients and time.monotonic() < deadline:
        time.sleep(0.005)
    return code, got + drained(posted)


def _sendable(frame: Frame) -> bool:
    """A WebSocket client sends text as UTF-8: a lone surrogate never leaves it."""
    if isinstance(frame, bytes):
        return True
    try:
        frame.encode()
    except UnicodeEncodeError:
        return False
    return True


@fuzz_settings(12)
@given(
    st.lists(
        (frames | st.text(min_size=MAX_FRAME - 20, max_size=MAX_FRAME + 20)).filter(_sendable),
        max_size=6,
    )
)
def test_the_running_server_refuses_bad_frames_and_goes_on_serving(
    running: tuple[ScreenServer, queue.Queue[Event]], sent: list[Frame]
) -> None:
    s, posted = running
    drained(posted)
    code, got = _through(s, posted, sent)
    keys, want = expected(sent, "screen")
    oversize = any(len(f if isinstance(f, bytes) else f.encode()) > MAX_FRAME for f in sent)
    if want is None and not oversize:
        assert code is None
        assert got == [KeyPressed(k) for k in [*keys, "CLEAR"]]
    else:
        # The protocol layer reads ahead of the handler: a frame over the limit anywhere
        # in the burst may close the socket (1009) before the handler comes to a frame it
        # closes on, and the frames queued behind the close are dropped unread.
        assert code in {want, 1009 if oversize else want, -1} - {None}
        assert got == [KeyPressed(k) for k in keys[: len(got)]]
    # The server serves the next page as ever.
    with connect(f"ws://127.0.0.1:{s.port}/ws", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["view"]["schema"] == "lane.screen/1"
