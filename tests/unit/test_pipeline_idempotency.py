"""Idempotent delivery without AWS: the keys, the LedgeredSender's state machine, the pipeline's counts.

The ledger here is an in-memory fake with the DynamoDB ledger's semantics; the real one runs against
moto in tests/functional/test_idempotency_ledger.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from dispatcher_fakes import AnswersAtOnce

from handler.counters import Count
from handler.decisions import Action
from handler.delivery.fanout import Dispatcher
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_text
from handler.idempotency import (
    DUPLICATE_REASON,
    IN_PROGRESS_FALLBACK_S,
    IN_PROGRESS_REASON,
    Claim,
    KeyedBody,
    LedgeredSender,
    LedgerUnavailableError,
    delivery_keys,
)
from handler.pipeline import Pipeline, Record
from handler.translate import translate

pytestmark = pytest.mark.unit

ACCOUNT = "111122223333"


def finding(finding_id: str, label: str = "HIGH") -> dict[str, object]:
    return {
        "Id": finding_id,
        "AwsAccountId": ACCOUNT,
        "Title": f"Finding {finding_id}",
        "Severity": {"Label": label},
        "Resources": [{"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::bucket-{finding_id}"}],
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
    }


def security_hub_event(event_id: str = "evt-1", findings: int = 3, **extra: object) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "Security Hub Findings - Imported",
            "source": "aws.securityhub",
            "account": ACCOUNT,
            "time": "2026-11-28T10:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": {"findings": [finding(f"f-{n}") for n in range(1, findings + 1)], **extra},
        }
    )


def keys_for(body: str, account: AccountInfo | None = None) -> list[str | None]:
    envelope = envelope_from_text(body)
    translation = translate(envelope, lambda account_id: account or AccountInfo(account_id))
    return delivery_keys(envelope, translation.messages)


# ---------------------------------------------------------------- keys


def test_keys_are_stable_across_attempts_and_one_per_message() -> None:
    # GIVEN the same envelope translated twice (a redelivery), WHEN keyed
    first, again = keys_for(security_hub_event()), keys_for(security_hub_event())
    # THEN the keys are the same, one per finding, all different
    assert first == again
    assert len(first) == 3 and len(set(first)) == 3 and None not in first


def test_keys_do_not_change_when_enrichment_changes_between_attempts() -> None:
    plain = keys_for(security_hub_event())
    named = keys_for(
        security_hub_event(),
        AccountInfo(ACCOUNT, name="Payments Prod " + "x" * 2000, ou_path="Root/Prod", tags={"team": "a"}),
    )
    assert plain == named


def test_keys_do_not_depend_on_the_json_layout_of_the_body() -> None:
    compact = security_hub_event()
    reordered = json.dumps(dict(reversed(list(json.loads(compact).items()))), indent=2)
    assert keys_for(compact) == keys_for(reordered)


@pytest.mark.parametrize(
    "other",
    [
        security_hub_event(event_id="evt-2"),  # another event
        security_hub_event(extra_field="x"),  # another event that reuses the id (samples do)
    ],
)
def test_different_events_never_share_a_key(other: str) -> None:
    assert set(keys_for(security_hub_event())).isdisjoint(keys_for(other))


def test_an_envelope_without_an_id_gets_no_key() -> None:
    body = json.loads(security_hub_event())
    del body["id"]
    assert keys_for(json.dumps(body)) == [None, None, None]


# ---------------------------------------------------------------- the sender's state machine


class FakeLedger:
    """In-memory ledger: key -> "in_progress" | "completed"; `fail` makes every call raise."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.holds: list[int] = []
        self.calls: list[tuple[str, str]] = []
        self.fail = False

    def claim(self, key: str, hold_ms: int) -> Claim:
        self._call("claim", key)
        self.holds.append(hold_ms)
        current = self.state.get(key)
        if current == "completed":
            return Claim.DONE
        if current == "in_progress":
            return Claim.BUSY
        self.state[key] = "in_progress"
        return Claim.CLAIMED

    def complete(self, key: str, status: DeliveryStatus) -> None:
        self._call("complete", key)
        self.state[key] = "completed"

    def release(self, key: str) -> None:
        self._call("release", key)
        self.state.pop(key, None)

    def _call(self, name: str, key: str) -> None:
        self.calls.append((name, key))
        if self.fail:
            raise LedgerUnavailableError("table unreachable")


