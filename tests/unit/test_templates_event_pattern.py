"""The member template's default event pattern, tried against real AWS sample events.

Matching uses moto's EventBridge pattern engine (`EventPattern.load(...).matches_event(...)`), which
implements the operators the pattern uses ($or, prefix, anything-but with a list or a suffix).
The families below are the ones the design asks to forward; the forwarder's own calls are derived
from the IAM policies of the three templates, so a new permission that is not left out of the
pattern fails here.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from moto.events.models import EventPattern

from e2p.ops.test_event import TEST_DETAIL_TYPE, TEST_SOURCE
from handler.coverage.names import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT.parent / "shared" / "events"
PATTERN_MAX_CHARS = 2048  # EventBridge quota for one event pattern
API_CALL = "AWS API Call via CloudTrail"
VIA_CLOUDTRAIL = "via CloudTrail"
# Sample kinds that are complete envelopes (see shared/events/README.md).
USABLE_KINDS = {"envelope", "wrapped"}
# The event source mapping invokes the function; CloudTrail names lambda:InvokeFunction "Invoke".
ESM_INVOKE = "Invoke"

Event = dict[str, Any]


def _service(source: str, detail_type_prefix: str = "") -> Callable[[Event], bool]:
    def member(event: Event) -> bool:
        detail_type = str(event.get("detail-type", ""))
        return (
            event.get("source") == source
            and detail_type.startswith(detail_type_prefix)
            and not detail_type.endswith(VIA_CLOUDTRAIL)
        )

    return member


def _cloudtrail(source: str | None = None, detail_type: str | None = None) -> Callable[[Event], bool]:
    def member(event: Event) -> bool:
        event_source = str(event.get("source", ""))
        event_type = str(event.get("detail-type", ""))
        return (
            event_source.startswith("aws.")
            and event_type.endswith(VIA_CLOUDTRAIL)
            and (source is None or event_source == source)
            and (detail_type is None or event_type == detail_type)
        )

    return member


FAMILIES: dict[str, Callable[[Event], bool]] = {
    "GuardDuty": _service("aws.guardduty"),
    "Security Hub (findings, custom actions, insights)": _service("aws.securityhub"),
    "Config": _service("aws.config"),
    "Health": _service("aws.health"),
    "Inspector2": _service("aws.inspector2"),
    "Macie": _service("aws.macie"),
    "Access Analyzer": _service("aws.access-analyzer"),
    "EC2 state, spot, rebalance": _service("aws.ec2", "EC2 "),
    "EBS": _service("aws.ec2", "EBS "),
    "Auto Scaling": _service("aws.autoscaling"),
    "ECS": _service("aws.ecs"),
    "CodePipeline": _service("aws.codepipeline"),
    "RDS": _service("aws.rds"),
    "KMS": _service("aws.kms"),
    "Backup": _service("aws.backup"),
    "CloudWatch alarms": _service("aws.cloudwatch", "CloudWatch Alarm State Change"),
    # The declarative long tail (handler/mappings/builtin.yaml); the others have no sample here.
    "CodeBuild": _service("aws.codebuild"),
    "CodeDeploy": _service("aws.codedeploy"),
    "CodeCommit": _service("aws.codecommit"),
    "ECR": _service("aws.ecr"),
    "Glue": _service("aws.glue"),
    "Systems Manager": _service("aws.ssm"),
    "Trusted Advisor": _service("aws.trustedadvisor"),
    "EMR": _service("aws.emr"),
    "Batch": _service("aws.batch"),
    "SageMaker": _service("aws.sagemaker"),
    "GameLift": _service("aws.gamelift"),
    "Transcribe": _service("aws.transcribe"),
    "Translate": _service("aws.translate"),
    "Server Migration": _service("aws.sms"),
    "OpsWorks": _service("aws.opsworks"),
    "DLM": _service("aws.dlm"),
    "EC2 Fleet": _service("aws.ec2fleet"),
    "EC2 Spot Fleet": _service("aws.ec2spotfleet"),
    "Recycle Bin": _service("aws.rbin"),
    "Tag changes": _service("aws.tag"),
    "Control Tower": _cloudtrail(source="aws.controltower"),
    "sign-in": _cloudtrail(source="aws.signin", detail_type="AWS Console Sign In via CloudTrail"),
    "Organizations": _cloudtrail(source="aws.organizations"),
    "CloudTrail API calls": _cloudtrail(detail_type=API_CALL),
    "CloudTrail service events": _cloudtrail(detail_type="AWS Service Event via CloudTrail"),
}


def load(relative: str) -> dict[str, Any]:
    template, errors = decode_str((ROOT / relative).read_text())
    assert not errors, errors
    return template


def iam_actions(node: Any) -> Iterator[str]:
    """Every action granted by an Allow statement anywhere in a template."""
    if isinstance(node, dict):
        if node.get("Effect") == "Allow" and "Action" in node:
            actions = node["Action"]
            yield from [actions] if isinstance(actions, str) else actions
        for value in node.values():
            yield from iam_actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from iam_actions(value)


@functools.cache
def forwarder_calls() -> frozenset[str]:
    """CloudTrail event names of every call the forwarder (its roles and services) makes."""
    names = {ESM_INVOKE}
    for relative in ("member/template.yaml", "central/template.yaml", "central/org-lookup-role.yaml"):
        template = load(relative)
        roles = {
            name: res
            for name, res in template["Resources"].items()
            if res["Type"] in {"AWS::IAM::Role", "AWS::IAM::Policy"}
        }
        for action in iam_actions(roles):
            if action.startswith("sts:") or ":" not in action or "*" in action:
                continue  # trust policies; wildcards are refused by another test
            names.add(action.split(":", 1)[1])
    names.add("AssumeRole")  # the function assumes the lookup role; EventBridge assumes the target role
    return frozenset(names)


@pytest.fixture(scope="module")
def raw_pattern() -> str:
    return str(load("member/template.yaml")["Parameters"]["EventPattern"]["Default"])


@pytest.fixture(scope="module")
def pattern(raw_pattern: str) -> EventPattern:
    return EventPattern.load(raw_pattern)


@pytest.fixture(scope="module")
def samples() -> list[tuple[str, Event]]:
    manifest = EVENTS / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"the shared sample events are not at {EVENTS}")
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        (row["file"], json.loads((EVENTS / row["file"]).read_text()))
        for row in rows
        if row["kind"] in USABLE_KINDS and not row["dup_of"]
    ]


def is_own_call(event: Event, own: frozenset[str]) -> bool:
    detail = event.get("detail")
    return (
        event.get("detail-type") == API_CALL and isinstance(detail, dict) and detail.get("eventName") in own
    )


def sample_of(samples: list[tuple[str, Event]], source: str, event_name: str) -> Event:
    for _, event in samples:
        if event.get("source") == source and event.get("detail", {}).get("eventName") == event_name:
            return event
    raise AssertionError(f"no {source} {event_name} sample")


def test_pattern_is_json_within_the_eventbridge_limit(raw_pattern: str) -> None:
    assert isinstance(json.loads(raw_pattern), dict)
    assert len(raw_pattern) <= PATTERN_MAX_CHARS


def source_filters(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source":
                yield from value
            else:
                yield from source_filters(value)
    elif isinstance(node, list):
        for value in node:
            yield from source_filters(value)


def test_pattern_takes_aws_sources_only(raw_pattern: str) -> None:
    filters = list(source_filters(json.loads(raw_pattern)))
    assert filters
    # The one exception: `e2p send-test-event`'s own source, matched with its own detail-type only.
    test_branches = [b for b in json.loads(raw_pattern)["$or"] if b["source"] == [TEST_SOURCE]]
    assert test_branches == [{"source": [TEST_SOURCE], "detail-type": [TEST_DETAIL_TYPE]}]
    # And the coverage heartbeat (handler.coverage), likewise with its own detail-type only.
    heartbeat_branches = [b for b in json.loads(raw_pattern)["$or"] if b["source"] == [HEARTBEAT_SOURCE]]
    assert heartbeat_branches == [{"source": [HEARTBEAT_SOURCE], "detail-type": [HEARTBEAT_DETAIL_TYPE]}]
    for item in filters:
        if item in (TEST_SOURCE, HEARTBEAT_SOURCE):
            continue
        if isinstance(item, str):
            assert item.startswith("aws."), item
        else:
            # Only a prefix that is itself an AWS one: "aws." sources are reserved to AWS services.
            assert item == {"prefix": "aws."}
    # Every branch of the $or names its sources, so no branch accepts a custom source.
    for branch in json.loads(raw_pattern)["$or"]:
        assert "source" in branch


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pattern_forwards_every_family(
    family: str, pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    own = forwarder_calls()
    members = [
        (name, event) for name, event in samples if FAMILIES[family](event) and not is_own_call(event, own)
    ]
    assert members, f"no sample of {family}: the test would prove nothing"
    missed = [name for name, event in members if not pattern.matches_event(event)]
    assert missed == []


def test_pattern_leaves_out_everything_else(pattern: EventPattern, samples: list[tuple[str, Event]]) -> None:
    others = [
        (name, event) for name, event in samples if not any(member(event) for member in FAMILIES.values())
    ]
    # Custom and partner sources, S3 object events, scheduled events (the long tail is now forwarded).
    assert len(others) > 20
    taken = [name for name, event in others if pattern.matches_event(event)]
    assert taken == []


def test_real_get_secret_value_event_is_not_forwarded(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    event = sample_of(samples, "aws.secretsmanager", "GetSecretValue")
    assert not pattern.matches_event(event)


def test_real_samples_of_the_forwarders_own_calls_are_not_forwarded(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    own = forwarder_calls()
    found = [(name, event) for name, event in samples if is_own_call(event, own)]
    # GetSecretValue, Decrypt, AssumeRole and DescribeAccount at least exist as real samples.
    assert {event["detail"]["eventName"] for _, event in found} >= {
        "GetSecretValue",
        "Decrypt",
        "AssumeRole",
        "DescribeAccount",
    }
    assert [name for name, event in found if pattern.matches_event(event)] == []


def test_none_of_the_forwarders_calls_can_feed_back(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    # A real read-only Organizations record, renamed to each call the forwarder's roles may make.
    base = sample_of(samples, "aws.organizations", "DescribeAccount")
    own = forwarder_calls()
    assert {"ListAccounts", "ListParents", "ListTagsForResource", "GetSecretValue", "PutEvents"} <= own
    fed_back = []
    for name in sorted(own):
        event = copy.deepcopy(base)
        event["detail"]["eventName"] = name
        if pattern.matches_event(event):
            fed_back.append(name)
    assert fed_back == []
    # The same record under a name the forwarder never calls is forwarded: the exclusion is by name.
    other = copy.deepcopy(base)
    other["detail"]["eventName"] = "CreateAccount"
    assert pattern.matches_event(other)
