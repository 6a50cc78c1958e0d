"""Idempotent delivery through the whole handler: moto (secret, queues, idempotency table) and the
local Panther, whose alert tallies show any message delivered twice.

Each scenario is one the SQS event source mapping produces: a crashed invocation redelivers its
whole batch, a partial batch failure redelivers a record whose event gave several messages,
EventBridge puts the same event on the queue twice, two invocations hold the same event at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_reliability_harness import (
    TOKEN,
    AwsWorld,
    Context,
    CrashAfter,
    SqsLoop,
    assembled_runtime,
    aws_world,
    drain_dead_letters,
    golden_alerts,
    sample,
    samples,
    settings_for,
    stored_event_ids,
    tallies,
    with_event_id,
)

from e2p.local import LocalPanther
from handler import app
from handler import constants as env
from handler.counters import Count
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.pipeline import BatchReport
from handler.runtime import Runtime, build_runtime

pytestmark = pytest.mark.functional

SECURITY_HUB = "securityhub/several-findings-resolved-and-passed.json"


@pytest.fixture
def world() -> Iterator[AwsWorld]:
    with aws_world() as created:
        yield created


@pytest.fixture
def panther() -> Iterator[LocalPanther]:
    with LocalPanther(TOKEN) as receiver:
        yield receiver


def every_sample_once(limit: int | None = None) -> tuple[list[str], dict[str, int]]:
    """Every sample (or the first `limit`) under its own event id (samples reuse ids), and the
    messages each must give."""
    bodies, expected = [], {}
    for n, each in enumerate(samples()[:limit]):
        event_id = f"evt-{n:03d}"
        bodies.append(with_event_id(each.body, event_id))
        if each.expected_messages:
            expected[event_id] = each.expected_messages
    return bodies, expected


def handler_for(runtime: Runtime, context: Context | None = None):
    return lambda event: app.handle(event, context or Context(), runtime)


def crash_then_recover(world: AwsWorld, panther: LocalPanther, *, idempotency: bool, allowed: int):
    """One batch of every sample: the first invocation crashes after `allowed` messages went out,
    SQS redelivers the whole batch, and a new container (build_runtime) handles it."""
    settings = settings_for(world, panther.url, idempotency=idempotency)
    crashing = assembled_runtime(settings, world, wrap=lambda client: CrashAfter(client, allowed))
    fresh: list[Runtime] = []
    received_before_recovery: list[int] = []

    def handle(event: dict[str, Any]) -> BatchReport:
        if fresh:
            return app.handle(event, Context(), fresh[0])
        try:
            return app.handle(event, Context(), crashing)
        except RuntimeError:
            # The container is gone: what its workers had in flight finishes or dies with it.
            crashing.dispatcher.close()
            received_before_recovery.append(panther.received)
            fresh.append(build_runtime(settings, world.session))
            raise

    bodies, expected = every_sample_once()
    result = SqsLoop(bodies, batch_size=len(bodies)).run(handle)
    return result, expected, received_before_recovery[0]


def test_a_crash_mid_batch_raises_no_tally_twice(world: AwsWorld, panther: LocalPanther) -> None:
    # GIVEN every sample in one batch, and an invocation that crashes after 30 messages went out
    result, expected, before = crash_then_recover(world, panther, idempotency=True, allowed=30)
    # THEN the crash failed the invocation, and the redelivered batch was acknowledged whole
    assert result.failed_invocations == 1
    assert not result.redriven and len(result.acked) == len(samples())
    # AND every message of every event reached Panther exactly once
    assert stored_event_ids(panther) == expected
    # and raised Panther's tallies once per message: distinct samples may share an alert (same node,
    # severity and summary, which is how Panther aggregates), so count raises, not alerts of tally 1.
    assert sum(tallies(panther)) == sum(expected.values())
    # AND the recovery skipped what had gone out before the crash, and sent only the rest
    assert before >= 30
    assert result.count(Count.DUPLICATES_SKIPPED) == before
    assert result.count(Count.DELIVERED) == sum(expected.values()) - before


def test_without_the_ledger_the_same_crash_delivers_twice(world: AwsWorld, panther: LocalPanther) -> None:
    # The control: it shows the scenario above does produce duplicates when nothing prevents them.
    result, expected, before = crash_then_recover(world, panther, idempotency=False, allowed=30)
    assert not result.redriven and len(result.acked) == len(samples())
    # every message that went out before the crash went out again
    assert before >= 30
    assert sum(stored_event_ids(panther).values()) == sum(expected.values()) + before
    assert max(tallies(panther)) == 2


class FailOnce:
    """A Sender that answers the first message whose body contains `marker` with a retryable
    failure (as a 503 would) without sending it; everything else goes to the real client."""

    def __init__(self, inner: Any, marker: str) -> None:
        self._inner = inner
        self._marker = marker.encode()
        self.failed = 0

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        if self._marker in body and not self.failed:
            self.failed += 1
            return DeliveryOutcome(DeliveryStatus.RETRYABLE, 1, 503, "HTTP 503: injected", 1.0)
        return self._inner.send(body, correlation_id, deadline)


def finding_ids(panther: LocalPanther) -> list[str]:
    return sorted(event["identifier"] for event in panther.events())


@pytest.mark.parametrize("idempotency", [True, False])
def test_a_retry_after_a_partial_success_resends_only_the_undelivered_findings(
    world: AwsWorld, panther: LocalPanther, idempotency: bool
) -> None:
    # GIVEN a Security Hub event with three findings, the second failing once retryably
    first, second, third = [alert["identifier"] for alert in golden_alerts(SECURITY_HUB)]
    settings = settings_for(world, panther.url, idempotency=idempotency)
    runtime = assembled_runtime(settings, world, wrap=lambda client: FailOnce(client, second))
    loop = SqsLoop([sample(SECURITY_HUB).body])
    # WHEN SQS delivers the record, then redelivers it after the partial batch failure
    loop.run_round(handler_for(runtime))
    assert loop.pending, "the record must come back"
    assert finding_ids(panther) == [first]  # the third waits behind the second: order is kept
    loop.run(handler_for(runtime))
    # THEN with the ledger the retry sent the second and third findings only
    if idempotency:
        assert finding_ids(panther) == sorted([first, second, third])
        assert tallies(panther) == [1, 1, 1]
        assert loop.result.count(Count.DUPLICATES_SKIPPED) == 1
    else:  # without it, the first finding's alert is raised again
        assert finding_ids(panther) == sorted([first, first, second, third])
        assert tallies(panther) == [1, 1, 2]


def test_the_same_event_put_twice_on_the_queue_is_delivered_once(
    world: AwsWorld, panther: LocalPanther
) -> None:
    # GIVEN EventBridge's at-least-once delivery: one event arriving as two SQS messages of a batch
    body = sample(SECURITY_HUB).body
    runtime = build_runtime(settings_for(world, panther.url), world.session)
    result = SqsLoop([body, body]).run(handler_for(runtime))
    # THEN both records are acknowledged (in one round or two) and each finding went out once
    assert len(result.acked) == 2
    assert tallies(panther) == [1, 1, 1]
    assert panther.received == 3


class BlockingSender:
    """Holds every send until released: an invocation stuck in the middle of its POSTs."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        self.entered.set()
        assert self.release.wait(timeout=10), "never released"
        return self._inner.send(body, correlation_id, deadline)


