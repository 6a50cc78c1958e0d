"""A scripted stand-in for Panther's HTTP API on 127.0.0.1, for delivery tests.

Each request is answered by the next scripted `Reply` (then by `responder`, then 200 "Created").
A reply can be delayed, never answered ("hang", released when the stub stops) or dropped without an
answer ("close"). Every request is recorded with the connection it came on and when it arrived and
finished; the largest number of requests in flight at once is kept.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_PATH = "/api/event/create"
# Guards so that a broken test ends instead of hanging: nothing here waits longer than this.
HANG_GUARD_S = 10.0
GATE_GUARD_S = 3.0
# How often serve_forever checks for shutdown: the default 0.5 s would add that much to every test.
POLL_INTERVAL_S = 0.01

ANSWER = "answer"
HANG = "hang"
CLOSE = "close"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"status": "Created", "message": "Saved new alert"})
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    action: str = ANSWER

    def encoded_body(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def hang() -> Reply:
    return Reply(action=HANG)


def close() -> Reply:
    return Reply(action=CLOSE)


def error_reply(status: int, message: str, name: str = "", **headers: str) -> Reply:
    error = {"message": message, **({"name": name} if name else {})}
    return Reply(status=status, body={"error": error}, headers=headers)


@dataclass
class Received:
    index: int
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    connection: int  # the client's port: one value per TCP connection
    arrived: float
    answered: float = 0.0  # just before the answer was written (0.0: never answered)
    finished: float = 0.0

    @property
    def token(self) -> str | None:
        return self.headers.get("x-api-token")


class PantherStub:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.responder: Callable[[Received], Reply] | None = None
        # When set, the first requests wait until this many are in flight (or GATE_GUARD_S passes):
        # shows that the client does reach that concurrency, without relying on timing.
        self.hold_until_in_flight: int | None = None
        self._gate_opened = False
        self.max_in_flight = 0
        self._script: deque[Reply] = deque()
        self._in_flight = 0
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.port = self._server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}{EVENT_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name="panther-stub",
            daemon=True,
        )

    def start(self) -> PantherStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=HANG_GUARD_S)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def tokens(self) -> list[str | None]:
        return [r.token for r in self.received]

    # Called from the handler threads.
    def _arrive(
        self, method: str, path: str, headers: dict[str, str], body: bytes, port: int
    ) -> tuple[Received, Reply]:
        with self._lock:
            record = Received(len(self.received), method, path, headers, body, port, time.monotonic())
            self.received.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._lock.notify_all()
            if self.hold_until_in_flight is not None and not self._gate_opened:
                target = self.hold_until_in_flight
                self._lock.wait_for(lambda: self._in_flight >= target, timeout=GATE_GUARD_S)
                # One-shot: later requests must not wait for a crowd that the tail of a batch lacks.
                self._gate_opened = True
            reply = self._script.popleft() if self._script else None
        if reply is None:
            reply = self.responder(record) if self.responder else Reply()
        return record, reply

    def _leave(self, record: Received) -> None:
        with self._lock:
            record.finished = time.monotonic()
            self._in_flight -= 1

    def _wait(self, seconds: float) -> None:
        self._released.wait(seconds)


def _handler_for(stub: PantherStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like Panther's Express server

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle and the client's delayed
            # ACK add ~40 ms to every answer.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            record, reply = stub._arrive(self.command, self.path, headers, body, self.client_address[1])
            try:
                self._reply(record, reply)
            finally:
                stub._leave(record)

        def _reply(self, record: Received, reply: Reply) -> None:
            if reply.delay_s:
                stub._wait(reply.delay_s)
            if reply.action == HANG:
                stub._wait(HANG_GUARD_S)
                self.close_connection = True
                return
            if reply.action == CLOSE:
                self.close_connection = True
                return
            payload = reply.encoded_body()
            record.answered = time.monotonic()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the test output is not the place for an access log."""

    return Handler
