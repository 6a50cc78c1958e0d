"""The retry policy and the URL check, without a network: pure functions and one small state machine."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from http.client import RemoteDisconnected

import pytest
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    EmptyPoolError,
    InvalidHeader,
    LocationParseError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from handler.delivery import build_session, validate_panther_url
from handler.delivery.outcome import DeliveryStatus
from handler.delivery.policy import (
    Action,
    Next,
    RetryPolicy,
    Verdict,
    backoff_delay,
    classify_error,
    classify_response,
    retry_after_seconds,
)
from handler.delivery.session import effective_verify, environment_proxy, tls_context
from handler.exceptions import ConfigurationError

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "action"),
    [
        (200, b'{"status": "Created"}', Action.DELIVERED),
        (201, b"", Action.DELIVERED),
        (400, b'{"message": "Event discarded"}', Action.DISCARDED),
        (400, b'{"error": {"name": "ValidationError", "message": "x"}}', Action.PERMANENT),
        (400, b'{"error": "refused", "message": "Event discarded"}', Action.PERMANENT),
        (400, b"<html>bad request</html>", Action.PERMANENT),
        (401, b'{"error": {"message": "API Key Authentication failed"}}', Action.REAUTHENTICATE),
        (401, b'{"error": {"message": "Auth service failed"}}', Action.RETRY),
        (401, b'{"error": {"message": "No x-api-token header"}}', Action.PERMANENT),
        (401, b"", Action.REAUTHENTICATE),
        (403, b"forbidden", Action.PERMANENT),
        (404, b"not found", Action.PERMANENT),
        (408, b"", Action.RETRY),
        (413, b"", Action.PERMANENT),
        (429, b"", Action.RETRY),
        (500, b"", Action.RETRY),
        (502, b"<html>bad gateway</html>", Action.RETRY),
        (503, b"", Action.RETRY),
        (504, b"", Action.RETRY),
        (301, b"", Action.PERMANENT),
        (307, b"", Action.PERMANENT),
    ],
)
def test_response_classification(status, body, action):
    assert classify_response(status, {}, body, NOW).action is action


def test_retry_after_is_read_from_retryable_answers_only():
    assert classify_response(429, {"Retry-After": "7"}, b"", NOW).retry_after_s == 7.0
    assert classify_response(503, {"Retry-After": "2"}, b"", NOW).retry_after_s == 2.0
    assert classify_response(400, {"Retry-After": "7"}, b"", NOW).retry_after_s is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        (" 120 ", 120.0),
        ("Sat, 01 Mar 2025 12:00:30 GMT", 30.0),
        ("Sat, 01 Mar 2025 11:59:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header(header, seconds):
    assert retry_after_seconds(header, NOW) == seconds


def test_backoff_is_full_jitter_up_to_the_cap():
    assert backoff_delay(1, lambda: 1.0, 0.25, 4.0) == 0.25
    assert backoff_delay(3, lambda: 1.0, 0.25, 4.0) == 1.0
    assert backoff_delay(10, lambda: 1.0, 0.25, 4.0) == 4.0
    assert backoff_delay(10_000, lambda: 1.0, 0.25, 4.0) == 4.0
    assert backoff_delay(3, lambda: 0.0, 0.25, 4.0) == 0.0
    assert backoff_delay(3, lambda: 0.5, 0.25, 4.0) == 0.5


def test_policy_reauthenticates_once_only():
    policy = RetryPolicy(5, lambda: 1.0)
    refused = Verdict(Action.REAUTHENTICATE, "HTTP 401: API Key Authentication failed")
    assert policy.after(refused).next is Next.REAUTHENTICATE_AND_RETRY
    second = policy.after(refused)
    assert (second.next, second.status) == (Next.STOP, DeliveryStatus.PERMANENT)


def test_policy_reconnects_at_once_a_single_time_then_backs_off():
    policy = RetryPolicy(2, lambda: 1.0, base_s=0.5)
    dropped = Verdict(Action.RETRY, "connection dropped by the server", reconnect=True)
    assert policy.after(dropped).next is Next.RETRY_NOW
    backing_off = policy.after(dropped)
    assert (backing_off.next, backing_off.delay_s) == (Next.BACK_OFF, 0.5)
    last = policy.after(dropped)
    assert (last.next, last.status) == (Next.STOP, DeliveryStatus.RETRYABLE)


def test_policy_prefers_retry_after_over_backoff_and_caps_it():
    policy = RetryPolicy(5, lambda: 1.0, base_s=0.25, retry_after_max_s=10.0)
    assert policy.after(Verdict(Action.RETRY, "HTTP 429", retry_after_s=3.0)).delay_s == 3.0
    assert policy.after(Verdict(Action.RETRY, "HTTP 429", retry_after_s=600.0)).delay_s == 10.0


def test_policy_with_a_single_attempt_never_retries_transient_failures():
    decision = RetryPolicy(1, lambda: 1.0).after(Verdict(Action.RETRY, "HTTP 500"))
    assert (decision.next, decision.status) == (Next.STOP, DeliveryStatus.RETRYABLE)


def test_invalid_header_reason_does_not_quote_the_header():
    # an exception's message may quote the offending header value (the token)
    error = InvalidHeader("Invalid return character in header value: 'tok\\n'")
    verdict = classify_error(error)
    assert verdict.action is Action.PERMANENT
    assert "tok" not in verdict.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.app.panther.support/api/event/create",
        "https://acme.app.panther.support/api/event/queue",
        "https://panther.internal:8443/proxy/api/event/create",
        "  https://acme.app.panther.support/api/event/create/  ",
    ],
)
def test_valid_urls(url):
    assert validate_panther_url(url, allow_insecure_http=False) == url.strip()


def test_plain_http_needs_an_explicit_opt_in():
    url = "http://127.0.0.1:5001/api/event/create"
    with pytest.raises(ConfigurationError, match="https"):
        validate_panther_url(url, allow_insecure_http=False)
    assert validate_panther_url(url, allow_insecure_http=True) == url


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("acme.app.panther.support/api/event/create", "https://"),
        ("ftp://acme.app.panther.support/api/event/create", "https://"),
        ("https:///api/event/create", "no host"),
        ("https://acme.app.panther.support", "/api/event/create"),
        ("https://acme.app.panther.support/api/events", "/api/event/create"),
        ("https://acme.app.panther.support:99999/api/event/create", "cannot be parsed"),
        ("https://user:hunter2@acme.app.panther.support/api/event/create", "credentials"),
        ("https://acme.app.panther.support/api/event/create?token=hunter2", "query string"),
    ],
)
def test_invalid_urls_say_what_to_fix_without_quoting_secrets(url, fix):
    with pytest.raises(ConfigurationError, match=fix) as caught:
        validate_panther_url(url, allow_insecure_http=True)
    assert "hunter2" not in str(caught.value)


def test_session_pool_matches_the_concurrency_and_urllib3_retries_nothing(monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with build_session(7) as session:
        for url in (
            "https://acme.app.panther.support/api/event/create",
            "http://127.0.0.1:5001/api/event/create",
        ):
            session.pool_for(url)
            manager = session._pools[-1]._manager
            assert manager.connection_pool_kw["maxsize"] == 7
            assert manager.connection_pool_kw["block"] is True  # never more connections than workers
            pool = manager.connection_from_url(url)
            assert (pool.retries.total, pool.retries.redirect) == (False, False)
            assert session._pools[-1]._target == "/api/event/create"


PROXY = "http://proxy.internal:3128"


@pytest.fixture
def proxy_env(monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "url", "proxy"),
    [
        ({}, "https://acme.app.panther.support/api/event/create", None),
        ({"HTTPS_PROXY": PROXY}, "https://acme.app.panther.support/api/event/create", PROXY),
        ({"https_proxy": PROXY}, "https://acme.app.panther.support/api/event/create", PROXY),
        ({"HTTP_PROXY": PROXY}, "https://acme.app.panther.support/api/event/create", None),
        ({"HTTP_PROXY": PROXY}, "http://10.1.2.3/api/event/create", PROXY),
        ({"ALL_PROXY": PROXY}, "https://acme.app.panther.support/api/event/create", PROXY),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "panther.support"}, "https://acme.app.panther.support/x", None),
        (
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "other.example, .panther.support"},
            "https://a.panther.support/x",
            None,
        ),
        (
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "acme.app.panther.support:8443"},
            "https://acme.app.panther.support:8443/x",
            None,
        ),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, "https://acme.app.panther.support/x", None),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/x", None),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "https://11.1.2.3/x", PROXY),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "10.1.2.3"}, "https://10.1.2.3/x", None),
        ({"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, "https://acme.app.panther.support/x", PROXY),
    ],
)
def test_proxy_from_the_environment_as_requests_chose_it(proxy_env, variables, url, proxy):
    for name, value in variables.items():
        proxy_env.setenv(name, value)
    assert environment_proxy(url) == proxy


def test_proxied_https_is_tunnelled_through_a_pool_of_the_concurrency(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.internal:3128")
    with build_session(5) as session:
        pool = session.pool_for("https://acme.app.panther.support/api/event/create")
        manager = pool._manager
        assert manager.proxy.host == "proxy.internal"
        assert manager.proxy.auth is None  # the credentials travel in the header only
        assert manager.proxy_headers == {"Proxy-Authorization": "Basic dXNlcjpwQHNz"}  # user:p@ss
        assert manager.connection_pool_kw["maxsize"] == 5
        assert pool._target == "/api/event/create"


def test_unsupported_proxy_fails_at_cold_start_without_quoting_it(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "socks5://user:hunter2@proxy.internal:1080")
    with build_session(1) as session, pytest.raises(ConfigurationError, match="socks5") as caught:
        session.pool_for("https://acme.app.panther.support/api/event/create")
    assert "hunter2" not in str(caught.value)


def test_ca_bundle_variables_apply_to_the_default_verification_only(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/curl.pem")
    assert effective_verify(True) == "/etc/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/requests.pem")
    assert effective_verify(True) == "/etc/requests.pem"
    assert effective_verify("/etc/e2p.pem") == "/etc/e2p.pem"


def test_unreadable_ca_bundle_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="CA bundle"):
        tls_context(str(tmp_path / "missing.pem"))


_POOL = HTTPConnectionPool("127.0.0.1", 9)


def _refused() -> NewConnectionError:
    """As urllib3 raises it: the socket error is its context."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            raise NewConnectionError(_POOL, "Failed to establish a new connection: [Errno 111]")  # noqa: B904
    except NewConnectionError as error:
        return error


