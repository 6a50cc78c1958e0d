"""A minimal HTTPS receiver for the memory probe: it answers every POST with 200 at once.

The peak-RSS figure is about the handler's process, which needs a 10,000-record batch delivered,
not Panther's semantics: this receiver spends a fraction of LocalPanther's CPU per request, so the
probe is bounded by the handler's own work. Its answer has the shape and size of Panther's (the
event echoed back), so the client reads what it would read from a console.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
from typing import Any, Final

MAX_LINE_BYTES: Final = 16 * 1024
MAX_BODY_BYTES: Final = 1 << 20
IDLE_TIMEOUT_S: Final = 30.0
REPLY_PREFIX: Final = b'{"status":"Created","message":"Saved new alert","echo":'


class _SinkHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except OSError:
            return  # the client went away: routine for a keep-alive connection

    def _one_request(self) -> bool:
        if not self.rfile.readline(MAX_LINE_BYTES):
            return False
        length = 0
        while True:
            header = self.rfile.readline(MAX_LINE_BYTES)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = min(int(value.strip() or b"0"), MAX_BODY_BYTES)
        body = self.rfile.read(length) if length else b"null"
        payload = REPLY_PREFIX + body + b"}"
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
            b"Connection: keep-alive\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n"
        )
        self.wfile.write(head + payload)
        return True


class SinkServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext) -> None:
        self.tls = tls
        super().__init__(address, _SinkHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(IDLE_TIMEOUT_S)
        try:
            # The handshake in the connection's own thread, so accept() is never held up.
            request = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            request.close()
            return
        try:
            _SinkHandler(request, client_address, self)
        finally:
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanishes mid-request needs no traceback on stderr."""

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="bench-sink", daemon=True)
        thread.start()
        return thread
