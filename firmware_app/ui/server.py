"""The screens' web server: Starlette on uvicorn, in a thread of its own.

The lane loop only hands its (immutable) state over with ``show``: a reference is
stored and the server's event loop is woken; it never waits for the server, let
alone for a page. In the server's thread the state becomes the two views
(``lane.view``), serialised once per change and pushed to every page, newest first
and only the newest: a page that reads slowly skips snapshots, a page that does not
read at all is closed after ``SEND_TIMEOUT_S``.

Keys touched on the cashier's page come back as ``{"key": "NAME"}`` and are posted
as the same ``KeyPressed`` event the keypad posts. Everything a page sends is
checked first (docs/screen.md, "What a page sends"); a socket that breaks the rules
is closed, with a log line, and never blocks anything.

Why this stack: Starlette and uvicorn are small, well-kept, and plain asyncio, so
the whole server is one event loop in one thread beside the lane's own threads; the
``websockets`` package (sans-I/O, under uvicorn) does the WebSocket protocol,
including the frame size limit, pings and closing handshakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from firmware_app.config import KEY_NAMES, is_loopback
from firmware_app.lane.devices import Device, StateWord
from firmware_app.lane.events import DeviceState, Event, KeyPressed
from firmware_app.lane.rules import LaneSetup
from firmware_app.lane.state import LaneState
from firmware_app.lane.view import ScreenSetup, customer_screen, customer_view, screen_view
from firmware_app.ui.errors import UiError

log = logging.getLogger(__name__)

MAX_FRAME = 256  # bytes: {"key": "SUBTOTAL"} is 19
KEYS_PER_S = 20.0  # sustained rate a finger cannot beat
KEY_BURST = 40.0
SEND_TIMEOUT_S = 5.0
START_TIMEOUT_S = 10.0

STATIC = Path(str(resources.files("firmware_app.ui") / "static"))
HTML_HEADERS = {
    "Cache-Control": "no-cache",
    # Nothing but the lane itself: no CDN, no inline script from elsewhere.
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Frames:
    """The latest snapshot of each view, ready to send (``run`` and ``v`` included)."""

    v: int
    screen: str
    customer: str


class Client:
    """One open page: the newest frame not sent yet (latest wins) and its sender."""

    def __init__(self, ws: WebSocket, kind: str) -> None:
        self.ws = ws
        self.kind = kind
        self.pending: str | None = None
        self.ready = asyncio.Event()
        self.tokens = KEY_BURST
        self.refilled = time.monotonic()

    def offer(self, frame: str) -> None:
        self.pending = frame
        self.ready.set()

    def allow_key(self) -> bool:
        """Token bucket: ``KEY_BURST`` keys at once, ``KEYS_PER_S`` sustained."""
        now = time.monotonic()
        self.tokens = min(KEY_BURST, self.tokens + (now - self.refilled) * KEYS_PER_S)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Hub:
    """Turns lane states into frames and hands them to every page. Runs in the server's
    event loop; ``show`` is the one entry from other threads."""

    def __init__(
        self,
        setup: LaneSetup,
        screen: ScreenSetup,
        clock: Callable[[], datetime],
    ) -> None:
        self.setup = setup
        self.screen = screen
        self.clock = clock
        self.run = secrets.token_hex(4)
        self.v = 0
        self.clients: set[Client] = set()
        self._state: LaneState | None = None
        self._views: tuple[bytes, bytes] | None = None
        self.frames: Frames | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self._lock = threading.Lock()

    # --- from the lane loop's thread ---------------------------------------------------

    def show(self, state: LaneState) -> None:
        """Take the lane's new state; never blocks (the views are built in the server's
        thread, from the newest state only)."""
        with self._lock:
            self._state = state
            if self._scheduled or self._loop is None:
                return
            self._scheduled = True
            loop = self._loop
        with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody to show
            loop.call_soon_threadsafe(self._refresh)

    # --- in the server's event loop -----------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._loop = loop
            pending = self._state is not None
            self._scheduled = pending
        if pending:
            loop.call_soon(self._refresh)

    def _refresh(self) -> None:
        with self._lock:
            state = self._state
            self._scheduled = False
        if state is None:
            return
        try:
            now = self.clock()
            views = (
                orjson.dumps(screen_view(state, self.setup, self.screen, now)),
                orjson.dumps(
                    customer_screen(
                        customer_view(state, self.setup, self.screen, now), self.screen.language
                    )
                ),
            )
        except Exception:
            log.exception("screen: the view could not be built; the pages keep the last one")
            return
        if views == self._views:
            return
        old = self._views
        self._views = views
        self.v += 1
        head = b'{"run":"%s","v":%d,"view":' % (self.run.encode(), self.v)
        frames = Frames(
            self.v, (head + views[0] + b"}").decode(), (head + views[1] + b"}").decode()
        )
        self.frames = frames
        for client in self.clients:
            if client.kind == "screen":
                if old is None or views[0] != old[0]:
                    client.offer(frames.screen)
            elif old is None or views[1] != old[1]:
                client.offer(frames.customer)

    def join(self, client: Client) -> None:
        self.clients.add(client)
        if self.frames is not None:
            client.offer(self.frames.screen if client.kind == "screen" else self.frames.customer)

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.clients if c.kind == kind)


class Gate:
    """Who may open a socket: the lane's own pages (Origin), on the lane's own address
    (Host, against DNS rebinding on loopback), with the token when one is set."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.token = token
        self.loopback = is_loopback(host)
        self.port = port

    def host_ok(self, host_header: str) -> bool:
        if not self.loopback:
            return True  # reachable by other machines: the token guards it
        name, _, port = host_header.rpartition(":")
        if not name:
            return False
        return name in ("127.0.0.1", "localhost", "[::1]") and port == str(self.port)

    def refusal(self, headers: Any, query: Any) -> str:
        """Why a handshake (or /healthz) is refused, or ``""``."""
        host = headers.get("host", "")
        if not self.host_ok(host):
            return f"Host {host!r} is not this lane's address"
        origin = headers.get("origin")
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            return f"Origin {origin!r} is not this lane's page"
        if self.token:
            given = query.get("token", "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return "missing or wrong token"
        return ""


def _client_name(ws: WebSocket | Request) -> str:
    c = ws.client
    return f"{c.host}:{c.port}" if c else "?"


class ScreenServer:
    """The cashier's screen and the customer page at ``host:port`` (docs/screen.md)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        token: str,
        setup: LaneSetup,
        screen: ScreenSetup,
        clock: Callable[[], datetime],
        post: Callable[[Event], None],
    ) -> None:
        self.host = host
        self.port = port
        self.post = post
        self.hub = Hub(setup, screen, clock)
        self.gate = Gate(host, port, token)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/", self._page("cashier.html")),
                Route("/customer", self._page("customer.html")),
                Route("/healthz", self._health),
                WebSocketRoute("/ws", self._screen_socket),
                WebSocketRoute("/ws/customer", self._customer_socket),
                Mount("/static", app=StaticFiles(directory=STATIC, check_dir=False)),
            ]
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and serve in a thread of its own. Raises ``UiError`` (the port is taken,
        the address is not this machine's) with the address and the reason."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            raise UiError(
                f"screen: cannot listen on {self.host}:{self.port}: {e.strerror or e}"
            ) from e
        self._socket = sock
        if self.port == 0:
            self.port = sock.getsockname()[1]
            self.gate.port = self.port
        config = uvicorn.Config(
            self.app,
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME,
            ws_max_queue=8,
            ws_per_message_deflate=False,
            ws_ping_interval=10.0,
            ws_ping_timeout=10.0,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            async def main() -> None:
                self.hub.attach(asyncio.get_running_loop())
                task = asyncio.create_task(self._server.serve(sockets=[sock]))  # type: ignore[union-attr]
                while not self._server.started and not task.done():  # type: ignore[union-attr]
                    await asyncio.sleep(0.01)
                started.set()
                await task

            try:
                asyncio.run(main())
            except BaseException as e:  # uvicorn exits by SystemExit on a fatal error
                failure.append(e)
                log.exception("screen: the web server stopped")
            finally:
                started.set()

        self._thread = threading.Thread(target=serve, name="screen", daemon=True)
        self._thread.start()
        if not started.wait(START_TIMEOUT_S) or failure or not self._server.started:
            self.stop()
            reason = repr(failure[0]) if failure else "did not start in time"
            raise UiError(f"screen: {self.address}: {reason}")
        log.info("screen: cashier %s, customer %scustomer", self.address, self.address)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def show(self, state: LaneState) -> None:
        """The lane loop's display port."""
        self.hub.show(state)

    def announce(self, ok: bool, detail: str = "") -> None:
        self.post(DeviceState(Device.SCREEN, StateWord.OK if ok else StateWord.ERROR, detail))

    # --- HTTP -------------------------------------------------------------------------

    @staticmethod
    def _page(name: str) -> Callable[[Request], Any]:
        async def page(request: Request) -> Response:
            return FileResponse(STATIC / name, headers=HTML_HEADERS)

        return page

    async def _health(self, request: Request) -> Response:
        why = self.gate.refusal(request.headers, request.query_params)
        if why:
            log.warning("screen: /healthz from %s refused: %s", _client_name(request), why)
            return JSONResponse({"ok": False, "error": why}, status_code=403)
        return JSONResponse(
            {
                "ok": True,
                "screens": self.hub.count("screen"),
                "customers": self.hub.count("customer"),
                "run": self.hub.run,
                "v": self.hub.v,
            }
        )

    # --- sockets ----------------------------------------------------------------------

    async def _screen_socket(self, ws: WebSocket) -> None:
        await self._socket_session(ws, "screen")

    async def _customer_socket(self, ws: WebSocket) -> None:
        await self._socket_session(ws, "customer")

    async def _socket_session(self, ws: WebSocket, kind: str) -> None:
        who = _client_name(ws)
        why = self.gate.refusal(ws.headers, ws.query_params)
        if why:
            log.warning("screen: %s socket from %s refused: %s", kind, who, why)
            await ws.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await ws.accept()
        client = Client(ws, kind)
        self.hub.join(client)
        sender = asyncio.create_task(self._send_loop(client, who))
        try:
            await self._receive_loop(client, who)
        finally:
            self.hub.leave(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _send_loop(self, client: Client, who: str) -> None:
        while True:
            await client.ready.wait()
            client.ready.clear()
            frame, client.pending = client.pending, None
            if frame is None:
                continue
            try:
                await asyncio.wait_for(client.ws.send_text(frame), SEND_TIMEOUT_S)
            except TimeoutError:
                log.warning("screen: %s does not read its frames; closed", who)
                await self._close(client, 1008)
                return
            except Exception:
                return  # gone: the receive loop ends the session

    async def _receive_loop(self, client: Client, who: str) -> None:
        while True:
            try:
                message = await client.ws.receive()
            except Exception:
                return
            if message["type"] == "websocket.disconnect":
                code = message.get("code")
                if code == 1009:
                    log.warning("screen: %s sent a frame over %d bytes; closed", who, MAX_FRAME)
                return
            text = message.get("text")
            if text is None:
                log.warning("screen: %s sent a binary frame; closed", who)
                await self._close(client, 1003)
                return
            if client.kind != "screen":
                log.warning(
                    "screen: %s sent %r to the customer page's socket; dropped", who, text[:40]
                )
                continue
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                log.warning("screen: %s sent a frame that is not JSON; closed", who)
                await self._close(client, 1003)
                return
            key = data.get("key") if isinstance(data, dict) else None
            if not isinstance(key, str) or key not in KEY_NAMES:
                log.warning("screen: %s sent an unknown key %r; dropped", who, text[:40])
                continue
            if not client.allow_key():
                log.warning(
                    "screen: %s sends keys faster than %d a second; closed", who, KEYS_PER_S
                )
                await self._close(client, 1008)
                return
            self.post(KeyPressed(key))

    @staticmethod
    async def _close(client: Client, code: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.close(code=code), 2)
