"""Which failures are retried, how often and after how long: decided here and nowhere else.

Panther's contract (PANTHER-API.md) shapes the rules:
- 2xx: delivered. 400 {"message": "Event discarded"}: Panther's rules dropped it on purpose (done).
- Network errors, timeouts, 408, 429 and 5xx are transient: retried with exponential backoff and full
  jitter, or after `Retry-After` when Panther (or a proxy in front of it) sends one, capped.
- 401 "Auth service failed" is Panther's key service being unreachable: transient.
- 401 "API Key Authentication failed" (or any other 401) most likely means the token was rotated: the
  client re-reads it once and tries once more; a second refusal is permanent, so that a wrong token
  costs two requests per message, not a retry storm.
- Every other 4xx (validation, body too large, a 401 with no token header) and redirects fail the same
  way every time: permanent, with Panther's message as the reason.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http.client import RemoteDisconnected
from typing import Final

from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    EmptyPoolError,
    HTTPError,
    InvalidHeader,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from handler.delivery.gate import Congestion
from handler.delivery.outcome import DeliveryStatus
from handler.delivery.reply import REASON_MAX_CHARS, is_discarded, panther_message
from handler.message import shorten

BACKOFF_BASE_S: Final = 0.25
BACKOFF_CAP_S: Final = 4.0
# A Retry-After beyond this is not waited for within one invocation: the record goes back to the
# queue instead (the deadline check returns it as retryable).
RETRY_AFTER_MAX_S: Final = 10.0
# Doubling beyond this exponent only overflows; the cap applies long before.
_MAX_BACKOFF_EXPONENT: Final = 32
# How deep to look through urllib3 -> http.client/ssl -> socket exception wrappers for the root cause.
_MAX_CAUSE_DEPTH: Final = 8

# Lower-cased 401 messages of Panther (PANTHER-API.md).
AUTH_SERVICE_FAILED: Final = "auth service failed"
MISSING_HEADER_REPLY: Final = "no x-api-token header"


class Action(StrEnum):
    """What one HTTP attempt says about the message."""

    DELIVERED = "delivered"
    DISCARDED = "discarded"
    RETRY = "retry"
    REAUTHENTICATE = "reauthenticate"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str
    # Seconds Panther asked us to wait (Retry-After), uncapped; None when it did not say.
    retry_after_s: float | None = None
    # A kept-alive connection was dropped under us (Panther closes idle ones after 5 s): worth one
    # immediate retry on a fresh connection.
    reconnect: bool = False


class Next(StrEnum):
    STOP = "stop"
    RETRY_NOW = "retry_now"
    REAUTHENTICATE_AND_RETRY = "reauthenticate_and_retry"
    BACK_OFF = "back_off"


@dataclass(frozen=True, slots=True)
class Decision:
    next: Next
    reason: str
    status: DeliveryStatus | None = None  # set when next is STOP
    delay_s: float = 0.0  # set when next is BACK_OFF


def classify_response(  # noqa: PLR0911 -- one return per row of Panther's reply table reads best
    status: int, headers: Mapping[str, str], body: bytes, now: datetime
) -> Verdict:
    """The verdict on one HTTP answer from Panther."""
    if 200 <= status < 300:
        return Verdict(Action.DELIVERED, f"HTTP {status}")
    message = panther_message(body)
    reason = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if 300 <= status < 400:
        # Not followed: following would resend X-Api-Token to wherever the redirect points.
        return Verdict(Action.PERMANENT, f"{reason} (redirect not followed: configure the final URL)")
    if status == 400 and is_discarded(body):
        return Verdict(Action.DISCARDED, reason)
    if status == 401:
        lowered = message.lower()
        if AUTH_SERVICE_FAILED in lowered:
            return Verdict(Action.RETRY, reason, retry_after_seconds(headers.get("Retry-After"), now))
        if MISSING_HEADER_REPLY in lowered:
            return Verdict(Action.PERMANENT, reason)
        return Verdict(Action.REAUTHENTICATE, reason)
    if status in {408, 429} or status >= 500:
        return Verdict(Action.RETRY, reason, retry_after_seconds(headers.get("Retry-After"), now))
    return Verdict(Action.PERMANENT, reason)


_CONNECT_TIMEOUT: Final = Verdict(Action.RETRY, "connect timeout")
# Retried, but this can duplicate: Panther hangs while its event server is down and may still store
# the event later (PANTHER-API.md).
_READ_TIMEOUT: Final = Verdict(Action.RETRY, "read timeout (Panther may still store the event)")
_CUT_SHORT: Final = Verdict(Action.RETRY, "response cut short (Panther may have stored the event)")

# Failures whose verdict does not depend on the cause (after the connection failures, below).
_FIXED_ERROR_VERDICTS: Final[tuple[tuple[type[HTTPError], Verdict], ...]] = (
    (ReadTimeoutError, _READ_TIMEOUT),
    (DecodeError, _CUT_SHORT),
    # The URL is validated at cold start and the token when read: these mean a bug, not bad luck.
    (LocationValueError, Verdict(Action.PERMANENT, "request cannot be sent (invalid URL)")),
    (InvalidHeader, Verdict(Action.PERMANENT, "request cannot be sent (invalid header)")),
    # The pool holds a connection per worker: none free means one was not given back (a bug).
    (EmptyPoolError, Verdict(Action.RETRY, "no free connection in the pool")),
)


def classify_error(exc: HTTPError, *, reading_body: bool = False) -> Verdict:
    """The verdict on an attempt that got no usable answer: urllib3's exception from sending the
    request and reading the status line, or (`reading_body`) from reading the answer's body. The
    reason never quotes the exception: it may hold header values (the token)."""
    # urllib3 raises the failure itself when retries are off (session.NO_RETRIES); a Retry policy
    # would wrap it.
    while isinstance(exc, MaxRetryError) and isinstance(exc.reason, HTTPError):
        exc = exc.reason
    if reading_body:
        # Panther answered (its status line came) but the rest did not: it may have stored the event.
        return _READ_TIMEOUT if isinstance(exc, ReadTimeoutError) else _CUT_SHORT
    causes = list(_causes(exc))
    # Order matters: urllib3's NewConnectionError is also a ConnectTimeoutError, and is told apart
    # by its cause (refused, unresolvable...) before a connect timeout is concluded.
    if isinstance(exc, NewConnectionError | ProxyError | ProtocolError):
        return _connection_verdict(causes)
    if isinstance(exc, ConnectTimeoutError):
        return _CONNECT_TIMEOUT
    for kind, verdict in _FIXED_ERROR_VERDICTS:
        if isinstance(exc, kind):
            return verdict
    if isinstance(exc, SSLError):
        return _tls_verdict(causes)
    return Verdict(Action.RETRY, f"request failed ({type(exc).__name__})")


def _tls_verdict(causes: list[BaseException]) -> Verdict:
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            # Retrying cannot make the client trust a certificate: a configuration error.
            detail = cause.verify_message or "certificate not trusted"
            return Verdict(Action.PERMANENT, f"TLS certificate verification failed: {detail}")
    return Verdict(Action.RETRY, "TLS error")


def _connection_verdict(causes: list[BaseException]) -> Verdict:
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return Verdict(Action.RETRY, "connection refused")
    if any(isinstance(c, NewConnectionError) for c in causes):
        return Verdict(Action.RETRY, "cannot connect")
    if any(isinstance(c, RemoteDisconnected | ConnectionResetError | BrokenPipeError) for c in causes):
        # On a stale pooled connection the request was not read at all; on a live one it may have
        # been, so (like a read timeout) the retry can duplicate.
        return Verdict(Action.RETRY, "connection dropped by the server", reconnect=True)
    return Verdict(Action.RETRY, f"connection error ({type(causes[-1]).__name__})")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: urllib3 keeps the cause in args or `.reason`."""
    seen: set[int] = set()
    layer: list[BaseException] = [exc]
    for _ in range(_MAX_CAUSE_DEPTH):
        following: list[BaseException] = []
        for item in layer:
            if id(item) in seen:
                continue
            seen.add(id(item))
            yield item
            wrapped = [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
            following.extend(w for w in wrapped if isinstance(w, BaseException))
        if not following:
            return
        layer = following


def congestion_of(verdict: Verdict, http_status: int | None) -> Congestion:
    """What one attempt tells the adaptive concurrency (handler.delivery.aimd) about Panther's load.

    Every transient failure is a sign of overload (429, 5xx, 408, Panther's key service down,
    timeouts, refused connections), except a dropped kept-alive connection, which Panther's 5 s idle
    timeout explains. An answer read (any other status) carries a latency; a request that was never
    answered (refused before sending, TLS verification) says nothing.
    """
    if verdict.action is Action.RETRY:
        return Congestion.UNKNOWN if verdict.reconnect else Congestion.OVERLOADED
    return Congestion.UNKNOWN if http_status is None else Congestion.ANSWERED


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or
    unreadable. A date in the past means no wait."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def backoff_delay(failures: int, rng: Callable[[], float], base_s: float, cap_s: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(failures-1))), so that workers that failed
    together do not come back together."""
    exponent = min(max(failures - 1, 0), _MAX_BACKOFF_EXPONENT)
    return rng() * min(cap_s, base_s * 2.0**exponent)


class RetryPolicy:
    """The decisions for one message, attempt after attempt. One instance per `send`.

    At most `max_attempts` requests are spent on transient failures; a token refresh and a dropped
    keep-alive connection add at most one request each.
    """

    def __init__(
        self,
        max_attempts: int,
        rng: Callable[[], float],
        *,
        base_s: float = BACKOFF_BASE_S,
        cap_s: float = BACKOFF_CAP_S,
        retry_after_max_s: float = RETRY_AFTER_MAX_S,
    ) -> None:
        self._max_attempts = max_attempts
        self._rng = rng
        self._base_s = base_s
        self._cap_s = cap_s
        self._retry_after_max_s = retry_after_max_s
        self._failures = 0
        self._token_refreshed = False
        self._reconnected = False

    def after(self, verdict: Verdict) -> Decision:
        reason = shorten(verdict.reason, REASON_MAX_CHARS)
        match verdict.action:
            case Action.DELIVERED:
                return Decision(Next.STOP, reason, DeliveryStatus.DELIVERED)
            case Action.DISCARDED:
                return Decision(Next.STOP, reason, DeliveryStatus.DISCARDED)
            case Action.PERMANENT:
                return Decision(Next.STOP, reason, DeliveryStatus.PERMANENT)
            case Action.REAUTHENTICATE:
                if self._token_refreshed:
                    again = f"{reason} (again with a re-read token)"
                    return Decision(Next.STOP, again, DeliveryStatus.PERMANENT)
                self._token_refreshed = True
                return Decision(Next.REAUTHENTICATE_AND_RETRY, reason)
            case Action.RETRY:
                return self._after_transient(verdict, reason)

    def _after_transient(self, verdict: Verdict, reason: str) -> Decision:
        if verdict.reconnect and not self._reconnected:
            self._reconnected = True
            return Decision(Next.RETRY_NOW, reason)
        self._failures += 1
        if self._failures >= self._max_attempts:
            return Decision(Next.STOP, reason, DeliveryStatus.RETRYABLE)
        if verdict.retry_after_s is not None:
            delay = min(verdict.retry_after_s, self._retry_after_max_s)
        else:
            delay = backoff_delay(self._failures, self._rng, self._base_s, self._cap_s)
        return Decision(Next.BACK_OFF, reason, delay_s=delay)