class ScriptedClient:
    """Answers each send with the next status of its script (DELIVERED when the script runs out)."""

    def __init__(self, *script: DeliveryStatus | Exception) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        self.sent.append(bytes(body))
        step = self.script.pop(0) if self.script else DeliveryStatus.DELIVERED
        if isinstance(step, Exception):
            raise step
        return DeliveryOutcome(step, 1, 200, f"scripted {step}", 1.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def keyed(key: str = "k1") -> KeyedBody:
    return KeyedBody(b'{"event":{}}', key)


@pytest.mark.parametrize(
    ("status", "then"),
    [
        (DeliveryStatus.DELIVERED, "completed"),
        (DeliveryStatus.DISCARDED, "completed"),
        (DeliveryStatus.RETRYABLE, None),
        (DeliveryStatus.PERMANENT, None),
    ],
)
def test_a_claimed_message_is_completed_when_done_and_released_otherwise(
    status: DeliveryStatus, then: str | None
) -> None:
    ledger, client = FakeLedger(), ScriptedClient(status)
    outcome = LedgeredSender(client, ledger).send(keyed(), "m1", None)
    assert outcome.status is status
    assert client.sent == [bytes(keyed())]
    assert ledger.state.get("k1") == then


def test_a_completed_message_is_not_sent_again_and_counts_as_delivered() -> None:
    ledger, client = FakeLedger(), ScriptedClient()
    ledger.state["k1"] = "completed"
    outcome = LedgeredSender(client, ledger).send(keyed(), "m1", None)
    assert client.sent == []
    assert (outcome.status, outcome.attempts, outcome.reason) == (
        DeliveryStatus.DELIVERED,
        0,
        DUPLICATE_REASON,
    )


def test_a_message_held_by_another_invocation_is_left_for_a_retry() -> None:
    ledger, client = FakeLedger(), ScriptedClient()
    ledger.state["k1"] = "in_progress"
    outcome = LedgeredSender(client, ledger).send(keyed(), "m1", None)
    assert client.sent == []
    assert (outcome.status, outcome.reason) == (DeliveryStatus.RETRYABLE, IN_PROGRESS_REASON)
    assert ledger.state["k1"] == "in_progress"  # not released: it is not ours


def test_a_crash_while_sending_releases_the_claim_and_propagates() -> None:
    ledger = FakeLedger()
    with pytest.raises(RuntimeError, match="boom"):
        LedgeredSender(ScriptedClient(RuntimeError("boom")), ledger).send(keyed(), "m1", None)
    assert "k1" not in ledger.state


def test_the_claim_is_held_until_the_deadline() -> None:
    ledger, clock = FakeLedger(), Clock()
    sender = LedgeredSender(ScriptedClient(), ledger, clock=clock)
    sender.send(keyed("a"), "m1", deadline=clock.now + 12.5)
    sender.send(keyed("b"), "m2", deadline=None)
    sender.send(keyed("c"), "m3", deadline=clock.now - 1)  # already past: nothing to hold
    assert ledger.holds[0] == 12_500
    assert ledger.holds[1] == IN_PROGRESS_FALLBACK_S * 1000
    assert ledger.holds[2] <= 0


def test_a_store_outage_does_not_hold_delivery_back_and_is_counted() -> None:
    ledger, client = FakeLedger(), ScriptedClient(DeliveryStatus.DELIVERED, DeliveryStatus.RETRYABLE)
    ledger.fail = True
    sender = LedgeredSender(client, ledger)
    first = sender.send(keyed("a"), "m1", None)
    second = sender.send(keyed("b"), "m2", None)
    assert [first.status, second.status] == [DeliveryStatus.DELIVERED, DeliveryStatus.RETRYABLE]
    assert len(client.sent) == 2
    # claim + complete for the first, claim only for the second (nothing of ours to release)
    assert [name for name, _ in ledger.calls] == ["claim", "complete", "claim"]
    assert sender.take_counts() == [(Count.IDEMPOTENCY_STORE_ERRORS, 3)]
    assert sender.take_counts() == []  # taken once


def test_bodies_without_a_key_go_straight_to_the_client() -> None:
    ledger, client = FakeLedger(), ScriptedClient()
    LedgeredSender(client, ledger).send(b'{"event":{}}', "m1", None)
    assert client.sent == [b'{"event":{}}']
    assert ledger.calls == []


# ---------------------------------------------------------------- through the pipeline


class Directory:
    def lookup(self, account_id: str) -> AccountInfo:
        return AccountInfo(account_id)

    def invalidate(self) -> None:
        pass


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None:
        self.sent.append(reason)


class FailingFinding:
    """A Panther double that fails the finding whose id is given, `times` times, retryably."""

    def __init__(self, finding_id: str, times: int) -> None:
        self.finding_id = finding_id
        self.times = times
        self.accepted: list[str] = []

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        event = json.loads(body)["event"]
        if self.finding_id in event["identifier"] and self.times > 0:
            self.times -= 1
            return DeliveryOutcome(DeliveryStatus.RETRYABLE, 1, 503, "HTTP 503", 1.0)
        self.accepted.append(event["identifier"].split(":")[0])
        return DeliveryOutcome(DeliveryStatus.DELIVERED, 1, 200, "HTTP 200", 1.0)


def process(pipeline: Pipeline, bodies: Sequence[str]):
    return pipeline.process([Record(f"m{i}", body) for i, body in enumerate(bodies)], deadline=None)


def test_a_retry_sends_only_the_findings_not_yet_delivered() -> None:
    # GIVEN three findings in one event, the second failing once retryably
    panther, ledger = FailingFinding("f-2", times=1), FakeLedger()
    sender = LedgeredSender(panther, ledger)
    with Dispatcher(sender, 4) as dispatcher:
        pipeline = Pipeline(Directory(), dispatcher, DeadLetters(), idempotency=sender)
        # WHEN the record is processed, then redelivered by SQS
        first = process(pipeline, [security_hub_event()])
        assert first.failed_message_ids == ["m0"]
        assert panther.accepted == ["f-1"]  # f-3 waits behind f-2: order within an event is kept
        second = process(pipeline, [security_hub_event()])
    # THEN the retry sent f-2 and f-3 only, and f-1 counted as done without being sent
    assert panther.accepted == ["f-1", "f-2", "f-3"]
    assert second.failed_message_ids == []
    assert dict(second.decisions)["m0"].action is Action.ACK
    assert second.counters.get(Count.DUPLICATES_SKIPPED) == 1
    assert second.counters.get(Count.DELIVERED) == 2


def test_store_errors_reach_the_batch_counters() -> None:
    ledger = FakeLedger()
    ledger.fail = True
    sender = LedgeredSender(FailingFinding("none", times=0), ledger)
    with Dispatcher(sender, 2) as dispatcher:
        report = process(
            Pipeline(Directory(), dispatcher, DeadLetters(), idempotency=sender),
            [security_hub_event(findings=2)],
        )
    assert report.failed_message_ids == []
    assert report.counters.get(Count.DELIVERED) == 2
    # a claim and a complete per message
    assert report.counters.get(Count.IDEMPOTENCY_STORE_ERRORS) == 4


def test_a_message_in_progress_elsewhere_returns_its_record_and_is_counted() -> None:
    ledger = FakeLedger()
    for key in keys_for(security_hub_event(findings=1)):
        assert key is not None
        ledger.state[key] = "in_progress"
    sender = LedgeredSender(FailingFinding("none", times=0), ledger)
    with Dispatcher(sender, 2) as dispatcher:
        report = process(
            Pipeline(Directory(), dispatcher, DeadLetters(), idempotency=sender),
            [security_hub_event(findings=1)],
        )
    assert report.failed_message_ids == ["m0"]
    assert report.counters.get(Count.IN_PROGRESS_ELSEWHERE) == 1
    assert report.counters.get(Count.DELIVERED) == 0


class Recorder(AnswersAtOnce):
    """A dispatcher that accepts everything and keeps the bodies it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        self.bodies.extend(body for _, body in items)
        return [DeliveryOutcome(DeliveryStatus.DELIVERED, 1, 200, "HTTP 200", 1.0) for _ in items]


class NoCounts:
    def take_counts(self) -> list[tuple[Count, int]]:
        return []


def test_bodies_carry_keys_only_when_idempotency_is_on() -> None:
    plain, keyed = Recorder(), Recorder()
    process(Pipeline(Directory(), plain, DeadLetters()), [security_hub_event()])
    process(Pipeline(Directory(), keyed, DeadLetters(), idempotency=NoCounts()), [security_hub_event()])
    assert [type(body) for body in plain.bodies] == [bytes] * 3
    assert [body.idempotency_key for body in keyed.bodies if isinstance(body, KeyedBody)] == keys_for(
        security_hub_event()
    )
    assert keyed.bodies == plain.bodies  # the same bytes on the wire


def test_an_envelope_nested_to_the_limit_is_decided_not_a_crash() -> None:
    # Depths around the interpreter's recursion limit: some parse but cannot be encoded again
    # deeper in the stack for the digest; those go out unguarded instead of failing the batch.
    bodies = [
        json.dumps({"id": f"deep-{depth}", "source": "aws.x", "detail-type": "Deep", "account": ACCOUNT})[:-1]
        + ', "detail": '
        + '{"a": ' * depth
        + "1"
        + "}" * depth
        + "}"
        for depth in range(900, 1000)
    ]
    recorder = Recorder()
    report = process(Pipeline(Directory(), recorder, DeadLetters(), idempotency=NoCounts()), bodies)
    assert len(report.decisions) == len(bodies)
    assert all(decision.action in {Action.ACK, Action.DEAD_LETTER} for _, decision in report.decisions)
