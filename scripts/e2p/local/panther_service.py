"""The receiver's request pipeline: decides, for one request, what the HTTP layer must do.

Order, as in the real server: route, (injected faults), body parser, API key, schema, console
rules (discard), store. Faults that model infrastructure (reset, hang, 500, 429) strike before
the body is looked at and store nothing; `slow` stores the event and answers late, like a console
whose answer is lost while the event is kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from e2p.local.faults import FaultInjector, FaultKind
from e2p.local.panther_contract import (
    AUTH_SERVICE_MESSAGE,
    CREATE_PATH,
    EVENT_PATHS,
    RefusedError,
    Reply,
    RequestFacts,
    check_token,
    created_reply,
    discarded_reply,
    error_reply,
    first_validation_error,
    normalise,
    not_found_reply,
    parse_body,
    queued_reply,
    validation_reply,
)
from e2p.local.panther_store import AlertStore, JournalEntry, RequestJournal

logger = logging.getLogger(__name__)

DiscardRule = Callable[[Mapping[str, Any]], bool]

INJECTED_ERROR_MESSAGE: Final = "An error occurred"
THROTTLED_MESSAGE: Final = "Too many requests"
AUTH_SERVICE_OUTCOME: Final = "auth_service_failed"
_INTERCEPTING: Final = frozenset({FaultKind.RESET, FaultKind.HANG, FaultKind.ERROR, FaultKind.THROTTLE})


class Action(StrEnum):
    ANSWER = "answer"
    RESET = "reset"  # close the TCP connection without a response
    HANG = "hang"  # hold the connection open, never answer
    OUTAGE = "outage"  # take the listener down, then reset this connection


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    reply: Reply | None = None
    delay_s: float = 0.0


class OutageSwitch:
    """The one outage of a run: claimed by the first request or by the delivery clock, once."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self._claimed = duration_s <= 0
        self._lock = threading.Lock()

    def claim(self) -> bool:
        if self._claimed:  # fast path: no lock on every request once settled
            return False
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True


class PantherService:
    def __init__(
        self,
        expected_token_digest: bytes,
        *,
        store: AlertStore,
        journal: RequestJournal,
        injector: FaultInjector,
        outage: OutageSwitch,
        latency_s: float = 0.0,
        discard: DiscardRule | None = None,
    ) -> None:
        self._digest = expected_token_digest
        self._store = store
        self._journal = journal
        self._injector = injector
        self._outage = outage
        self._latency_s = latency_s
        self._discard = discard

    @property
    def outage_duration_s(self) -> float:
        return self._outage.duration_s

    def claim_outage(self) -> bool:
        """True once per run, for whoever starts the outage (first request or the delivery clock)."""
        if not self._outage.claim():
            return False
        self._injector.record(FaultKind.OUTAGE)
        logger.info("local Panther: outage begins for %.1f s", self._outage.duration_s)
        return True

    def handle(self, method: str, facts: RequestFacts) -> Outcome:
        if method != "POST" or facts.path not in EVENT_PATHS:
            return self._answer(method, facts.path, not_found_reply(method, facts.path), "not_found")
        if self.claim_outage():
            return self._drop(method, facts.path, Action.OUTAGE, FaultKind.OUTAGE)
        fault = self._injector.draw()
        if fault in _INTERCEPTING:
            return self._intercept(method, facts.path, fault)
        extra_delay: float = 0.0
        applied: FaultKind | None = None
        if fault is FaultKind.SLOW:
            self._injector.record(fault)
            extra_delay, applied = self._injector.plan.slow_delay_s, fault
        try:
            reply, outcome = self._accept(facts, auth_service_down=fault is FaultKind.AUTH)
        except RefusedError as refusal:
            reply, outcome = refusal.reply, _refusal_outcome(refusal.reply)
        if outcome == AUTH_SERVICE_OUTCOME:
            self._injector.record(FaultKind.AUTH)
            applied = FaultKind.AUTH
        return self._answer(method, facts.path, reply, outcome, fault=applied, extra_delay_s=extra_delay)

    def _intercept(self, method: str, path: str, fault: FaultKind) -> Outcome:
        """Faults of the infrastructure in front of the console: the event is never looked at."""
        if fault is FaultKind.RESET:
            return self._drop(method, path, Action.RESET, fault)
        if fault is FaultKind.HANG:
            return self._drop(method, path, Action.HANG, fault)
        self._injector.record(fault)
        if fault is FaultKind.ERROR:
            return self._answer(
                method, path, Reply(500, error_reply(INJECTED_ERROR_MESSAGE)), "error", fault=fault
            )
        retry_after = str(self._injector.plan.retry_after_s)
        reply = Reply(429, error_reply(THROTTLED_MESSAGE, status=429), (("Retry-After", retry_after),))
        return self._answer(method, path, reply, "throttled", fault=fault)

    def _accept(self, facts: RequestFacts, *, auth_service_down: bool) -> tuple[Reply, str]:
        body = parse_body(facts)
        check_token(facts.token, self._digest, auth_service_down=auth_service_down)
        problem = first_validation_error(body)
        if problem is not None:
            return validation_reply(problem), "invalid"
        event = normalise(body["event"])
        if self._discard is not None and self._discard(event):
            return discarded_reply(), "discarded"
        alert, is_new = self._store.record(event)
        if facts.path != CREATE_PATH:
            return queued_reply(), "queued"
        return created_reply(alert, is_new=is_new), "created" if is_new else "updated"

    def _answer(
        self,
        method: str,
        path: str,
        reply: Reply,
        outcome: str,
        *,
        fault: FaultKind | None = None,
        extra_delay_s: float = 0.0,
    ) -> Outcome:
        self._journal.add(JournalEntry(time.time(), method, path, reply.status, outcome, fault))
        return Outcome(Action.ANSWER, reply, self._latency_s + extra_delay_s)

    def _drop(self, method: str, path: str, action: Action, fault: FaultKind) -> Outcome:
        if fault is not FaultKind.OUTAGE:
            self._injector.record(fault)
        self._journal.add(JournalEntry(time.time(), method, path, None, action.value, fault))
        logger.debug("local Panther: injected %s", fault)
        return Outcome(action)


def _refusal_outcome(reply: Reply) -> str:
    error = reply.body.get("error", {})
    if reply.status == 401:
        return AUTH_SERVICE_OUTCOME if error.get("message") == AUTH_SERVICE_MESSAGE else "unauthorised"
    if error.get("name") == "PayloadTooLargeError":
        return "too_large"
    return "invalid"
