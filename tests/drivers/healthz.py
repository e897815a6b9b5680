"""A tiny real HTTP server on a free port of 127.0.0.1 standing in for the lane's screen
server (or for another program on its port): it answers ``GET /healthz`` as told and
records every path asked for."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

HEALTHY = {"ok": True, "screens": 1, "customers": 0, "run": "3f9c2a1e", "v": 42}


@dataclass
class Answer:
    """What the server sends: ``status`` and ``body`` (a dict is sent as JSON); with
    ``token`` set, a request without ``?token=`` equal to it gets 403, as the lane's does."""

    status: int = 200
    body: Any = field(default_factory=lambda: dict(HEALTHY))
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class HealthServer:
    """``with HealthServer() as server:`` ``server.port``, ``server.answer`` (change it
    between requests), ``server.paths`` (every request's path and query)."""

    def __init__(
        self, answer: Answer | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.answer = answer or Answer()
        self.paths: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                answer = outer.answer
                given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
                status, body = answer.status, answer.body
                if answer.token and given != answer.token:
                    status, body = 403, "forbidden"
                data = (
                    json.dumps(body).encode()
                    if isinstance(body, dict | list)
                    else str(body).encode()
                )
                self.send_response(status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server_class = http.server.ThreadingHTTPServer
        if ":" in host:

            class V6(http.server.ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_class = V6
        self._server = server_class((host, port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> HealthServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def raw_server(greeting: bytes | None) -> Iterator[int]:
    """A TCP server that is not HTTP: each connection gets ``greeting`` (an SSH banner,
    say) and is closed, or with None is held open without a word. Yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            if greeting is None:
                held.append(conn)
            else:
                with conn:
                    conn.recv(4096)
                    conn.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
