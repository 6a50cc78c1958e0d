"""The handler under Panther's failure modes, driven like the SQS event source mapping drives it.

Every sample event (three times, under new ids: a few hundred records) goes through handler.app.handle
with a runtime from build_runtime, against the local Panther injecting one kind of fault. Records
returned for retry come back; after MAX_RECEIVE_COUNT receives they go to the redrive list that
stands for the buffer queue's dead-letter queue. The contract: every event ends delivered or
dead-lettered with a reason, none is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from test_reliability_harness import (
    TOKEN,
    AwsWorld,
    Context,
    LoopResult,
    SqsLoop,
    assembled_runtime,
    aws_world,
    dead_letter_reason,
    drain_dead_letters,
    event_id_of,
    sample,
    samples,
    settings_for,
    stored_event_ids,
    with_event_id,
)

from e2p.local import FaultPlan, LocalPanther
from handler import app
from handler import constants as env
from handler.counters import Count
from handler.enrichment.directory import AccountDirectory
from handler.enrichment.organizations_source import OrganizationsSource
from handler.runtime import build_runtime

pytestmark = pytest.mark.functional

COPIES = 3
# Large batches and many delivery workers (both within what the template allows: BatchSize up to
# 10,000 with a batching window, E2P_DELIVERY_CONCURRENCY up to 64) keep the real backoff sleeps of
# a few hundred failures to seconds.
BATCH_SIZE = 100
CONCURRENCY = "32"
# For the fault runs only: short enough that `slow` and `hang` cost little. There a loaded machine's
# late answer costs one more retry, which they tolerate; the other tests keep the harness's 2 s.
READ_TIMEOUT_S = "0.2"
SLOW_DELAY_S = 0.5


@pytest.fixture
def world() -> Iterator[AwsWorld]:
    with aws_world() as created:
        yield created


def many_events() -> tuple[list[str], dict[str, int]]:
    """COPIES of every sample, each under an id of its own; event id -> messages it must give."""
    bodies, expected = [], {}
    for copy in range(COPIES):
        for n, each in enumerate(samples()):
            event_id = f"evt-{copy}-{n:03d}"
            bodies.append(with_event_id(each.body, event_id))
            expected[event_id] = each.expected_messages
    return bodies, expected


def run_through_queue(world: AwsWorld, panther: LocalPanther, bodies: list[str], **extra: str) -> LoopResult:
    settings = settings_for(world, panther.url, **{env.DELIVERY_CONCURRENCY: CONCURRENCY, **extra})
    runtime = build_runtime(settings, world.session)
    try:
        return SqsLoop(bodies, batch_size=BATCH_SIZE).run(lambda event: app.handle(event, Context(), runtime))
    finally:
        runtime.dispatcher.close()


@pytest.mark.parametrize(
    ("spec", "kind", "idempotency"),
    [
        # With the ledger once (it must release every retryable message, or retries would find
        # their own claims); without it for the rest, where moto's DynamoDB would only add time.
        ("error=0.3,seed=11", "error", True),
        ("throttle=0.3,retry_after=0,seed=12", "throttle", False),
        (f"slow=0.2,slow_delay={SLOW_DELAY_S},seed=13", "slow", False),
        ("hang=0.15,seed=14", "hang", False),
        ("reset=0.3,seed=15", "reset", False),
        ("auth=0.3,seed=16", "auth", False),
    ],
)
def test_every_event_ends_delivered_or_dead_lettered_under_faults(
    world: AwsWorld, spec: str, kind: str, idempotency: bool
) -> None:
    bodies, expected = many_events()
    # GIVEN a Panther that injects one kind of fault
    with LocalPanther(TOKEN, faults=FaultPlan.parse(spec)) as panther:
        # WHEN a few hundred records go through the queue and the handler until the queue is empty
        table = world.table if idempotency else ""
        result = run_through_queue(
            world, panther, bodies, **{env.IDEMPOTENCY_TABLE: table, env.READ_TIMEOUT_SECONDS: READ_TIMEOUT_S}
        )
        injected = panther.fault_counts()[kind]
        stored = stored_event_ids(panther)
    parked = {m["MessageAttributes"]["e2p_event_id"]["StringValue"]: m for m in drain_dead_letters(world)}
    # THEN the faults did happen, and every record was either acknowledged or redriven with a reason
    assert injected > 0
    assert len(result.acked) + len(result.redriven) == len(bodies)
    assert all(result.redriven.values())
    # AND a transient fault dead-letters nothing: neither the handler nor, after 5 receives of 3
    # attempts each, the queue's redrive (at these rates the odds of that are below 1e-7 per message)
    assert parked == {}
    assert result.redriven == {}
    # AND every acknowledged event's messages are in Panther (a lost answer may add a duplicate)
    lost = {
        event_id_of(body): (stored.get(event_id_of(body), 0), expected[event_id_of(body)])
        for body in result.acked.values()
        if stored.get(event_id_of(body), 0) < expected[event_id_of(body)]
    }
    assert lost == {}
    assert result.count(Count.DELIVERED) + result.count(Count.DUPLICATES_SKIPPED) >= sum(expected.values())


def test_retry_after_is_honoured_through_the_handler(world: AwsWorld) -> None:
    # The client's sleep is recorded instead of slept: a wait it chose itself (backoff with jitter)
    # would be a random fraction of a second, Panther's Retry-After is exactly 1 s.
    waits: list[float] = []
    bodies = [s.body for s in samples()[:20]]
    with LocalPanther(TOKEN, faults=FaultPlan.parse("throttle=0.4,retry_after=1,seed=21")) as panther:
        runtime = assembled_runtime(settings_for(world, panther.url), world, sleep=waits.append)
        result = SqsLoop(bodies).run(lambda event: app.handle(event, Context(), runtime))
        throttled = panther.fault_counts()["throttle"]
    assert len(result.acked) == len(bodies) and not result.redriven
    assert waits and set(waits) == {1.0}
    assert len(waits) <= throttled


def test_a_wrong_token_costs_two_requests_per_message_and_dead_letters_the_records() -> None:
    subset = samples()[:30]
    with aws_world(secret_value="wrong-" + TOKEN[::-1]) as world, LocalPanther(TOKEN) as panther:
        result = run_through_queue(world, panther, [s.body for s in subset])
        refused = panther.status_counts().get(401, 0)
        received = panther.received
        parked = drain_dead_letters(world)
    messages = sum(s.expected_messages for s in subset)
    # THEN nothing is retried: one pass acknowledged every record (the refused ones via the DLQ)
    assert result.invocations == -(-len(subset) // BATCH_SIZE)
    assert all(report.failed_message_ids == [] for report in result.reports)
    assert received == 0
    # AND each message cost exactly two requests (the second after re-reading the token)
    assert refused == 2 * messages
    assert result.count(Count.DELIVERY_ATTEMPTS) == 2 * messages
    # AND the alarm-worthy metric counts every refused message
    assert result.count(Count.AUTH_FAILURES) == messages
    assert len(parked) == sum(1 for s in subset if s.expected_messages)
    assert all(dead_letter_reason(m).startswith("HTTP 401") for m in parked)
    assert all("re-read token" in dead_letter_reason(m) for m in parked)


# ---------------------------------------------------------------- enrichment failures

ACCOUNT_SAMPLE = "guardduty/high.json"


def delivered_event(panther: LocalPanther) -> dict[str, Any]:
    [event] = panther.events()
    return event


def test_a_lookup_role_outside_the_management_account_still_delivers_with_the_account_id(
    world: AwsWorld,
) -> None:
    # moto lets any role be assumed; from an account that manages no organisation, Organizations
    # lists nothing, which the directory treats as a failed lookup (as AWS's refusal would be).
    body = sample(ACCOUNT_SAMPLE).body
    account = str(json.loads(body)["account"])
    with LocalPanther(TOKEN) as panther:
        result = run_through_queue(
            world,
            panther,
            [body],
            **{env.ORG_LOOKUP_ROLE_ARN: "arn:aws:iam::210987654321:role/events2panther-org-lookup"},
        )
        event = delivered_event(panther)
    assert len(result.acked) == 1 and result.invocations == 1
    assert event["account_id"] == account
    assert event["node"].startswith(account + "/")
    assert "account_name" not in event
    assert result.count(Count.ENRICHMENT_MISSES) == 1


def throttled_organizations(world: AwsWorld) -> Any:
    client = world.session.client("organizations")
    stubber = Stubber(client)
    for _ in range(5):
        stubber.add_client_error(
            "list_accounts",
            service_error_code="TooManyRequestsException",
            service_message="AWS Organizations can't complete your request because of too many requests.",
            http_status_code=400,
        )
    stubber.activate()
    return client


def test_organizations_throttling_still_delivers_with_the_account_id(world: AwsWorld) -> None:
    body = sample(ACCOUNT_SAMPLE).body
    account = str(json.loads(body)["account"])
    client = throttled_organizations(world)
    directory = AccountDirectory(OrganizationsSource(lambda: client), ttl_s=3600)
    with LocalPanther(TOKEN) as panther:
        settings = settings_for(world, panther.url)
        runtime = assembled_runtime(settings, world, directory=directory)
        result = SqsLoop([body]).run(lambda event: app.handle(event, Context(), runtime))
        event = delivered_event(panther)
    assert len(result.acked) == 1 and result.invocations == 1
    assert event["account_id"] == account and event["node"].startswith(account + "/")
    assert directory.stats.failures == 1
