"""The screens' web server over real sockets: snapshots pushed, keys posted, and
everything a page may do wrong dropped or closed without touching the lane."""

from __future__ import annotations

import json
import logging
import queue
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from firmware_app.lane.catalog import Unit
from firmware_app.lane.events import Event, KeyPressed
from firmware_app.lane.ports import Cashier, Role
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.sale import Line, Sale
from firmware_app.lane.state import LaneState, Mode
from firmware_app.lane.view import ScreenSetup
from firmware_app.ui.errors import UiError
from firmware_app.ui.server import KEY_BURST, ScreenServer

TZ = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 2, 19, 30, tzinfo=TZ)
TOKEN = "0123456789abcdef0123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Posted:
    def __init__(self) -> None:
        self.events: queue.Queue[Event] = queue.Queue()

    def __call__(self, event: Event) -> None:
        self.events.put(event)

    def keys(self) -> list[str]:
        out = []
        while not self.events.empty():
            e = self.events.get()
            if isinstance(e, KeyPressed):
                out.append(e.key)
        return out


def serve(host: str = "127.0.0.1", token: str = "") -> tuple[ScreenServer, Posted]:
    posted = Posted()
    server = ScreenServer(
        host=host,
        port=free_port(),
        token=token,
        setup=LaneSetup(),
        screen=ScreenSetup(language="en"),
        clock=lambda: NOW,
        post=posted,
    )
    server.start()
    return server, posted


@pytest.fixture
def server() -> Iterator[tuple[ScreenServer, Posted]]:
    s, posted = serve()
    s.show(LaneState())
    yield s, posted
    s.stop()


def open_ws(server: ScreenServer, path: str = "/ws", **kw: object) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}{path}", open_timeout=5, **kw)  # type: ignore[arg-type]


def frame(ws: ClientConnection, timeout: float = 5) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def a_sale(lines: int) -> LaneState:
    sale = Sale("s1", NOW, "1001")
    for no in range(1, lines + 1):
        sale = sale.add_line(
            Line(
                no,
                "100234",
                "6954767410388",
                "可口可乐 330ml",
                Unit.EACH,
                1000,
                350,
                350,
                Decimal("13"),
            )
        )
    return LaneState(mode=Mode.READY, cashier=Cashier("1001", Role.CASHIER), sale=sale)


def test_a_page_gets_the_latest_snapshot_at_once_and_every_change(server) -> None:
    s, _ = server
    with open_ws(s) as ws:
        first = frame(ws)
        assert first["v"] >= 1 and first["view"]["schema"] == "lane.screen/1"
        assert first["view"]["mode"] == "signed_off"
        s.show(a_sale(2))
        second = frame(ws)
        assert second["run"] == first["run"] and second["v"] > first["v"]
        assert [ln["amount"] for ln in second["view"]["lines"]] == ["3.50", "3.50"]
        assert second["view"]["totals"]["due"] == "7.00"


def test_a_reconnecting_page_gets_the_same_snapshot_again(server) -> None:
    s, _ = server
    s.show(a_sale(3))
    with open_ws(s) as ws:
        seen = frame(ws)
    with open_ws(s) as ws:
        again = frame(ws)
    assert again == seen and len(again["view"]["lines"]) == 3


def test_an_unchanged_state_sends_nothing(server) -> None:
    s, _ = server
    with open_ws(s) as ws:
        frame(ws)
        s.show(LaneState())
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)


def test_the_customer_page_gets_its_own_view(server) -> None:
    s, _ = server
    s.show(a_sale(1))
    with open_ws(s, "/ws/customer") as ws:
        view = frame(ws)["view"]
    assert view["schema"] == "lane.customer/1"
    assert view["phase"] == "selling" and view["total"] == "3.50"
    assert view["last"]["name"] == "可口可乐 330ml"


def test_a_touched_key_is_posted_as_the_keypads_event(server) -> None:
    s, posted = server
    with open_ws(s) as ws:
        frame(ws)
        for key in ("1", "0", "CASH"):
            ws.send(json.dumps({"key": key}))
        deadline = time.monotonic() + 5
        keys: list[str] = []
        while len(keys) < 3 and time.monotonic() < deadline:
            keys += posted.keys()
            time.sleep(0.02)
    assert keys == ["1", "0", "CASH"]


def test_the_pin_is_masked_in_the_snapshot(server) -> None:
    s, _ = server
    s.show(LaneState(mode=Mode.PIN, signing_on="1001", entry="4321"))
    with open_ws(s) as ws:
        text = ws.recv(timeout=5)
    assert "4321" not in text
    assert json.loads(text)["view"]["entry"] == "****"


def wait_keys(posted: Posted, want: int, timeout: float = 2) -> list[str]:
    keys: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(keys) < want:
        keys += posted.keys()
        time.sleep(0.02)
    return keys


@pytest.mark.parametrize(
    "bad",
    ['{"key": "FIRE"}', '{"key": 5}', '{"nokey": "CASH"}', "[1, 2]", '"CASH"', '{"key": "cash"}'],
)
def test_unknown_keys_are_dropped_and_logged(server, bad: str, caplog) -> None:
    s, posted = server
    caplog.set_level(logging.WARNING, "firmware_app.ui.server")
    with open_ws(s) as ws:
        frame(ws)
        ws.send(bad)
        ws.send('{"key": "CLEAR"}')  # the socket stays open: this one arrives
        assert wait_keys(posted, 1) == ["CLEAR"]
    assert "unknown key" in caplog.text