def test_a_message_another_invocation_is_sending_is_left_to_it(
    world: AwsWorld, panther: LocalPanther
) -> None:
    settings = settings_for(world, panther.url)
    body = sample("guardduty/high.json").body
    blocking: list[BlockingSender] = []

    def wrap(client: Any) -> BlockingSender:
        blocking.append(BlockingSender(client))
        return blocking[0]

    slow = assembled_runtime(settings, world, wrap=wrap)
    loop_a, loop_b = SqsLoop([body]), SqsLoop([body])
    # GIVEN invocation A, which claimed the message and is still sending it
    thread = threading.Thread(target=loop_a.run_round, args=(handler_for(slow),))
    thread.start()
    try:
        assert blocking[0].entered.wait(timeout=10)
        # WHEN invocation B receives the same event (its duplicate on the queue)
        loop_b.run_round(handler_for(build_runtime(settings, world.session)))
        # THEN B sends nothing and returns its record for a retry
        assert loop_b.pending and panther.received == 0
        assert loop_b.result.count(Count.IN_PROGRESS_ELSEWHERE) == 1
    finally:
        blocking[0].release.set()
        thread.join(timeout=10)
    # AND once A has delivered, B's retry finds the message done
    assert loop_a.result.acked and panther.received == 1
    loop_b.run(handler_for(build_runtime(settings, world.session)))
    assert loop_b.result.acked and panther.received == 1
    assert loop_b.result.count(Count.DUPLICATES_SKIPPED) == 1


