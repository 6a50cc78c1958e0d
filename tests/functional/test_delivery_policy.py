"""The retry policy and the URL check, without a network: pure functions and one small state machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

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
    # requests puts the offending header value (the token) in this exception's message
    error = requests.exceptions.InvalidHeader("Invalid return character in header value: 'tok\\n'")
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


def test_session_pool_matches_the_concurrency_and_urllib3_retries_nothing():
    session = build_session(7)
    for url in (
        "https://acme.app.panther.support/api/event/create",
        "http://127.0.0.1:5001/api/event/create",
    ):
        adapter = session.get_adapter(url)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 7
        assert adapter.max_retries.total == 0
    session.close()