@pytest.mark.parametrize(
    ("bad", "code", "words"),
    [
        ("not json {", 1003, "not JSON"),
        (b"\x00\x01", 1003, "binary"),
        ('{"key": "' + "9" * 400 + '"}', 1009, "over 256 bytes"),
    ],
)
def test_a_malformed_frame_closes_the_socket(server, bad, code: int, words: str, caplog) -> None:
    s, posted = server
    caplog.set_level(logging.WARNING, "firmware_app.ui.server")
    with open_ws(s) as ws:
        frame(ws)
        ws.send(bad)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert posted.keys() == []
    deadline = time.monotonic() + 2
    while words not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert words in caplog.text


def test_a_flood_of_keys_closes_the_socket_after_the_burst(server, caplog) -> None:
    s, posted = server
    caplog.set_level(logging.WARNING, "firmware_app.ui.server")
    with open_ws(s) as ws:
        frame(ws)
        with pytest.raises(ConnectionClosed):
            for _ in range(1000):
                ws.send('{"key": "1"}')
            while True:
                ws.recv(timeout=5)
    keys = wait_keys(posted, 10_000, timeout=1)
    assert int(KEY_BURST) <= len(keys) < 100
    assert "faster than" in caplog.text


def test_keys_sent_to_the_customer_socket_are_dropped(server, caplog) -> None:
    s, posted = server
    caplog.set_level(logging.WARNING, "firmware_app.ui.server")
    with open_ws(s, "/ws/customer") as ws:
        frame(ws)
        ws.send('{"key": "CASH"}')
        time.sleep(0.3)
    assert posted.keys() == []
    assert "customer page's socket" in caplog.text


def test_a_page_that_never_reads_never_slows_the_lane(server) -> None:
    s, _ = server
    raw = socket.create_connection(("127.0.0.1", s.port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % s.port
    )
    try:
        big = a_sale(60)
        started = time.perf_counter()
        for i in range(2000):  # each a new snapshot: an hour of scanning
            s.show(replace(big, entry=str(i)))
        spent = time.perf_counter() - started
        assert spent < 1.0  # show() only hands the state over
        # Another page still gets the newest snapshot promptly.
        with open_ws(s) as ws:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if frame(ws)["view"]["entry"] == "1999":
                    break
            else:
                pytest.fail("the newest snapshot never arrived")
    finally:
        raw.close()


def test_a_foreign_origin_is_refused(server) -> None:
    s, _ = server
    with pytest.raises(InvalidStatus) as refused:
        open_ws(s, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    with open_ws(s, origin=f"http://127.0.0.1:{s.port}") as ws:
        assert frame(ws)["v"] >= 1


def test_a_foreign_host_header_is_refused_on_loopback(server) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 sends its own Host and Origin."""
    s, _ = server
    with pytest.raises(InvalidStatus):
        open_ws(
            s,
            additional_headers={"Host": f"evil.example:{s.port}"},
            origin=f"http://evil.example:{s.port}",
        )


def test_beyond_loopback_a_socket_needs_the_token() -> None:
    s, posted = serve(host="0.0.0.0", token=TOKEN)
    try:
        s.show(LaneState())
        for path in ("/ws", "/ws?token=wrong", "/ws/customer"):
            with pytest.raises(InvalidStatus) as refused:
                open_ws(s, path)
            assert refused.value.response.status_code == 403
        with open_ws(s, f"/ws?token={TOKEN}") as ws:
            assert frame(ws)["v"] >= 1
            ws.send('{"key": "CLEAR"}')
            assert wait_keys(posted, 1) == ["CLEAR"]
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(f"http://127.0.0.1:{s.port}/healthz", timeout=5)
        assert http.value.code == 403
    finally:
        s.stop()


def test_pages_static_files_and_health_are_served(server) -> None:
    s, _ = server
    base = f"http://127.0.0.1:{s.port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as r:
        health = json.loads(r.read())
    assert health["ok"] is True and health["screens"] == 0
    for path in ("/", "/customer"):
        with urllib.request.urlopen(base + path, timeout=5) as r:
            assert r.status == 200
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            assert b"<html" in r.read().lower()


def test_a_taken_port_is_an_error_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = ScreenServer(
            host="127.0.0.1",
            port=port,
            token="",
            setup=LaneSetup(),
            screen=ScreenSetup(),
            clock=lambda: NOW,
            post=lambda e: None,
        )
        with pytest.raises(UiError, match=f"127.0.0.1:{port}: .*in use"):
            s.start()
        assert not s.running()


def test_a_page_that_never_reads_is_closed_with_a_log_line(server, monkeypatch, caplog) -> None:
    s, _ = server
    monkeypatch.setattr("firmware_app.ui.server.SEND_TIMEOUT_S", 0.5)
    caplog.set_level(logging.WARNING, "firmware_app.ui.server")
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", s.port))
    raw.sendall(
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % s.port
    )
    try:
        big = a_sale(200)
        deadline = time.monotonic() + 30
        i = 0
        while "does not read its frames" not in caplog.text:
            assert time.monotonic() < deadline, "the silent page was never closed"
            s.show(replace(big, entry=str(i)))  # ~40 kB a snapshot
            i += 1
            time.sleep(0.005)
    finally:
        raw.close()
