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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.alert import MapResult, MapStatus
from handler.compose import compose
from handler.constants import PANTHER_MAX_BODY_BYTES
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope, decode_json, envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.mappers import map_event
from handler.mappers.registry import ANY_SOURCE
from handler.message import (
    FIELD_MAX_CHARS,
    NODE_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    PantherMessage,
    clean_line,
    is_reserved_field,
    shorten,
)
from handler.translate import translate

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parents[2].parent / "shared" / "events"
GOLDEN_EVENTS = Path(__file__).parents[1] / "events"
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


# --- The fast JSON paths (orjson) give what the standard library gives -------------------------

STDLIB_BODY_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def stdlib_body(message: PantherMessage) -> bytes:
    """The body as the handler encoded it before orjson: the reference."""
    return STDLIB_BODY_ENCODER.encode({"event": message.to_event()}).encode("utf-8")


def golden_and_corpus_bodies() -> list[bytes]:
    samples = sorted(p for p in GOLDEN_EVENTS.rglob("*.json") if not p.name.endswith(".expected.json"))
    return [p.read_bytes() for p in [*samples, *FILES]]


BODIES = golden_and_corpus_bodies()


def test_every_golden_and_corpus_body_decodes_and_encodes_as_the_standard_library_does() -> None:
    # GIVEN every sample and corpus file, as SQS bodies
    messages = 0
    for raw in BODIES:
        # THEN the decoder gives the standard library's values, or refuses what it refuses
        try:
            expected = json.loads(raw)
        except ValueError as refused:
            with pytest.raises(type(refused)):
                decode_json(raw)
            continue
        assert decode_json(raw) == expected
        parsed = parse_or_refusal(raw)
        if isinstance(parsed, InvalidEnvelopeError):
            continue
        # AND every Panther body is byte for byte the standard library's encoding
        for alert in map_event(parsed).alerts:
            message = compose(parsed, alert, ACCOUNT)
            assert message.body() == stdlib_body(message)
            messages += 1
    assert messages > len(BODIES) // 2


def test_body_encoding_matches_the_standard_library_for_every_character() -> None:
    # GIVEN every code point but the surrogates, in names and values, 512 at a time
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 512):
        text = "".join(chars[start : start + 512])
        message = PantherMessage(text[:40], text, 3, text[::-1], text[100:200], {text[:64]: text})
        # THEN orjson writes what json.JSONEncoder(ensure_ascii=False) wrote (escapes included)
        assert message.body() == stdlib_body(message)


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": 1, "a": 2}',  # duplicate keys: the last wins
        '{"n": NaN, "i": Infinity, "m": -Infinity}',  # refused by orjson, read by json
        '{"s": "\\ud800 lone"}',  # a lone surrogate escape: refused by orjson, read by json
        '{"s": "\\ud83d\\ude00 pair"}',
        '{"f": [0.1, 1e-400, 1e400, -0.0, 5e-324, 1.7976931348623157e308]}',
        '{"i": [18446744073709551615, -9223372036854775808, 9007199254740993]}',
        b'\xef\xbb\xbf{"bom": true}',  # json.loads(bytes) skips a UTF-8 BOM; orjson refuses it
        '{"x": 1}'.encode("utf-16"),  # json.loads(bytes) reads UTF-16 too
        '{"ctl": "\\u0000\\u001f\\u007f"}',
    ],
)
def test_decoder_accepts_and_reads_what_the_standard_library_does(raw: str | bytes) -> None:
    assert repr(decode_json(raw)) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", ['{"a": 1,}', '"\x01"', "\ufeff{}", "[" * 100_000, '{"a": "\\ud800"'])
def test_decoder_refuses_what_the_standard_library_refuses(raw: str) -> None:
    with pytest.raises((ValueError, RecursionError)):
        json.loads(raw)
    with pytest.raises((ValueError, RecursionError)):
        decode_json(raw)


def test_integers_beyond_64_bits_are_read_as_floats() -> None:
    # The one known difference from json.loads (orjson's): AWS sends no such number (its numbers
    # are Java longs and doubles); a mapper that shows one shows it in float notation.
    assert decode_json("[18446744073709551616]") == [1.8446744073709552e19]


def test_a_lone_surrogate_in_an_event_gives_a_valid_body_not_an_exception() -> None:
    # GIVEN an envelope whose JSON carries lone surrogate escapes, in the node and in fields
    body = json.dumps(
        {
            "id": "e1",
            "source": "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            "account": "111122223333",
            "region": "eu-west-1\ud800",
            "detail": {"instance-id": "i-1\udc00", "state": "stopped"},
        }
    )

    # WHEN it is translated and encoded
    translation = translate(envelope_from_text(body), lambda account_id: ACCOUNT)

    # THEN each body is valid UTF-8 within the limit; a lone surrogate is not printable, so extra fields
    # lose it as node and summary do (the line cleaning of every text, issue 13)
    assert translation.messages
    for message in translation.messages:
        event = json.loads(message.body().decode("utf-8"))["event"]
        assert len(message.body()) <= PANTHER_MAX_BODY_BYTES
        assert event["region"] == "eu-west-1"


def reference_fitted(message: PantherMessage) -> PantherMessage:
    """fitted() as it was written before its fast path: one rebuild, field by field."""
    cleaned = PantherMessage(
        node=shorten(clean_line(message.node), NODE_MAX_CHARS) or "unknown",
        summary=shorten(clean_line(message.summary), SUMMARY_MAX_CHARS) or "(no summary)",
        severity=message.severity,
        tag=shorten(clean_line(message.tag), FIELD_MAX_CHARS),
        identifier=shorten(message.identifier, 1024) if message.identifier else None,
        fields={
            # A value with a non-printable character is made one printable line (issue 13).
            name: shorten(value if value.isprintable() else clean_line(value), FIELD_MAX_CHARS)
            for name, value in message.fields.items()
            if (value if value.isprintable() else clean_line(value)) and not is_reserved_field(name)
        },
    )
    return cleaned


PIECES: Final = ["a", " ", "  ", "\t", "\n", "\x00", "é", "😀", "-", "x" * 40]
TEXT = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)
NAMES = st.sampled_from(["id", "_id", "xid", "agent", "tally", "node", "severity", "state", "foo", "", "Id"])


@settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    node=TEXT,
    summary=TEXT,
    tag=TEXT,
    identifier=st.none() | TEXT,
    fields=st.dictionaries(NAMES | st.text(max_size=8), TEXT | st.text(min_size=500, max_size=600)),
)
def test_fitted_gives_what_the_field_by_field_rebuild_gave(
    node: str, summary: str, tag: str, identifier: str | None, fields: dict[str, str]
) -> None:
    # GIVEN any message (small enough that no shrinking is needed: that path is unchanged)
    message = PantherMessage(node, summary, 2, tag, identifier, fields)
    expected = reference_fitted(message)
    if len(stdlib_body(expected)) > PANTHER_MAX_BODY_BYTES:
        return

    # THEN the fast path gives the same message and the same body
    fitted = message.fitted()
    assert fitted == expected
    assert fitted.body() == stdlib_body(expected)
