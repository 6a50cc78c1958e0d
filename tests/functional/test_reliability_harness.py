"""Shared pieces of the handler-level reliability, idempotency and security tests (no tests here).

- `aws_world()`: moto with the token secret, the handler's dead-letter queue and the idempotency
  table (the central stack's shape: partition key `id`, TTL attribute `expiration`); built by
  e2p.load.world, which `e2p load` shares (as it does Context, AwsWorld and settings_for).
- `SqsLoop`: stands for the SQS event source mapping. Batches of records go to the handler; the
  records returned in batchItemFailures come back with their receive count raised; a batch whose
  invocation raised comes back whole; a record received MAX_RECEIVE_COUNT times and returned again
  goes to the redrive list that stands for the buffer queue's dead-letter queue.
- Sample events from tests/events, with the number of Panther messages their golden file expects.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2p.load import world as load_world
from e2p.load.mapping import sqs_event
from e2p.load.world import (  # noqa: F401 -- REGION, TABLE, Context, ... re-exported to the tests
    REGION,
    TABLE,
    AwsWorld,
    Context,
    create_idempotency_table,
    settings_for,
)
from e2p.local import LocalPanther
from handler.config import Settings
from handler.counters import Count, Counters
from handler.delivery import Sender
from handler.delivery.outcome import DeliveryOutcome
from handler.enrichment.directory import AccountDirectory
from handler.pipeline import BatchReport
from handler.runtime import Runtime, build_runtime

EVENTS = Path(__file__).parents[1] / "events"
TOKEN = "tok-" + uuid.uuid4().hex  # unique per run, so a leak cannot be a coincidence
MAX_RECEIVE_COUNT = 5


@contextmanager
def aws_world(secret_value: str | None = None) -> Iterator[AwsWorld]:
    """Call with the conftest's fake credentials in place (every test has them)."""
    with load_world.aws_world(TOKEN, secret_value=secret_value) as world:
        yield world


def drain_dead_letters(world: AwsWorld) -> list[dict[str, Any]]:
    """Every message of the handler's dead-letter queue (received once: they stay invisible after)."""
    sqs = world.session.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=world.dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=600,
        )
        batch = answer.get("Messages", [])
        if not batch:
            return found
        found.extend(batch)


def dead_letter_reason(message: Mapping[str, Any]) -> str:
    return str(message["MessageAttributes"]["e2p_reason"]["StringValue"])


# ---------------------------------------------------------------- sample events


@dataclass(frozen=True)
class Sample:
    name: str
    body: str
    expected_messages: int  # from the golden file, not from the code under test


def samples() -> list[Sample]:
    found = []
    for expected in sorted(EVENTS.glob("*/*.expected.json")):
        source = expected.with_name(expected.name.replace(".expected.json", ".json"))
        golden = json.loads(expected.read_text())
        found.append(
            Sample(str(source.relative_to(EVENTS)), source.read_text(), len(golden.get("alerts", [])))
        )
    return found


def sample(name: str) -> Sample:
    return next(s for s in samples() if s.name == name)


def golden_alerts(name: str) -> list[dict[str, Any]]:
    """The alerts the hand-written golden file of sample `name` expects."""
    expected = EVENTS / name.replace(".json", ".expected.json")
    return list(json.loads(expected.read_text()).get("alerts", []))


def with_event_id(body: str, event_id: str) -> str:
    """The same envelope under another EventBridge id (another event, as far as anyone can tell)."""
    envelope = json.loads(body)
    envelope["id"] = event_id
    return json.dumps(envelope)


def event_id_of(body: str) -> str:
    return str(json.loads(body)["id"])


# ---------------------------------------------------------------- the SQS event source mapping


@dataclass
class Record:
    message_id: str
    body: str
    receives: int = 0


@dataclass
class LoopResult:
    acked: dict[str, str] = field(default_factory=dict)  # message id -> body
    redriven: dict[str, str] = field(default_factory=dict)  # message id -> last retry reason
    invocations: int = 0
    failed_invocations: int = 0
    counters: Counters = field(default_factory=Counters)
    reports: list[BatchReport] = field(default_factory=list)

    def count(self, name: Count) -> int:
        return self.counters.get(name)


class SqsLoop:
    def __init__(self, bodies: Sequence[str], *, batch_size: int = 10) -> None:
        self.pending = [Record(f"msg-{i:04d}", body) for i, body in enumerate(bodies)]
        self.batch_size = batch_size
        self.result = LoopResult()

    def run(self, handle: Callable[[dict[str, Any]], BatchReport], *, max_rounds: int = 50) -> LoopResult:
        """Until the queue is empty. A crash of `handle` (an exception) fails its whole batch."""
        for _ in range(max_rounds):
            if not self.pending:
                return self.result
            self.run_round(handle)
        raise AssertionError(f"the queue did not empty in {max_rounds} rounds: {len(self.pending)} left")

    def run_round(self, handle: Callable[[dict[str, Any]], BatchReport]) -> None:
        """Every pending record received once, in batches."""
        queue, self.pending = self.pending, []
        for start in range(0, len(queue), self.batch_size):
            batch = queue[start : start + self.batch_size]
            for record in batch:
                record.receives += 1
            self.result.invocations += 1
            try:
                report = handle(sqs_event(batch))
            except Exception as exc:  # noqa: BLE001 -- the Lambda runtime reports any crash the same way
                self.result.failed_invocations += 1
                self._return(batch, f"invocation failed: {type(exc).__name__}")
                continue
            self.result.reports.append(report)
            for name, value in report.counters.items():
                self.result.counters.add(name, value)
            decisions = dict(report.decisions)
            failed = set(report.failed_message_ids)
            for record in batch:
                if record.message_id in failed:
                    self._return([record], decisions[record.message_id].reason)
                else:
                    self.result.acked[record.message_id] = record.body

    def _return(self, records: list[Record], reason: str) -> None:
        for record in records:
            if record.receives >= MAX_RECEIVE_COUNT:
                self.result.redriven[record.message_id] = reason
            else:
                self.pending.append(record)


# ---------------------------------------------------------------- Panther-side views


def stored_event_ids(panther: LocalPanther) -> dict[str, int]:
    """EventBridge id -> how many accepted Panther events carry it."""
    counts: dict[str, int] = {}
    for event in panther.events():
        counts[event.get("event_id", "")] = counts.get(event.get("event_id", ""), 0) + 1
    return counts


def tallies(panther: LocalPanther) -> list[int]:
    return sorted(alert["tally"] for alert in panther.alerts())


# ---------------------------------------------------------------- a runtime with a fault between its parts


def assembled_runtime(
    settings: Settings,
    world: AwsWorld,
    wrap: Callable[[Sender], Sender] | None = None,
    directory: AccountDirectory | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Runtime:
    """The function's runtime with `wrap` put between the ledger and the Panther client (where a
    crash or a scripted failure is injected) and, when given, another account directory and the
    client's sleep between attempts."""
    return build_runtime(settings, world.session, wrap_sender=wrap, directory=directory, sleep=sleep)


# ---------------------------------------------------------------- senders that misbehave on purpose


class CrashAfter:
    """A Sender that passes `allowed` messages to the real one, then raises: a handler crash in
    the middle of a batch (a bug, an out-of-memory kill) after some messages went out."""

    def __init__(self, inner: Any, allowed: int) -> None:
        self._inner = inner
        self._allowed = allowed
        self._lock = threading.Lock()
        self.sent = 0

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        with self._lock:
            if self.sent >= self._allowed:
                raise RuntimeError("injected crash")
            self.sent += 1
        return self._inner.send(body, correlation_id, deadline)
