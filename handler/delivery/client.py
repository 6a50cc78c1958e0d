"""POST one Panther event, retrying what the policy says is worth retrying, within a deadline."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from urllib3.exceptions import HTTPError, InvalidHeader
from urllib3.util import Timeout

from handler.constants import PANTHER_MAX_BODY_BYTES
from handler.delivery.gate import ConcurrencyGate, Congestion, Slot
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.delivery.policy import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    Next,
    RetryPolicy,
    Verdict,
    classify_error,
    classify_response,
    congestion_of,
)
from handler.delivery.session import PantherSession
from handler.exceptions import ConfigurationError, TokenUnavailableError
from handler.token import TokenProvider

logger = logging.getLogger(__name__)

DEADLINE_REASON: Final = "deadline"
API_KEY_HEADER: Final = "X-Api-Token"
_REDACTED: Final = "[redacted]"
_MS_PER_S: Final = 1000.0
# The most of an answer's body read (Panther's answers are a few hundred bytes of JSON).
MAX_REPLY_BYTES: Final = 64 * 1024
# What requests accepts as a header value (it checked before sending): no leading white space, no
# line break. The token providers never return anything else; a test double or a bug could.
_HEADER_VALUE: Final = re.compile(r"\S[^\r\n]*")


class _NoRoom:
    """No slot of the gate came in time (the deadline)."""


_NO_ROOM: Final = _NoRoom()


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Send:
    """What every log line and the outcome of one `send` share."""

    correlation_id: str
    body_bytes: int
    started: float


class PantherClient:
    """Sends one event per request to Panther's /api/event/create over a shared keep-alive pool.

    Thread-safe: the connection pool, the token provider and this object's state are shared
    by the delivery workers; everything per-message lives in `send`.
    """

    def __init__(
        self,
        session: PantherSession,
        url: str,
        tokens: TokenProvider,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_attempts: int,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        wall_clock: Callable[[], datetime] = _utc_now,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        gate: ConcurrencyGate | None = None,
    ) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ConfigurationError("Panther connect and read timeouts must be positive numbers of seconds")
        if max_attempts < 1:
            raise ConfigurationError("Panther max attempts must be at least 1")
        self._url = url
        self._tokens = tokens
        self._timeout = Timeout(connect=connect_timeout_s, read=read_timeout_s)
        # The longest one attempt can take (a hung Panther answers nothing until the read timeout).
        self._attempt_budget_s = connect_timeout_s + read_timeout_s
        self._max_attempts = max_attempts
        # Proxies and CA bundle are read from the environment here, once (session.py).
        self._pool = session.pool_for(url, verify)
        # Every attempt's headers but the token (urllib3 adds Host, Content-Length and User-Agent).
        # identity: an answer is never decompressed here (a small compressed body could expand to
        # gigabytes inside a 256 MB function).
        self._headers = {
            "Content-Type": "application/json",
            "Connection": "keep-alive",
            "Accept-Encoding": "identity",
        }
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._wall_clock = wall_clock
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        # Admission of every attempt (handler.delivery.gate): the requests in flight adapt to
        # Panther's answers. None: as many as the dispatcher's workers.
        self._gate = gate

    def __repr__(self) -> str:
        return f"PantherClient(url={self._url!r}, tokens={self._tokens!r})"

    @property
    def gate(self) -> ConcurrencyGate | None:
        """The admission gate of every attempt (None: as many as the dispatcher's workers)."""
        return self._gate

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        """Deliver `body` (PantherMessage.body()). `deadline` is a `clock()` value after which no
        attempt may still be running; None means no deadline."""
        this = _Send(correlation_id, len(body), self._clock())
        if len(body) > PANTHER_MAX_BODY_BYTES:
            reason = f"body is {len(body)} bytes, over Panther's {PANTHER_MAX_BODY_BYTES}-byte limit"
            return self._finish(this, DeliveryStatus.PERMANENT, 0, None, reason)
        policy = RetryPolicy(
            self._max_attempts, self._rng, base_s=self._backoff_base_s, cap_s=self._backoff_cap_s
        )
        attempts = 0
        http_status: int | None = None
        delay_s = 0.0
        while True:
            if not self._fits_before(deadline, delay_s):
                return self._finish(this, DeliveryStatus.RETRYABLE, attempts, http_status, DEADLINE_REASON)
            if delay_s > 0:
                self._sleep(delay_s)
            try:
                token = self._tokens.get()
            except TokenUnavailableError as exc:
                reason = f"token unavailable: {exc}"
                return self._finish(this, DeliveryStatus.RETRYABLE, attempts, http_status, reason)
            slot = self._admit(deadline)
            if isinstance(slot, _NoRoom):
                return self._finish(this, DeliveryStatus.RETRYABLE, attempts, http_status, DEADLINE_REASON)
            attempts += 1
            logger.debug(
                "Panther delivery attempt",
                extra={"correlation_id": correlation_id, "body_bytes": this.body_bytes, "attempt": attempts},
            )
            verdict, http_status = self._gated_attempt(body, token, slot)
            decision = policy.after(verdict)
            # Belt and braces: nothing in a reason should ever contain the token, but a proxy's
            # error page could echo request headers back.
            reason = decision.reason.replace(token, _REDACTED) if token else decision.reason
            if decision.next is Next.STOP:
                assert decision.status is not None  # the policy always says how a stop ends
                return self._finish(this, decision.status, attempts, http_status, reason)
            if decision.next is Next.REAUTHENTICATE_AND_RETRY:
                self._reauthenticate(token)
            delay_s = decision.delay_s
            logger.info(
                "Panther delivery attempt failed, retrying",
                extra={
                    "correlation_id": correlation_id,
                    "body_bytes": this.body_bytes,
                    "attempt": attempts,
                    "http_status": http_status,
                    "reason": reason,
                    "retry": str(decision.next),
                    "delay_s": round(delay_s, 3),
                },
            )

    def _fits_before(self, deadline: float | None, delay_s: float) -> bool:
        """Whether waiting `delay_s` and then a whole attempt still ends before the deadline."""
        return deadline is None or self._clock() + delay_s + self._attempt_budget_s <= deadline

    def _admit(self, deadline: float | None) -> Slot | _NoRoom | None:
        """A slot of the gate (None without a gate), or _NO_ROOM when none came in time for a whole
        attempt to end before the deadline."""
        if self._gate is None:
            return None
        timeout_s = None if deadline is None else max(deadline - self._attempt_budget_s - self._clock(), 0.0)
        slot = self._gate.acquire(timeout_s)
        return _NO_ROOM if slot is None else slot

    def _gated_attempt(self, body: bytes, token: str, slot: Slot | None) -> tuple[Verdict, int | None]:
        if slot is None or self._gate is None:
            return self._attempt(body, token)
        congestion = Congestion.UNKNOWN  # what a bug in the attempt leaves: the slot, nothing learnt
        try:
            verdict, http_status = self._attempt(body, token)
            congestion = congestion_of(verdict, http_status)
        finally:
            self._gate.release(slot, congestion)
        return verdict, http_status

    def _attempt(self, body: bytes, token: str) -> tuple[Verdict, int | None]:
        if _HEADER_VALUE.fullmatch(token) is None:
            # Never quoted: the value is the token.
            return classify_error(InvalidHeader(f"{API_KEY_HEADER} value is not a valid header value")), None
        try:
            response = self._pool.post(body, {**self._headers, API_KEY_HEADER: token}, self._timeout)
        except HTTPError as exc:
            return classify_error(exc), None
        try:
            # At most MAX_REPLY_BYTES, as sent (never decompressed): Panther answers a few hundred bytes.
            content = response.read(MAX_REPLY_BYTES + 1, decode_content=False)
            if len(content) > MAX_REPLY_BYTES:
                # Longer than any Panther answer: the rest is not read, and the connection is closed
                # instead of going back to the pool with unread bytes on it.
                content = content[:MAX_REPLY_BYTES]
                response.close()
        except HTTPError as exc:
            # Cut short after its status line: no status is reported, as no answer was read.
            return classify_error(exc, reading_body=True), None
        finally:
            # Read to its end (or closed on an error): the connection goes back to the pool.
            response.release_conn()
        verdict = classify_response(response.status, response.headers, content, self._wall_clock())
        return verdict, response.status

    def _reauthenticate(self, rejected: str) -> None:
        """Drop the cached token, unless another worker already replaced the rejected one: a batch of
        401s then costs one secret read, not one per message."""
        try:
            current: str | None = self._tokens.get()
        except TokenUnavailableError:
            current = None
        if current is None or current == rejected:
            self._tokens.invalidate()

    def _finish(
        self, this: _Send, status: DeliveryStatus, attempts: int, http_status: int | None, reason: str
    ) -> DeliveryOutcome:
        outcome = DeliveryOutcome(
            status=status,
            attempts=attempts,
            http_status=http_status,
            reason=reason,
            latency_ms=round((self._clock() - this.started) * _MS_PER_S, 3),
        )
        # One line per delivered message would be most of the function's log volume (and its
        # CloudWatch Logs bill); the batch summary and the metrics count them instead.
        level = logging.DEBUG if outcome.done else logging.WARNING
        logger.log(
            level,
            "Panther delivery %s",
            status.value,
            extra={
                "correlation_id": this.correlation_id,
                "body_bytes": this.body_bytes,
                "delivery_status": status.value,
                "attempts": attempts,
                "http_status": http_status,
                "reason": reason,
                "latency_ms": outcome.latency_ms,
            },
        )
        return outcome
