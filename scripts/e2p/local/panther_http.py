"""One connection of the local Panther receiver: a lean HTTP/1.1 keep-alive loop.

`http.server.BaseHTTPRequestHandler` parses headers with the `email` package, which alone halves
the throughput the benchmark needs; this handler reads the few headers the contract uses into a
dict. Each request is turned into `RequestFacts`, the `PantherService` decides, and the handler
carries the decision out: answer (after any latency), reset the TCP connection, hold it open
without answering, or trigger the outage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import socketserver
import struct
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from e2p.local.panther_contract import Reply, RequestFacts, error_reply
from e2p.local.panther_service import Action, Outcome

if TYPE_CHECKING:
    from e2p.local.panther_server import PantherHTTPServer

logger = logging.getLogger(__name__)

# The real server closes idle keep-alive connections after 5 s.
DEFAULT_IDLE_TIMEOUT_S: Final = 5.0
# Beyond this a body is refused without reading it (the connection is then closed); far above the
# 4,096-byte limit so that every ordinary too-large body is drained and the connection kept.
DRAIN_LIMIT_BYTES: Final = 1 << 20
MAX_LINE_BYTES: Final = 16 * 1024
MAX_HEADERS: Final = 100
# How often a hung connection checks whether the client gave up or the server is stopping.
HANG_POLL_S: Final = 0.05
_RESET_LINGER: Final = struct.pack("ii", 1, 0)
_LINE_ENDS: Final = (b"\r\n", b"\n")


class _MalformedError(Exception):
    """The request is not HTTP/1.x as framed on the wire; answered with `status`, then closed."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class _OverflowError(Exception):
    """The body is far beyond the limit; it was not read."""


@dataclass(frozen=True, slots=True)
class _Head:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value


class PantherRequestHandler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True
    server: PantherHTTPServer

    def setup(self) -> None:
        # The socket timeout is the idle timeout: a keep-alive connection with no new request is closed.
        self.request.settimeout(self.server.idle_timeout_s)
        super().setup()
        self.close_connection = False

    def handle(self) -> None:
        try:
            while not self.close_connection:
                try:
                    head = self._read_head()
                    if head is None:
                        return
                    self._serve(head)
                except _MalformedError as malformed:
                    self.close_connection = True
                    status = int(malformed.status)
                    self._send(Reply(status, error_reply(malformed.status.phrase, status=status)))
        except OSError:
            # Idle past the timeout (TimeoutError), or the client or stop() cut the connection.
            return

    def _read_head(self) -> _Head | None:
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        while line in _LINE_ENDS:  # tolerated between requests, as node does
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            return None
        if len(line) > MAX_LINE_BYTES:
            raise _MalformedError(HTTPStatus.REQUEST_URI_TOO_LONG)
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _MalformedError(HTTPStatus.BAD_REQUEST)
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE_BYTES + 1)
            if raw in _LINE_ENDS or not raw:
                break
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon or len(raw) > MAX_LINE_BYTES:
                raise _MalformedError(HTTPStatus.BAD_REQUEST)
            headers[name.strip().lower()] = value.strip()
        else:
            raise _MalformedError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        return _Head(parts[0], parts[1], parts[2], headers)

    def _serve(self, head: _Head) -> None:
        connection = head.headers.get("connection", "").lower()
        if head.version == "HTTP/1.0":
            self.close_connection = "keep-alive" not in connection
        else:
            self.close_connection = "close" in connection
        if head.headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        overflow = False
        try:
            body = self._read_body(head.headers)
        except _OverflowError:
            body, overflow = b"", True
            self.close_connection = True  # the unread body would be taken for the next request
        facts = RequestFacts(
            path=head.target.split("?", 1)[0],
            content_type=head.headers.get("content-type"),
            content_encoding=head.headers.get("content-encoding"),
            token=head.headers.get("x-api-token"),
            body=body,
            overflow=overflow,
        )
        try:
            outcome = self.server.service.handle(head.method, facts)
        except Exception:
            # What the server's final express error handler does with anything unexpected: 500.
            logger.exception("local Panther: request failed")
            outcome = Outcome(Action.ANSWER, Reply(500, error_reply("An error occurred")))
        self._perform(outcome)

    def _perform(self, outcome: Outcome) -> None:
        if outcome.action is Action.ANSWER and outcome.reply is not None:
            if outcome.delay_s > 0 and self.server.stopping.wait(outcome.delay_s):
                self.close_connection = True
                return
            self._send(outcome.reply)
        elif outcome.action is Action.HANG:
            self._hold_until_abandoned()
        elif outcome.action is Action.OUTAGE:
            self.server.outage(self.server.service.outage_duration_s, keep=self.connection)
            self._reset()
        else:
            self._reset()

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        declared = headers.get("content-length")
        if declared is None:
            return b""
        if not declared.isdigit():
            raise _MalformedError(HTTPStatus.BAD_REQUEST)
        length = int(declared)
        if length > DRAIN_LIMIT_BYTES:
            raise _OverflowError(length)
        body = self.rfile.read(length)
        if len(body) != length:
            raise _MalformedError(HTTPStatus.BAD_REQUEST)
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_LINE_BYTES)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _MalformedError(HTTPStatus.BAD_REQUEST) from exc
            if size == 0:
                while self.rfile.readline(MAX_LINE_BYTES) not in (*_LINE_ENDS, b""):
                    pass  # trailers carry nothing the contract uses
                return b"".join(chunks)
            total += size
            if total > DRAIN_LIMIT_BYTES:
                raise _OverflowError(total)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE_BYTES)

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        head = [
            f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(payload)}",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if self.close_connection:
            head.append("Connection: close")
        else:
            idle_s = max(int(self.server.idle_timeout_s), 1)
            head += ["Connection: keep-alive", f"Keep-Alive: timeout={idle_s}"]
        try:
            # One write per answer: headers and body in a single segment.
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        except OSError:
            self.close_connection = True  # the client gave up (a slow answer after its read timeout)

    def _reset(self) -> None:
        """Close with an RST and no response, as a crashed server or a dropping proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # already gone: nothing left to reset
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_LINGER)
        self.connection.close()

    def _hold_until_abandoned(self) -> None:
        """Never answer; return once the client closes its side or the receiver stops."""
        self.close_connection = True
        conn = self.connection
        while not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([conn], [], [], HANG_POLL_S)
                if readable and not conn.recv(1):
                    return
            except (OSError, ValueError):
                return  # reset by the client, or closed by stop()
