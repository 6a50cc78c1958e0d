"""PantherClient through a proxy from the environment (HTTPS_PROXY/HTTP_PROXY, NO_PROXY), against a
real HTTPS (tunnelled) or HTTP (forwarded) Panther stub on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from handler.delivery import DeliveryStatus

pytestmark = pytest.mark.functional

TOKEN = "tok-0123456789abcdef0123456789ab"
BODY = json.dumps({"event": {"node": "n", "summary": "through a proxy", "severity": 2}}).encode()
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
# Generous: the proxy adds two threads per connection, and a timeout here would fail the test's
# counts on a busy machine, not show a defect.
TIMEOUTS = {"connect_timeout_s": 5.0, "read_timeout_s": 5.0}


class _ProxyHandler(socketserver.StreamRequestHandler):
    """CONNECT host:port -> a tunnel; `POST http://host:port/path` -> forwarded in origin form."""

    def handle(self) -> None:
        request_line = self.rfile.readline(65536).decode("latin-1")
        head = []
        while (line := self.rfile.readline(65536)) not in (b"\r\n", b""):
            head.append(line)
        method, target, version = request_line.split()
        self.server.seen.append((method, target, [h.decode("latin-1").strip() for h in head]))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
        else:
            address = target.split("/")[2]
            host, _, port = address.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            path = "/" + target.split("/", 3)[3]
            upstream.sendall(f"{method} {path} {version}\r\n".encode() + b"".join(head) + b"\r\n")
        self._pipe(upstream)

    def _pipe(self, upstream: socket.socket) -> None:
        def forward(read, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while data := read(65536):
                    sink.sendall(data)
            for sock in (upstream, self.connection):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=forward, args=(upstream.recv, self.connection), daemon=True)
        back.start()
        # From the buffered reader: it may already hold the first bytes after the request's head.
        forward(self.rfile.read1, upstream)
        back.join(5)
        upstream.close()


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, str, list[str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy(monkeypatch) -> Iterator[_Proxy]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = _Proxy()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_https_goes_through_the_proxy_tunnel_with_tls_verified_end_to_end(
    proxy, tls_stub, monkeypatch, delivery_tokens, delivery_client_factory
):
    # GIVEN HTTPS_PROXY with credentials, and a Panther whose private CA the client trusts
    stub, ca_file = tls_stub
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://ops:s%3Acret@"))
    client = delivery_client_factory(stub.url, delivery_tokens(TOKEN), verify=ca_file, **TIMEOUTS)
    # WHEN two events are sent
    outcomes = [client.send(BODY, "evt-1"), client.send(BODY, "evt-2")]
    # THEN both arrive through one tunnel (kept alive), the proxy authenticated and never seeing the token
    assert [o.status for o in outcomes] == [DeliveryStatus.DELIVERED] * 2
    [(method, target, head)] = proxy.seen
    assert (method, target) == ("CONNECT", f"127.0.0.1:{stub.url.split(':')[2].split('/')[0]}")
    assert "Proxy-Authorization: Basic b3BzOnM6Y3JldA==" in head  # ops:s:cret
    assert not any(TOKEN in line for line in head)
    first, second = stub.received
    assert first.token == TOKEN
    assert first.connection == second.connection


def test_plain_http_is_forwarded_by_the_proxy(
    proxy, delivery_stub, monkeypatch, delivery_tokens, delivery_client_factory
):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), **TIMEOUTS).send(
        BODY, "evt-1"
    )
    assert outcome.status is DeliveryStatus.DELIVERED
    [(method, target, _head)] = proxy.seen
    assert (method, target) == ("POST", delivery_stub.url)
    assert delivery_stub.received[0].token == TOKEN


def test_no_proxy_sends_directly(proxy, delivery_stub, monkeypatch, delivery_tokens, delivery_client_factory):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/8")
    outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), **TIMEOUTS).send(
        BODY, "evt-1"
    )
    assert outcome.status is DeliveryStatus.DELIVERED
    assert proxy.seen == []


def test_a_proxy_that_refuses_connections_is_retryable(
    delivery_stub, monkeypatch, delivery_tokens, delivery_client_factory, delivery_time
):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed.getsockname()[1]}")
        outcome = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), **TIMEOUTS).send(
            BODY, "evt-1"
        )
    assert (outcome.status, outcome.attempts, outcome.http_status) == (DeliveryStatus.RETRYABLE, 3, None)
    assert outcome.reason == "connection refused"
    assert delivery_stub.received == []
