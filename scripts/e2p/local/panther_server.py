"""The listening side of the local Panther receiver: threads, TLS, connection tracking, outages.

A `ThreadingHTTPServer` (one daemon thread per connection, TLS handshake in that thread) whose
connections are served by `PantherRequestHandler` (panther_http.py). It counts connections (to show
keep-alive reuse), can cut them all, and can take its listener down for an outage and bring it
back on the same port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Final

from e2p.local.panther_http import DEFAULT_IDLE_TIMEOUT_S, PantherRequestHandler
from e2p.local.panther_service import PantherService

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "PantherHTTPServer"]

# How often serve_forever looks for a shutdown request: bounds how long stop() and an outage wait.
POLL_INTERVAL_S: Final = 0.05
LISTEN_BACKLOG: Final = 128


class PantherHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG
    allow_reuse_address = True  # the outage reopens the same port while old connections linger

    def __init__(
        self,
        address: tuple[str, int],
        service: PantherService,
        *,
        tls: ssl.SSLContext | None,
        idle_timeout_s: float,
        stopping: threading.Event,
    ) -> None:
        self.service = service
        self.tls = tls
        self.idle_timeout_s = idle_timeout_s
        self.stopping = stopping
        self._state_lock = threading.RLock()
        self._serving: threading.Thread | None = None
        self._stopped = False
        self._open_lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._connections_opened = 0
        super().__init__(address, PantherRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def connections_opened(self) -> int:
        with self._open_lock:
            return self._connections_opened

    def reset_counters(self) -> None:
        with self._open_lock:
            self._connections_opened = 0

    def serve_in_background(self) -> None:
        with self._state_lock:
            if self._serving is not None or self._stopped:
                return
            self._serving = threading.Thread(
                target=self.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL_S},
                name=f"local-panther-{self.server_port}",
                daemon=True,
            )
            self._serving.start()

    def outage(self, duration_s: float, *, keep: socket.socket | None = None) -> None:
        """Refuse connections for `duration_s`: listener closed, live connections cut, then reopened."""
        with self._state_lock:
            if self._stopped:
                return
            self._halt_listener()
        self.close_connections(keep=keep)
        threading.Thread(target=self._reopen_after, args=(duration_s,), daemon=True).start()

    def stop(self) -> None:
        with self._state_lock:
            self._stopped = True
            self._halt_listener()
        self.close_connections()

    def close_connections(self, *, keep: socket.socket | None = None) -> None:
        with self._open_lock:
            live = [conn for conn in self._open if conn is not keep]
        for conn in live:
            # socket.socket.shutdown on the raw descriptor, even for TLS: wakes the thread blocked in
            # a read on it without touching the SSL object that thread is using.
            with contextlib.suppress(OSError):  # already closed by its peer
                socket.socket.shutdown(conn, socket.SHUT_RDWR)

    def _halt_listener(self) -> None:
        if self._serving is not None:
            self.shutdown()
            self._serving.join()
            self._serving = None
        self.socket.close()

    def _reopen_after(self, duration_s: float) -> None:
        if self.stopping.wait(duration_s):
            return
        with self._state_lock:
            if self._stopped:
                return
            self.socket = socket.socket(self.address_family, self.socket_type)
            try:
                self.server_bind()
                self.server_activate()
            except OSError:
                logger.exception("local Panther: could not reopen port %s after the outage", self.server_port)
                self.socket.close()
                return
        logger.info("local Panther: outage over, listening again on port %s", self.server_port)
        self.serve_in_background()

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn: socket.socket = request
        with self._open_lock:
            self._connections_opened += 1
        if self.tls is not None:
            conn.settimeout(self.idle_timeout_s)
            try:
                # Handshake here, in the connection's thread, so a slow client never blocks accept().
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError as exc:
                logger.debug("local Panther: TLS handshake failed: %s", exc)
                request.close()
                return
        with self._open_lock:
            self._open.add(conn)
        try:
            PantherRequestHandler(conn, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print a traceback on stderr; a client vanishing mid-request is routine here.
        logger.debug("local Panther: connection error", exc_info=True)
