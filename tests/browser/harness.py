"""A stand-in for the lane's web server, to test the pages alone.

It serves the real static files at the real server's addresses (``/`` the cashier's
screen, ``/customer`` the customer display, ``/static/<name>`` every file of
firmware_app/ui/static), with the real server's headers (``PAGE_HEADERS``), and has the
two sockets, ``/ws`` and ``/ws/customer``, but what they send is up to the test:
``send(path, frame)`` hands a frame to every page connected there and keeps it as the one
a page that connects later gets at once, as the lane does.
What pages send is recorded (``keys``). ``drop`` closes the sockets from the server's
side, ``refuse`` makes handshakes fail (HTTP 403) until it is called with False.

    with Harness() as h:
        page.goto(h.url + "/")
        h.send(SCREEN, frame)
        h.wait_keys(1)

Starlette under uvicorn, on a free port of 127.0.0.1, in a thread with its own event loop;
the test thread talks to it through ``asyncio.run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

import firmware_app.ui

STATIC = Path(firmware_app.ui.__file__).parent / "static"
# The headers the lane serves its pages with: a page that needs anything beyond its
# own files (an inline script or style, another host) breaks here as on a lane.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
SCREEN = "/ws"
CUSTOMER = "/ws/customer"
TIMEOUT_S = 5.0


@dataclass
class Handshake:
    """A socket a page opened: its query string and ``Origin`` header, and if it was let in."""

    query: str
    origin: str | None
    accepted: bool


@dataclass
class Channel:
    """One socket address: the pages connected to it and what went either way."""

    latest: str | None = None
    sockets: set[WebSocket] = field(default_factory=set)
    refusing: bool = False
    handshakes: list[Handshake] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # every text frame a page sent


class Harness:
    """The pages' server, with sockets the test drives. ``token``: handshakes must carry
    ``?token=<token>`` or are refused, as the lane does with ``[ui] token``."""

    def __init__(self, *, token: str | None = None) -> None:
        self.token = token
        self.channels = {SCREEN: Channel(), CUSTOMER: Channel()}
        self._changed = threading.Condition()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        config = uvicorn.Config(
            self._app(),
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="page-harness", daemon=True)

    # --- the test's side ----------------------------------------------------------------

    def start(self) -> Harness:
        # Listening before uvicorn runs: a page that connects at once waits in the backlog.
        self._sock.listen(16)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(TIMEOUT_S + 2)
        self._sock.close()

    def __enter__(self) -> Harness:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def send(self, path: str, frame: str) -> None:
        """Sends ``frame`` (a JSON text) to every page on ``path``; pages connecting later
        get it first."""
        self._call(self._send(path, frame))

    def drop(self, path: str) -> None:
        """Closes every socket on ``path`` from the server's side (1012, as on a restart)."""
        self._call(self._drop(path))

    def refuse(self, path: str, refusing: bool = True) -> None:
        """While ``refusing``, handshakes on ``path`` are refused (HTTP 403)."""
        with self._changed:
            self.channels[path].refusing = refusing

    def connected(self, path: str) -> int:
        """How many pages are connected to ``path`` now."""
        with self._changed:
            return len(self.channels[path].sockets)

    def handshakes(self, path: str) -> list[Handshake]:
        with self._changed:
            return list(self.channels[path].handshakes)

    @property
    def keys(self) -> list[str]:
        """The key names the cashier's page sent, in order."""
        with self._changed:
            return [k for k in map(_key, self.channels[SCREEN].received) if k is not None]

    def wait_keys(self, count: int, timeout: float = TIMEOUT_S) -> list[str]:
        """The keys sent so far, once there are at least ``count``; fails after ``timeout`` s."""
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.keys) >= count, timeout)
            assert done, f"expected {count} keys from the page, got {self.keys}"
            return self.keys

    def wait_connected(self, path: str, count: int = 1, timeout: float = TIMEOUT_S) -> None:
        with self._changed:
            done = self._changed.wait_for(
                lambda: len(self.channels[path].sockets) >= count, timeout
            )
            assert done, f"expected {count} pages on {path}"

    def wait_handshakes(self, path: str, count: int, timeout: float = TIMEOUT_S) -> None:
        with self._changed:
            done = self._changed.wait_for(
                lambda: len(self.channels[path].handshakes) >= count, timeout
            )
            assert done, f"expected {count} handshakes on {path}, got {self.handshakes(path)}"

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(TIMEOUT_S)

    # --- the server's side --------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._server.serve(sockets=[self._sock]))

    def _app(self) -> Starlette:
        async def cashier(request: Request) -> FileResponse:
            return FileResponse(STATIC / "cashier.html", headers=PAGE_HEADERS)

        async def customer(request: Request) -> FileResponse:
            return FileResponse(STATIC / "customer.html", headers=PAGE_HEADERS)

        return Starlette(
            routes=[
                Route("/", cashier),
                Route("/customer", customer),
                Mount("/static", StaticFiles(directory=STATIC)),
                WebSocketRoute(SCREEN, self._socket),
                WebSocketRoute(CUSTOMER, self._socket),
            ]
        )

    async def _socket(self, ws: WebSocket) -> None:
        channel = self.channels[ws.url.path]
        allowed = not channel.refusing and (
            self.token is None or ws.query_params.get("token") == self.token
        )
        with self._changed:
            channel.handshakes.append(Handshake(ws.url.query, ws.headers.get("origin"), allowed))
            self._changed.notify_all()
        if not allowed:
            await ws.close(code=1008)  # before accepting: the handshake fails with 403
            return
        await ws.accept()
        with self._changed:
            channel.sockets.add(ws)
            self._changed.notify_all()
        try:
            if channel.latest is not None:
                await ws.send_text(channel.latest)
            while True:
                text = await ws.receive_text()
                with self._changed:
                    channel.received.append(text)
                    self._changed.notify_all()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away, or the test dropped it
        finally:
            with self._changed:
                channel.sockets.discard(ws)
                self._changed.notify_all()

    async def _send(self, path: str, frame: str) -> None:
        channel = self.channels[path]
        channel.latest = frame
        for ws in list(channel.sockets):
            # One closing now gets the latest frame when it reconnects.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await ws.send_text(frame)

    async def _drop(self, path: str) -> None:
        for ws in list(self.channels[path].sockets):
            with contextlib.suppress(RuntimeError):  # already closing
                await ws.close(code=1012)


def _key(text: str) -> str | None:
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    return frame.get("key") if isinstance(frame, dict) else None
