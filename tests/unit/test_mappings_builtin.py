"""The built-in mappings file: current JSON, no overlap with the hand-written mappers, coverage of
the shared corpus, and the organisation override."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jmespath
import pytest

from e2p.packaging.builtin_mappings import check_current, render
from handler.alert import MapStatus
from handler.envelope import envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.mappers import builtin_mappings, event_mapper, handwritten_pairs, map_event, with_organisation
from handler.mappings import BUILTIN_JSON, BUILTIN_YAML, MappingsError, compile_document
from handler.mappings.entry import event_data
from handler.mappings.expressions import compile_expression, compile_template
from handler.mappings.pattern import compile_pattern
from handler.severity import Severity

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).parents[2].parent / "shared" / "events"
GOLDEN = Path(__file__).parents[1] / "events"
GENERIC_SHARE_LIMIT = 0.05


def sample_envelopes() -> list[Any]:
    found = []
    for root in (GOLDEN, CORPUS):
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.json")):
            if path.name.endswith(".expected.json"):
                continue
            try:
                found.append(envelope_from_text(path.read_bytes()))
            except InvalidEnvelopeError:
                continue
    return found


ENVELOPES = sample_envelopes()


def test_builtin_json_is_generated_from_the_current_yaml() -> None:
    # The function reads the JSON: a YAML edit without regeneration would silently not ship.
    check_current()
    assert json.loads(BUILTIN_JSON.read_text(encoding="utf-8")) == json.loads(render(BUILTIN_YAML))


def test_no_builtin_pair_is_shadowed_by_a_handwritten_mapper() -> None:
    assert handwritten_pairs(builtin_mappings()) == []


def test_every_builtin_pair_ends_with_an_entry_for_every_event() -> None:
    # A pair whose entries all carry a pattern would send some of its events to the generic mapping.
    for pair, entries in builtin_mappings().entries.items():
        assert entries[-1].match is None, pair


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_generic_mapping_takes_at_most_5_percent_of_the_corpus() -> None:
    statuses = [map_event(envelope).status for envelope in ENVELOPES]
    generic = statuses.count(MapStatus.GENERIC)
    assert len(statuses) > 800
    assert generic / len(statuses) <= GENERIC_SHARE_LIMIT, generic


def test_plain_paths_give_exactly_what_jmespath_gives_on_every_sample() -> None:
    # GIVEN every expression of the built-in file, and a few shapes a path walk must get right
    expressions = {"resources[0]", "resources[-1]", "resources[5]", "detail.a[0].b", "detail", "source"}
    for entries in builtin_mappings().entries.values():
        for entry in entries:
            for part in (entry.resource, entry.resource_arn, entry.identifier, entry.severity.value):
                if part is not None:
                    expressions.add(part.text)
            expressions.update(expr.text for _, expr in entry.fields)
            if entry.summary is not None:
                expressions.update(expr.text for expr in entry.summary.expressions)
    compiled = [compile_expression(text) for text in sorted(expressions)]
    assert sum(1 for expr in compiled if expr.path is not None) > len(compiled) // 2

    # THEN on every sample the fast walk and JMESPath's interpreter agree
    for envelope in ENVELOPES:
        data = event_data(envelope)
        for expr in compiled:
            assert expr.search(data) == jmespath.search(expr.text, data), (expr.text, envelope.detail_type)


def test_templates_render_lists_and_escape_braces() -> None:
    template = compile_template("{{literal}} {detail.names} {detail.missing}!")
    assert template.render({"detail": {"names": ["a", 1, None, "b"]}}) == "{literal} a, 1, b !"


@pytest.mark.parametrize(
    ("pattern", "detail", "matches"),
    [
        ({"state": ["FAILED", "ERROR"]}, {"state": "ERROR"}, True),
        ({"state": ["FAILED"]}, {"state": "failed"}, False),
        ({"state": [{"equals-ignore-case": "failed"}]}, {"state": "FAILED"}, True),
        ({"tags": ["prod"]}, {"tags": ["dev", "prod"]}, True),
        ({"name": [{"prefix": "prod-"}]}, {"name": "prod-api"}, True),
        ({"name": [{"suffix": ".png"}]}, {"name": "a.jpg"}, False),
        ({"name": [{"anything-but": ["a", "b"]}]}, {"name": "c"}, True),
        ({"name": [{"anything-but": ["a", "b"]}]}, {}, False),
        ({"name": [{"anything-but": {"prefix": "tmp"}}]}, {"name": "tmp1"}, False),
        ({"error": [{"exists": False}]}, {}, True),
        ({"error": [{"exists": True}]}, {}, False),
        ({"count": [{"numeric": [">", 0, "<=", 5]}]}, {"count": 5}, True),
        ({"count": [{"numeric": [">", 0]}]}, {"count": "7"}, False),
        ({"flag": [True]}, {"flag": 1}, False),
        ({"n": [1]}, {"n": 1.0}, True),
        ({"outer": {"inner": ["x"]}}, {"outer": {"inner": "x"}}, True),
        ({"outer": {"inner": ["x"]}}, {"outer": "x"}, False),
        ({"a": ["1"], "b": ["2"]}, {"a": "1", "b": "3"}, False),
    ],
)
def test_patterns_follow_eventbridge_content_filtering(pattern: Any, detail: Any, matches: bool) -> None:
    assert compile_pattern(pattern)(detail) is matches


ORG = {
    "version": 1,
    "mappings": [
        {
            "source": "aws.glue",
            "detail-type": "Glue Job State Change",
            "tag": "DataPlatform",
            "summary": "Nightly ETL {detail.jobName} failed",
            "severity": {"value": "detail.state", "map": {"FAILED": "critical"}, "clear": ["SUCCEEDED"]},
        },
        {"source": "com.example.orders", "detail-type": "Order Failed", "summary": "Order failed"},
    ],
}


def test_an_organisation_entry_replaces_the_builtin_entries_of_its_pair_and_adds_new_pairs() -> None:
    # GIVEN the built-in table overridden by an organisation's file
    merged = with_organisation(compile_document(ORG, "org.yaml"), "org.yaml")
    mapper = event_mapper(merged)
    glue = envelope_from_text((GOLDEN / "glue" / "job-failed.json").read_bytes())
    codebuild = envelope_from_text((GOLDEN / "codebuild" / "build-succeeded.json").read_bytes())

    # THEN the organisation's entry maps its pair, the other built-in pairs are unchanged
    result = mapper(glue)
    assert (result.alerts[0].summary, result.alerts[0].severity, result.mapped_by) == (
        "Nightly ETL MyJob failed",
        Severity.CRITICAL,
        "org.yaml entry 1",
    )
    assert map_event(glue).alerts[0].summary == "Glue job MyJob failed"
    assert mapper(codebuild) == map_event(codebuild)
    assert ("com.example.orders", "Order Failed") in merged.entries


def test_an_organisation_entry_for_a_handwritten_pair_is_refused() -> None:
    ec2 = {
        "version": 1,
        "mappings": [
            {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "summary": "x"}
        ],
    }
    with pytest.raises(
        MappingsError, match=r"aws\.ec2 / EC2 Instance State-change Notification: mapped by a built-in"
    ):
        with_organisation(compile_document(ec2, "org.yaml"), "org.yaml")


def test_the_lambda_zip_carries_the_builtin_mappings(tmp_path: Path) -> None:
    # The zip takes every file of handler/ but bytecode caches: the JSON the function reads is one.
    import zipfile

    from e2p.packaging.lambda_package import write_zip

    handler_dir = BUILTIN_JSON.parents[1]
    destination = tmp_path / "function.zip"
    write_zip(destination, [(handler_dir, "handler/")])
    with zipfile.ZipFile(destination) as archive:
        shipped = archive.read("handler/mappings/builtin.json")
    assert shipped == BUILTIN_JSON.read_bytes()


def documented(source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> Any:
    """An envelope with the detail fields the AWS page documents (no real sample in ../shared/events)."""
    return envelope_from_text(
        json.dumps(
            {
                "id": "e-1",
                "source": source,
                "detail-type": detail_type,
                "account": "111122223333",
                "region": "eu-west-1",
                "time": "2026-01-02T03:04:05Z",
                "resources": resources,
                "detail": detail,
            }
        )
    )


STACK = (
    "arn:aws:cloudformation:eu-west-1:111122223333:stack/payments-api/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)
EXECUTION = "arn:aws:datasync:eu-west-1:111122223333:task/task-0abc/execution/exec-0def"


@pytest.mark.parametrize(
    ("event", "resource", "severity", "summary"),
    [
        (
            documented(
                "aws.cloudformation",
                "CloudFormation Stack Status Change",
                {
                    "stack-id": STACK,
                    "status-details": {"status": "UPDATE_ROLLBACK_COMPLETE", "status-reason": "x"},
                },
                [STACK],
            ),
            "payments-api",
            Severity.WARNING,
            "CloudFormation stack operation failed or rolled back",
        ),
        (
            documented(
                "aws.cloudformation",
                "CloudFormation Stack Status Change",
                {"stack-id": STACK, "status-details": {"status": "UPDATE_COMPLETE"}},
                [STACK],
            ),
            "payments-api",
            Severity.CLEAR,
            "CloudFormation stack operation failed or rolled back",
        ),
        (
            documented(
                "aws.datasync", "DataSync Task Execution State Change", {"State": "ERROR"}, [EXECUTION]
            ),
            "task-0abc",
            Severity.MINOR,
            "DataSync task execution failed",
        ),
        (
            documented(
                "aws.cloudwatch",
                "CloudWatch Alarm Configuration Change",
                {"alarmName": "api-5xx", "operation": "delete"},
                ["arn:aws:cloudwatch:eu-west-1:111122223333:alarm:api-5xx"],
            ),
            "api-5xx",
            Severity.WARNING,
            "CloudWatch alarm api-5xx configuration: delete",
        ),
    ],
    ids=["stack-rolled-back", "stack-updated-clears", "datasync-error", "alarm-deleted"],
)
def test_families_without_a_real_sample_follow_their_documented_shape(
    event: Any, resource: str, severity: Severity, summary: str
) -> None:
    # The node is the stack / task, never the per-run stack uuid or execution id.
    result = map_event(event)
    assert result.mapped_by.startswith("builtin.yaml entry")
    (alert,) = result.alerts
    assert (alert.resource, alert.severity, alert.summary) == (resource, severity, summary)


def test_chime_voice_connector_streams_are_filtered_unless_failed() -> None:
    # The documented detail of Chime VoiceConnector Streaming Status (no real sample in ../shared/events).
    def stream(status: str) -> Any:
        return documented(
            "aws.chime",
            "Chime VoiceConnector Streaming Status",
            {
                "callId": "1112-2222-4333",
                "direction": "Outbound",
                "voiceConnectorId": "abcdef1ghij2klmno3pqr4",
                "streamingStatus": status,
            },
            [],
        )

    assert map_event(stream("STARTED")).status is MapStatus.FILTERED
    assert map_event(stream("ENDED")).status is MapStatus.FILTERED
    (alert,) = map_event(stream("FAILED")).alerts
    assert (alert.resource, alert.severity, alert.fields["call_id"]) == (
        "abcdef1ghij2klmno3pqr4",
        Severity.MINOR,
        "1112-2222-4333",
    )


@pytest.mark.parametrize("protocol", ["SFTP", "FTPS", "FTP"])
def test_transfer_family_failures_are_alerts_and_completions_are_filtered(protocol: str) -> None:
    # The documented detail of the server file events (no real sample in ../shared/events).
    detail = {
        "status-code": "FAILED",
        "failure-code": "PARTIAL_UPLOAD",
        "failure-message": "Connection reset",
        "protocol": protocol,
        "server-id": "s-1234567890abcdef0",
        "username": "partner-a",
        "file-path": "/bucket/in/orders.csv",
    }
    failed = documented("aws.transfer", f"{protocol} Server File Upload Failed", detail, [])
    done = documented(
        "aws.transfer", f"{protocol} Server File Upload Completed", {**detail, "status-code": "COMPLETED"}, []
    )
    (alert,) = map_event(failed).alerts
    assert (alert.resource, alert.severity, alert.summary) == (
        "s-1234567890abcdef0",
        Severity.MINOR,
        f"Transfer Family {protocol} file upload failed",
    )
    assert alert.fields["failure_code"] == "PARTIAL_UPLOAD"
    assert map_event(done).status is MapStatus.FILTERED
