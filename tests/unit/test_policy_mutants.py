"""The retry policy's details that a mutation run showed no test noticing: the shipped backoff and
Retry-After figures, Retry-After forms and the answers that carry it, the reasons operators read in
the dead-letter queue, and how the cause of a failure is found in urllib3's wrapped exceptions.

Figures are spelled out here, not imported from handler.delivery.policy: a changed default must
fail a test, not move the expectation along with it.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import MaxRetryError, ProtocolError, ProxyError, SSLError

from handler.delivery.outcome import DeliveryStatus
from handler.delivery.policy import (
    Action,
    Next,
    RetryPolicy,
    Verdict,
    classify_error,
    classify_response,
    retry_after_seconds,
)

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
_POOL = HTTPConnectionPool("127.0.0.1", 9)
# README ("The handler", Deliver): backoff from 0.25 s doubling up to 4 s, full jitter; a Retry-After
# is honoured up to 10 s within one invocation.
BACKOFF_BASE_S, BACKOFF_CAP_S, RETRY_AFTER_MAX_S = 0.25, 4.0, 10.0


def test_the_shipped_backoff_doubles_from_a_quarter_second_up_to_four_seconds() -> None:
    # GIVEN the policy as the client builds it (only the attempts and the jitter source given)
    policy = RetryPolicy(9, lambda: 1.0)
    transient = Verdict(Action.RETRY, "HTTP 503")

    # WHEN Panther keeps failing, THEN the waits (jitter at its maximum) follow the shipped figures
    delays = [policy.after(transient).delay_s for _ in range(8)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert delays[0] == BACKOFF_BASE_S
    assert max(delays) == BACKOFF_CAP_S
    last = policy.after(transient)
    assert (last.next, last.status) == (Next.STOP, DeliveryStatus.RETRYABLE)


def test_the_shipped_backoff_is_full_jitter() -> None:
    policy = RetryPolicy(5, lambda: 0.5)

    delays = [policy.after(Verdict(Action.RETRY, "HTTP 500")).delay_s for _ in range(3)]

    assert delays == [0.125, 0.25, 0.5]


def test_the_shipped_retry_after_cap_is_ten_seconds() -> None:
    policy = RetryPolicy(5, lambda: 1.0)

    waits = [
        policy.after(Verdict(Action.RETRY, "HTTP 429", retry_after_s=seconds)).delay_s
        for seconds in (9.5, 10.0, 10.5, 3600.0)
    ]

    assert waits == [9.5, RETRY_AFTER_MAX_S, RETRY_AFTER_MAX_S, RETRY_AFTER_MAX_S]


def test_a_retry_after_of_zero_means_retry_at_once_not_back_off() -> None:
    decision = RetryPolicy(3, lambda: 1.0).after(Verdict(Action.RETRY, "HTTP 429", retry_after_s=0.0))

    assert (decision.next, decision.delay_s) == (Next.BACK_OFF, 0.0)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"error": {"message": "Auth service failed"}}'),
        (429, b""),
        (408, b""),
        (500, b'{"error": {"message": "internal"}}'),
        (502, b"<html>bad gateway</html>"),
    ],
)
def test_every_transient_answer_carries_its_retry_after(status: int, body: bytes) -> None:
    # Panther's key service being down answers 401 "Auth service failed" (PANTHER-API.md); a proxy
    # in front of Panther may say when to come back on it as on a 429 or 5xx.
    verdict = classify_response(status, {"Retry-After": "5"}, body, NOW)

    assert verdict.action is Action.RETRY
    assert verdict.retry_after_s == 5.0


def test_a_retry_after_date_on_auth_service_failed_is_read_against_now() -> None:
    verdict = classify_response(
        401,
        {"Retry-After": "Sat, 01 Mar 2025 12:00:30 GMT"},
        b'{"error": {"message": "Auth service failed"}}',
        NOW,
    )

    assert (verdict.action, verdict.retry_after_s) == (Action.RETRY, 30.0)


@pytest.mark.parametrize(
    ("status", "action", "reason"),
    [
        (299, Action.DELIVERED, "HTTP 299"),
        # 3xx is not followed (the token would go wherever the redirect points): from 300 on.
        (300, Action.PERMANENT, "HTTP 300 (redirect not followed: configure the final URL)"),
        (301, Action.PERMANENT, "HTTP 301 (redirect not followed: configure the final URL)"),
        (399, Action.PERMANENT, "HTTP 399 (redirect not followed: configure the final URL)"),
        (500, Action.RETRY, "HTTP 500"),
    ],
)
def test_status_boundaries_and_reasons_without_a_body(status: int, action: Action, reason: str) -> None:
    verdict = classify_response(status, {}, b"", NOW)

    assert (verdict.action, verdict.reason) == (action, reason)


@pytest.mark.parametrize(
    "header",
    [
        "Sat, 01 Mar 2025 12:00:30 GMT",
        # RFC 9110 dates are always GMT; a zone left out (or -0000) still means UTC.
        "Sat, 01 Mar 2025 12:00:30",
        "Sat, 01 Mar 2025 12:00:30 -0000",
        "Sat, 01 Mar 2025 13:00:30 +0100",
    ],
)
def test_retry_after_dates_are_read_in_utc_whatever_their_zone_spelling(header: str) -> None:
    assert retry_after_seconds(header, NOW) == 30.0


def test_a_zone_less_retry_after_date_in_the_past_means_no_wait() -> None:
    assert retry_after_seconds("Sat, 01 Mar 2025 11:00:00", NOW) == 0.0


# ---------------------------------------------------------------------------------------------
# Reasons: what an operator reads on a dead-lettered record, word for word


def _untrusted(verify_message: str) -> SSLError:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = verify_message
    return SSLError(cause)


@pytest.mark.parametrize(
    ("error", "action", "reason"),
    [
        (SSLError(ssl.SSLError(1, "wrong version number")), Action.RETRY, "TLS error"),
        (_untrusted(""), Action.PERMANENT, "TLS certificate verification failed: certificate not trusted"),
        (
            _untrusted("hostname mismatch"),
            Action.PERMANENT,
            "TLS certificate verification failed: hostname mismatch",
        ),
        (
            ProtocolError("Connection aborted.", ConnectionRefusedError(111, "x")),
            Action.RETRY,
            "connection refused",
        ),
        (
            ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
            Action.RETRY,
            "connection dropped by the server",
        ),
        (
            ProtocolError("Connection aborted.", BrokenPipeError(32, "pipe")),
            Action.RETRY,
            "connection dropped by the server",
        ),
        (
            ProtocolError("Connection aborted.", OSError(113, "no route")),
            Action.RETRY,
            "connection error (OSError)",
        ),
    ],
)
def test_reasons_are_exact(error: Exception, action: Action, reason: str) -> None:
    verdict = classify_error(error)  # type: ignore[arg-type]

    assert (verdict.action, verdict.reason) == (action, reason)


def test_a_connection_that_cannot_be_made_says_so() -> None:
    from urllib3.exceptions import NewConnectionError

    verdict = classify_error(NewConnectionError(_POOL, "[Errno -2] Name or service not known"))

    assert (verdict.action, verdict.reason, verdict.reconnect) == (Action.RETRY, "cannot connect", False)


# ---------------------------------------------------------------------------------------------
# Finding the cause in urllib3's wrappers


def test_a_cause_kept_only_in_reason_is_found() -> None:
    # GIVEN a proxy failure wrapping urllib3's MaxRetryError, which keeps its cause in `.reason` only
    inner = MaxRetryError(_POOL, "/", ConnectionRefusedError(111, "Connection refused"))
    assert not any(isinstance(arg, BaseException) for arg in inner.args)

    verdict = classify_error(ProxyError("Cannot connect to proxy.", inner))

    assert verdict.reason == "connection refused"


def test_the_same_wrapped_error_listed_twice_does_not_hide_the_others() -> None:
    # GIVEN `raise ProtocolError("...", err) from err` (the error in args and as cause), while the
    # connection reset was being handled (the context)
    err = OSError(113, "no route")
    error = ProtocolError("Connection aborted.", err)
    error.__cause__ = err
    error.__context__ = ConnectionResetError(104, "reset")

    verdict = classify_error(error)

    assert (verdict.reason, verdict.reconnect) == ("connection dropped by the server", True)


def test_a_looping_cause_chain_ends_and_names_the_innermost_distinct_cause() -> None:
    # GIVEN an error whose causes refer to each other (first -> second -> first ...)
    first = OSError(113, "no route")
    second = TimeoutError("timed out")
    first.__context__ = second
    second.__context__ = first

    verdict = classify_error(ProtocolError("Connection aborted.", first))

    # THEN each cause is looked at once: the last one found is the second, not the first again
    assert verdict.reason == "connection error (TimeoutError)"
    assert verdict.action is Action.RETRY


def test_the_innermost_cause_names_an_unknown_connection_error() -> None:
    outer = OSError(113, "no route")
    outer.__context__ = TimeoutError("timed out")

    verdict = classify_error(ProtocolError("Connection aborted.", outer))

    assert verdict.reason == "connection error (TimeoutError)"