def _dropped() -> ProtocolError:
    return ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection"))


def _untrusted() -> SSLError:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate in certificate chain"
    return SSLError(cause)


@pytest.mark.parametrize(
    ("error", "action", "reason"),
    [
        (ConnectTimeoutError(_POOL, "timed out"), Action.RETRY, "connect timeout"),
        (ReadTimeoutError(_POOL, "/", "timed out"), Action.RETRY, "read timeout (Panther may still store"),
        (_refused(), Action.RETRY, "connection refused"),
        (NewConnectionError(_POOL, "[Errno -2] Name or service not known"), Action.RETRY, "cannot connect"),
        (MaxRetryError(_POOL, "/", _refused()), Action.RETRY, "connection refused"),
        (MaxRetryError(_POOL, "/", ConnectTimeoutError(_POOL, "x")), Action.RETRY, "connect timeout"),
        (ProxyError("Cannot connect to proxy.", _refused()), Action.RETRY, "connection refused"),
        (_dropped(), Action.RETRY, "connection dropped by the server"),
        (ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")), Action.RETRY, "dropped"),
        (ProtocolError("Connection aborted.", OSError(113, "x")), Action.RETRY, "connection error (OSError)"),
        (_untrusted(), Action.PERMANENT, "TLS certificate verification failed: self-signed certificate"),
        (SSLError(ssl.SSLError(1, "wrong version number")), Action.RETRY, "TLS error"),
        (DecodeError("bad gzip"), Action.RETRY, "response cut short"),
        (LocationParseError("http://[x"), Action.PERMANENT, "request cannot be sent (invalid URL)"),
        (EmptyPoolError(_POOL, "full"), Action.RETRY, "no free connection in the pool"),
        (ClosedPoolError(_POOL, "closed"), Action.RETRY, "request failed (ClosedPoolError)"),
    ],
)
def test_urllib3_errors_get_the_verdicts_requests_errors_got(error, action, reason):
    verdict = classify_error(error)
    assert verdict.action is action
    assert verdict.reason.startswith(reason) or reason in verdict.reason


def test_only_a_dropped_connection_earns_an_immediate_reconnect():
    assert classify_error(_dropped()).reconnect
    assert not classify_error(_refused()).reconnect
    assert not classify_error(ReadTimeoutError(_POOL, "/", "timed out")).reconnect


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ProtocolError("Connection broken: IncompleteRead(3 bytes read)"), "response cut short"),
        (DecodeError("bad gzip"), "response cut short"),
        (ReadTimeoutError(_POOL, "/", "timed out"), "read timeout"),
    ],
)
def test_a_body_cut_short_after_the_status_line_is_retried(error, reason):
    verdict = classify_error(error, reading_body=True)
    assert verdict.action is Action.RETRY
    assert verdict.reason.startswith(reason)
    assert not verdict.reconnect