def test_an_unavailable_store_does_not_hold_delivery_back(world: AwsWorld, panther: LocalPanther) -> None:
    # GIVEN an idempotency table that cannot be used (deleted, or the role may not use it)
    settings = settings_for(world, panther.url, **{env.IDEMPOTENCY_TABLE: "e2p-idempotency-deleted"})
    runtime = build_runtime(settings, world.session)
    bodies, expected = every_sample_once(limit=30)
    # WHEN the batch is handled
    result = SqsLoop(bodies, batch_size=len(bodies)).run(handler_for(runtime))
    # THEN everything was delivered at the first attempt, and the store's failures were counted
    assert result.invocations == 1 and len(result.acked) == len(bodies)
    assert stored_event_ids(panther) == expected
    assert result.count(Count.IDEMPOTENCY_STORE_ERRORS) >= sum(expected.values())


@pytest.mark.parametrize("idempotency", [True, False])
def test_the_switch_turns_duplicate_suppression_on_and_off(
    world: AwsWorld, panther: LocalPanther, idempotency: bool
) -> None:
    runtime = build_runtime(settings_for(world, panther.url, idempotency=idempotency), world.session)
    bodies, expected = every_sample_once(limit=30)
    total = sum(expected.values())
    # WHEN the same batch is received twice (a whole-batch redelivery)
    SqsLoop(bodies, batch_size=len(bodies)).run(handler_for(runtime))
    again = SqsLoop(bodies, batch_size=len(bodies)).run(handler_for(runtime))
    if idempotency:
        assert panther.received == total
        assert again.count(Count.DUPLICATES_SKIPPED) == total
    else:
        assert panther.received == 2 * total
        assert again.count(Count.DUPLICATES_SKIPPED) == 0


def test_a_permanently_refused_message_can_be_replayed_after_the_fix(
    world: AwsWorld, panther: LocalPanther
) -> None:
    # GIVEN a token Panther refuses: the record is dead-lettered (its claim released)
    secrets = world.session.client("secretsmanager")
    secrets.put_secret_value(SecretId=world.secret_arn, SecretString="not-the-token")
    settings = settings_for(world, panther.url)
    first = SqsLoop([sample("guardduty/high.json").body]).run(
        handler_for(build_runtime(settings, world.session))
    )
    assert first.acked and panther.received == 0
    [parked] = drain_dead_letters(world)
    # WHEN the token is fixed and the dead letter replayed (a new SQS message, the same event)
    secrets.put_secret_value(SecretId=world.secret_arn, SecretString=TOKEN)
    replay = SqsLoop([parked["Body"]]).run(handler_for(build_runtime(settings, world.session)))
    # THEN it is delivered, not skipped as a duplicate
    assert replay.acked and panther.received == 1
    assert replay.count(Count.DUPLICATES_SKIPPED) == 0
