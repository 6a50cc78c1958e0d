"""Whatever arrives in a record body, the pipeline gives every record a decision and never raises.

Bodies are generated at three levels: arbitrary text, arbitrary JSON, and envelopes whose fields hold
values of any JSON type. Every message that reaches the (fake) Panther must satisfy its contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest
from dispatcher_fakes import AnswersAtOnce
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.constants import PANTHER_MAX_BODY_BYTES
from handler.counters import Count
from handler.decisions import Action
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.idempotency import KeyedBody
from handler.mappers.registry import registered_keys
from handler.pipeline import Pipeline, Record

pytestmark = pytest.mark.unit

RESERVED = re.compile(r"^(_*id|agent|group|tally|state_change|last_occurrence|first_occurrence)$")

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
KNOWN = st.sampled_from(registered_keys())


@st.composite
def envelopes(draw: st.DrawFn) -> str:
    source, detail_type = (
        draw(KNOWN) if draw(st.booleans()) else (draw(st.text(min_size=1)), draw(st.text(min_size=1)))
    )
    if source == "*":
        source = draw(st.sampled_from(["aws.ec2", "aws.s3", "aws.iam", "aws.signin"]))
    raw = {
        "version": "0",
        "id": draw(st.text(max_size=40)),
        "detail-type": detail_type,
        "source": source,
        "account": draw(st.sampled_from(["111122223333", "", "x" * 300])),
        "time": draw(st.text(max_size=30)),
        "region": draw(st.text(max_size=20)),
        "resources": draw(st.lists(st.text(max_size=80), max_size=3)),
        "detail": draw(st.dictionaries(st.text(max_size=20), JSON, max_size=8)),
    }
    for key in draw(st.lists(st.sampled_from(sorted(raw)), max_size=2)):
        raw[key] = draw(JSON)  # any field may hold the wrong type
    return json.dumps(raw)


BODIES = st.one_of(st.text(max_size=200), JSON.map(json.dumps), envelopes())


class Directory:
    def lookup(self, account_id: str) -> AccountInfo:
        return AccountInfo(account_id, name="Ünïcode ✓ account", ou_path="Root/Prod")

    def invalidate(self) -> None:
        pass


class CheckingPanther(AnswersAtOnce):
    """Answers 200 to what the real contract accepts and fails the test on anything else."""

    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        for _, body in items:
            assert len(body) <= PANTHER_MAX_BODY_BYTES
            if isinstance(body, KeyedBody):
                assert body.idempotency_key
            event = json.loads(body)["event"]
            assert isinstance(event["node"], str) and event["node"]
            assert isinstance(event["summary"], str) and event["summary"]
            assert type(event["severity"]) is int and 0 <= event["severity"] <= 5
            for name, value in event.items():
                assert not RESERVED.match(name), name
                if name != "severity":
                    assert isinstance(value, str), name
        return [DeliveryOutcome(DeliveryStatus.DELIVERED, 1, 200, "HTTP 200", 0.1) for _ in items]


class NoCounts:
    def take_counts(self) -> list[tuple[Count, int]]:
        return []


class DeadLetters:
    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None:
        assert reason


# The number of examples comes from the hypothesis profile (tests/conftest.py, HYPOTHESIS_PROFILE).
@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(BODIES, min_size=1, max_size=5), idempotent=st.booleans())
def test_every_record_gets_a_decision_and_nothing_escapes(bodies: list[str], idempotent: bool) -> None:
    records = [Record(f"m{i}", body) for i, body in enumerate(bodies)]
    # With idempotency on, every envelope's messages are keyed too (a digest of the envelope).
    pipeline = Pipeline(
        Directory(), CheckingPanther(), DeadLetters(), idempotency=NoCounts() if idempotent else None
    )
    report = pipeline.process(records, deadline=None)
    assert [mid for mid, _ in report.decisions] == [r.message_id for r in records]
    # Nothing was retryable, so no record may be returned to the queue.
    assert report.failed_message_ids == []
    assert all(d.action in {Action.ACK, Action.DEAD_LETTER} for _, d in report.decisions)


def test_deeply_nested_and_huge_bodies_are_results_not_crashes() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    huge = json.dumps(
        {
            "id": "1",
            "source": "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            "account": "111122223333",
            "region": "eu-west-1",
            "detail": {"instance-id": "i-" + "9" * 250_000, "state": "stopped"},
        }
    )
    not_utf8 = b"\xff\xfe{\x00".decode("utf-8", errors="surrogateescape")
    records = [Record("nested", nested), Record("huge", huge), Record("bytes", not_utf8)]
    report = Pipeline(Directory(), CheckingPanther(), DeadLetters(), idempotency=NoCounts()).process(
        records, deadline=None
    )
    decided = dict(report.decisions)
    assert decided["nested"].action is Action.DEAD_LETTER
    assert decided["bytes"].action is Action.DEAD_LETTER
    assert decided["huge"].action is Action.ACK
