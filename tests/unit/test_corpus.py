"""Every file of the shared corpus of real AWS events through parse -> map -> compose.

What must hold for each file, whatever it holds: parsing either gives an envelope or raises
InvalidEnvelopeError (never another exception); a well-formed envelope gives at least one alert or
is filtered with a reason; no registered mapper falls back to the generic mapping; every message
fits Panther's 4,096-byte body and passes Panther's event schema; every summary is stable (no ISO
timestamp, UUID, event id or request id, and the same when the occurrence-specific envelope values
change). The required families must be handled by their own mappers.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import jsonschema
import pytest

from handler.alert import MapResult, MapStatus
from handler.compose import compose
from handler.constants import PANTHER_MAX_BODY_BYTES
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope, envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.mappers import map_event
from handler.mappers.registry import ANY_SOURCE
from handler.message import is_reserved_field

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parents[2].parent / "shared" / "events"
ACCOUNT = AccountInfo("123456789012", name="Prod Payments ✓", ou_path="Root/Workloads/Prod")
RESERVED_NAMES: Final = ["agent", "group", "tally", "state_change", "last_occurrence", "first_occurrence"]
# Panther's event contract (PANTHER-API.md), as its JSON-schema validation applies it.
PANTHER_BODY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["event"],
    "additionalProperties": False,
    "properties": {
        "event": {
            "type": "object",
            "required": ["node", "summary"],
            "properties": {
                "node": {"type": "string", "minLength": 1},
                "summary": {"type": "string", "minLength": 1},
                "tag": {"type": "string"},
                "severity": {"type": "integer", "minimum": 0, "maximum": 5},
            },
            "additionalProperties": {"type": "string"},
            "propertyNames": {"not": {"anyOf": [{"enum": RESERVED_NAMES}, {"pattern": "^_*id$"}]}},
        }
    },
}
VALIDATOR = jsonschema.Draft7Validator(PANTHER_BODY_SCHEMA)
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Shorter ids ("1111", "<id>") are placeholders of documentation samples that real words can contain.
MIN_ID_CHARS: Final = 8
API_CALL: Final = "AWS API Call via CloudTrail"
SERVICE_EVENT: Final = "AWS Service Event via CloudTrail"

# (source, detail-type) the family mappers must handle; CloudTrail API calls may also be filtered.
REQUIRED_FAMILIES: Final = frozenset(
    {
        (ANY_SOURCE, API_CALL),
        (ANY_SOURCE, "AWS Console Sign In via CloudTrail"),
        ("aws.controltower", SERVICE_EVENT),
        ("aws.organizations", SERVICE_EVENT),
        ("aws.ec2", "EC2 Instance State-change Notification"),
        ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
        ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
        ("aws.guardduty", "GuardDuty Finding"),
        ("aws.securityhub", "Security Hub Findings - Imported"),
        ("aws.config", "Config Configuration Item Change"),
        ("aws.config", "Config Rules Compliance Change"),
        ("aws.health", "AWS Health Event"),
        ("aws.inspector2", "Inspector2 Finding"),
        ("aws.inspector2", "Inspector2 Scan"),
        ("aws.inspector2", "Inspector2 Coverage"),
        ("aws.macie", "Macie Finding"),
        ("aws.macie", "Macie Alert"),
        ("aws.access-analyzer", "Access Analyzer Finding"),
        ("aws.autoscaling", "EC2 Instance Launch Successful"),
        ("aws.autoscaling", "EC2 Instance Launch Unsuccessful"),
        ("aws.autoscaling", "EC2 Instance Terminate Successful"),
        ("aws.autoscaling", "EC2 Instance Terminate Unsuccessful"),
        ("aws.autoscaling", "EC2 Instance-launch Lifecycle Action"),
        ("aws.autoscaling", "EC2 Instance-terminate Lifecycle Action"),
        ("aws.autoscaling", "EC2 Auto Scaling Instance Refresh Started"),
        ("aws.autoscaling", "EC2 Auto Scaling Instance Refresh Failed"),
        ("aws.ecs", "ECS Task State Change"),
        ("aws.ecs", "ECS Deployment State Change"),
        ("aws.ecs", "ECS Service Action"),
        ("aws.codepipeline", "CodePipeline Pipeline Execution State Change"),
        ("aws.codepipeline", "CodePipeline Stage Execution State Change"),
        ("aws.codepipeline", "CodePipeline Action Execution State Change"),
        ("aws.rds", "RDS DB Instance Event"),
        ("aws.rds", "RDS DB Cluster Event"),
        ("aws.rds", "RDS DB Snapshot Event"),
        ("aws.rds", "RDS DB Parameter Group Event"),
        ("aws.rds", "RDS DB Proxy Event"),
        ("aws.ec2", "EBS Snapshot Notification"),
        ("aws.ec2", "EBS Volume Notification"),
        ("aws.ec2", "EBS Multi-Volume Snapshots Completion Status"),
        ("aws.ec2", "EBS Fast Snapshot Restore State-change Notification"),
        ("aws.kms", "KMS CMK Rotation"),
        ("aws.kms", "KMS CMK Deletion"),
        ("aws.kms", "KMS Imported Key Material Expiration"),
        ("aws.backup", "Backup Job State Change"),
        ("aws.backup", "Copy Job State Change"),
        ("aws.backup", "Restore Job State Change"),
        ("aws.cloudwatch", "CloudWatch Alarm State Change"),
    }
)
# Manifest kinds that are not envelopes and must be refused, and those that must parse.
NOT_ENVELOPE_KINDS: Final = ("invalid-json", "fragment", "raw-")
ENVELOPE_KINDS: Final = frozenset({"envelope", "wrapped"})


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def manifest_kinds() -> dict[str, str]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    with manifest.open(encoding="utf-8", newline="") as fh:
        return {row["file"]: row["kind"] for row in csv.DictReader(fh, delimiter="\t")}


FILES = corpus_files()
KINDS = manifest_kinds()


def parse_or_refusal(body: bytes) -> Envelope | InvalidEnvelopeError:
    """The envelope, or the refusal; any other exception propagates and fails the test."""
    try:
        return envelope_from_text(body)
    except InvalidEnvelopeError as exc:
        return exc


def required_family(envelope: Envelope) -> bool:
    return (envelope.source, envelope.detail_type) in REQUIRED_FAMILIES or (
        ANY_SOURCE,
        envelope.detail_type,
    ) in REQUIRED_FAMILIES


def occurrence_ids(envelope: Envelope) -> list[str]:
    """Values that differ on every occurrence: none of them may appear in a summary."""
    detail = envelope.detail
    candidates = [envelope.id, detail.get("eventID"), detail.get("requestID"), detail.get("request-id")]
    return [c for c in candidates if isinstance(c, str) and len(c) >= MIN_ID_CHARS]


def contains_token(text: str, value: str) -> bool:
    """`value` as a whole token of `text` (a placeholder id inside a longer resource name is not it)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None


