"""The local Panther receiver's transport: keep-alive, idle close, TLS, latency, concurrency."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from e2p.local import LocalPanther, local_tls

pytestmark = pytest.mark.functional

TOKEN = secrets.token_hex(16)
TIMEOUT = (2, 5)
HEADERS = {"X-Api-Token": TOKEN, "Content-Type": "application/json"}
GUARD_S = 5.0


def event_body(node: str = "node-1") -> bytes:
    return json.dumps({"event": {"node": node, "summary": "transport test"}}).encode()


def raw_request(port: int, body: bytes, *, connection: str = "keep-alive") -> bytes:
    head = (
        f"POST /api/event/create HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Api-Token: {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n"
    )
    return head.encode() + body


def read_response(sock: socket.socket) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response


# -- keep-alive --------------------------------------------------------------------------------------


def test_one_session_reuses_one_connection() -> None:
    with LocalPanther(TOKEN) as panther, requests.Session() as session:
        first = session.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)
        second = session.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)

        assert (first.status_code, second.status_code) == (200, 200)
        assert first.headers["Connection"].lower() == "keep-alive"
        assert panther.connections_opened == 1


def test_requests_without_a_session_open_a_connection_each() -> None:
    with LocalPanther(TOKEN) as panther:
        requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)
        requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)

        assert panther.connections_opened == 2


def test_idle_connection_is_closed_by_the_server_after_the_idle_timeout() -> None:
    with (
        LocalPanther(TOKEN, idle_timeout_s=0.2) as panther,
        socket.create_connection(("127.0.0.1", panther.port), timeout=GUARD_S) as sock,
    ):
        sock.sendall(raw_request(panther.port, event_body()))
        response = read_response(sock)
        assert response.status == 200
        assert response.getheader("Connection", "").lower() == "keep-alive"

        # THEN the server closes the idle connection (the guard timeout would raise instead)
        assert sock.recv(1) == b""


def test_session_reconnects_after_an_idle_close() -> None:
    with LocalPanther(TOKEN, idle_timeout_s=0.2) as panther, requests.Session() as session:
        session.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)
        time.sleep(0.5)  # longer than the idle timeout: the server closes the pooled connection
        again = session.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)

        assert again.status_code == 200
        assert panther.connections_opened == 2


def test_connection_close_from_the_client_is_honoured() -> None:
    with (
        LocalPanther(TOKEN) as panther,
        socket.create_connection(("127.0.0.1", panther.port), timeout=GUARD_S) as sock,
    ):
        sock.sendall(raw_request(panther.port, event_body(), connection="close"))
        response = read_response(sock)

        assert response.getheader("Connection", "").lower() == "close"
        assert sock.recv(1) == b""


def test_chunked_body_is_accepted() -> None:
    def chunks() -> Any:
        body = event_body()
        yield body[:10]
        yield body[10:]

    with LocalPanther(TOKEN) as panther:
        response = requests.post(panther.url, data=chunks(), headers=HEADERS, timeout=TIMEOUT)

        assert response.status_code == 200
        assert panther.received == 1


# -- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Any, Path]:
    return local_tls(tmp_path)


def test_tls_verifies_with_the_local_ca_bundle(tls: tuple[Any, Path]) -> None:
    context, ca_path = tls
    with LocalPanther(TOKEN, tls=context) as panther, requests.Session() as session:
        by_ip = session.post(
            panther.url, data=event_body(), headers=HEADERS, verify=str(ca_path), timeout=TIMEOUT
        )
        by_name = session.post(
            panther.url.replace("127.0.0.1", "localhost"),
            data=event_body(),
            headers=HEADERS,
            verify=str(ca_path),
            timeout=TIMEOUT,
        )

        assert panther.url.startswith("https://127.0.0.1:")
        assert (by_ip.status_code, by_name.status_code) == (200, 200)
        assert panther.tally_total() == 2


def test_tls_keeps_the_connection_alive(tls: tuple[Any, Path]) -> None:
    context, ca_path = tls
    with LocalPanther(TOKEN, tls=context) as panther, requests.Session() as session:
        for _ in range(3):
            session.post(
                panther.url, data=event_body(), headers=HEADERS, verify=str(ca_path), timeout=TIMEOUT
            )

        assert panther.connections_opened == 1


def test_tls_is_refused_by_the_default_trust_store(
    tls: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    context, _ = tls
    with LocalPanther(TOKEN, tls=context) as panther:
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)

        assert panther.received == 0
        # a failed handshake does not stop the receiver serving others
        assert requests.post(
            panther.url, data=event_body(), headers=HEADERS, verify=str(tls[1]), timeout=TIMEOUT
        ).ok


def test_plain_http_to_a_tls_receiver_gets_no_answer(tls: tuple[Any, Path]) -> None:
    context, _ = tls
    with LocalPanther(TOKEN, tls=context) as panther, pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            panther.url.replace("https:", "http:"), data=event_body(), headers=HEADERS, timeout=TIMEOUT
        )


# -- latency and concurrency -------------------------------------------------------------------------


def test_latency_delays_the_answer_but_the_event_is_stored() -> None:
    with LocalPanther(TOKEN, latency_s=2.0) as panther:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=(2, 0.3))

        assert panther.received == 1


def test_small_latency_still_answers() -> None:
    with LocalPanther(TOKEN, latency_s=0.05) as panther:
        response = requests.post(panther.url, data=event_body(), headers=HEADERS, timeout=TIMEOUT)

        assert response.status_code == 200


def test_a_request_held_inside_the_receiver_does_not_block_others() -> None:
    held, release = threading.Event(), threading.Event()

    def hold_the_blocker(event: Any) -> bool:
        if event["node"] == "blocker":
            held.set()
            release.wait(GUARD_S)
        return False

    with LocalPanther(TOKEN, discard=hold_the_blocker) as panther:
        blocker = threading.Thread(
            target=requests.post,
            args=(panther.url,),
            kwargs={"data": event_body("blocker"), "headers": HEADERS, "timeout": (2, GUARD_S * 2)},
        )
        blocker.start()
        try:
            assert held.wait(GUARD_S)
            # WHEN another client posts while the blocker is still inside the receiver
            other = requests.post(panther.url, data=event_body("other"), headers=HEADERS, timeout=(2, 2))
            # THEN it is answered (a serial server would leave it waiting past its read timeout)
            assert other.status_code == 200
            assert not release.is_set()
        finally:
            release.set()
            blocker.join(GUARD_S)


def test_url_before_start_is_an_error() -> None:
    panther = LocalPanther(TOKEN)

    with pytest.raises(RuntimeError, match="not started"):
        _ = panther.url


def test_stop_is_idempotent_and_frees_the_port() -> None:
    panther = LocalPanther(TOKEN).start()
    port = panther.port
    panther.stop()
    panther.stop()

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(
            f"http://127.0.0.1:{port}/api/event/create", data=event_body(), headers=HEADERS, timeout=TIMEOUT
        )