def another_occurrence(envelope: Envelope) -> Envelope:
    """The same event as delivered again: new envelope id and time, new CloudTrail ids and time."""
    detail = dict(envelope.detail)
    for key, value in (
        ("eventID", "other-event-id"),
        ("requestID", "other-request-id"),
        ("eventTime", "2031-02-03T04:05:06Z"),
    ):
        if key in detail:
            detail[key] = value
    return replace(envelope, id="another-occurrence-id", time="2031-02-03T04:05:06Z", detail=detail)


def assert_status_is_sound(result: MapResult, envelope: Envelope) -> None:
    if result.status is MapStatus.FILTERED:
        assert result.reason
        assert result.alerts == ()
        return
    assert result.alerts, "a well-formed envelope must give an alert or be filtered"
    if result.status is MapStatus.GENERIC:
        assert result.reason == "no mapper registered", f"a family mapper failed: {result.reason}"
    if required_family(envelope):
        allowed = (
            {MapStatus.MAPPED, MapStatus.FILTERED} if envelope.detail_type == API_CALL else {MapStatus.MAPPED}
        )
        assert result.status in allowed


def assert_message_is_acceptable(envelope: Envelope, result: MapResult) -> None:
    for alert in result.alerts:
        assert all(isinstance(v, str) and not is_reserved_field(k) for k, v in alert.fields.items())
        message = compose(envelope, alert, ACCOUNT)
        body = message.fitted().body()
        assert len(body) <= PANTHER_MAX_BODY_BYTES
        VALIDATOR.validate(json.loads(body))
        summary = alert.summary
        assert "\n" not in summary
        assert not ISO_TIMESTAMP.search(summary), summary
        assert not UUID.search(summary), summary
        assert not any(contains_token(summary, value) for value in occurrence_ids(envelope)), summary


@pytest.mark.skipif(not FILES, reason=f"shared corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_parses_maps_and_composes_to_acceptable_messages(path: Path) -> None:
    # GIVEN a file of the corpus and what its manifest says it is
    kind = KINDS.get(str(path.relative_to(CORPUS)), "")

    # WHEN it is parsed as an SQS body
    parsed = parse_or_refusal(path.read_bytes())

    # THEN a file that is no envelope is refused with a reason, and a true envelope never is
    if isinstance(parsed, InvalidEnvelopeError):
        assert str(parsed)
        assert kind not in ENVELOPE_KINDS
        return
    envelope = parsed
    assert not kind.startswith(NOT_ENVELOPE_KINDS)

    # WHEN it is mapped (twice: as delivered, and as if delivered again later)
    result = map_event(envelope)
    again = map_event(another_occurrence(envelope))

    # THEN the outcome is sound, every message is acceptable to Panther, summaries are stable
    assert_status_is_sound(result, envelope)
    assert_message_is_acceptable(envelope, result)
    assert [a.summary for a in again.alerts] == [a.summary for a in result.alerts]


@pytest.mark.skipif(not FILES, reason=f"shared corpus not found at {CORPUS}")
def test_corpus_has_samples_of_every_required_family() -> None:
    # GIVEN every well-formed envelope of the corpus
    seen: set[tuple[str, str]] = set()
    for path in FILES:
        envelope = parse_or_refusal(path.read_bytes())
        if isinstance(envelope, InvalidEnvelopeError):
            continue
        seen.add((envelope.source, envelope.detail_type))
        seen.add((ANY_SOURCE, envelope.detail_type))

    # THEN the per-file test above really exercised each required family
    assert sorted(REQUIRED_FAMILIES - seen) == []
