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


FORWARDER_PREFIX = "events2panther-"
FUNCTION_ROLE = "events2panther-central-FunctionRole-AB12CD34"


def is_own_call(event: Event, own: frozenset[str] = frozenset()) -> bool:
    """Made by a session of one of the forwarder's roles (all are named events2panther-...)."""
    detail = event.get("detail")
    if event.get("detail-type") != API_CALL or not isinstance(detail, dict):
        return False
    issuer = ((detail.get("userIdentity") or {}).get("sessionContext") or {}).get("sessionIssuer") or {}
    return str(issuer.get("userName", "")).startswith(FORWARDER_PREFIX)


KMS_DATA_KEY_CALLS = frozenset(
    {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"}
)


def is_noise(event: Event) -> bool:
    """The default pattern's noise filters: AWS services' own AssumeRole and KMS data-key calls."""
    detail = event.get("detail")
    if event.get("detail-type") != API_CALL or not isinstance(detail, dict):
        return False
    identity = detail.get("userIdentity") or {}
    by_service = identity.get("type") == "AWSService"
    name = detail.get("eventName")
    if name == "AssumeRole":
        return by_service
    return name in KMS_DATA_KEY_CALLS and (by_service or "invokedBy" in identity)


def as_forwarder(event: Event, role: str = FUNCTION_ROLE, account: str = "111122223333") -> Event:
    """The same record, made by a session of the forwarder's role `role`."""
    event = copy.deepcopy(event)
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:events2panther",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/events2panther",
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            }
        },
    }
    return event


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
    members = [
        (name, event)
        for name, event in samples
        if FAMILIES[family](event) and not is_own_call(event) and not is_noise(event)
    ]
    assert members, f"no sample of {family}: the test would prove nothing"
    missed = [name for name, event in members if not pattern.matches_event(event)]
    assert missed == []


def test_noise_filters_drop_only_aws_services_own_calls(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    # Measured on the shared corpus: the noise filters take out AWS services' AssumeRole and KMS data-key
    # calls, and nothing a person or an application made.
    api = [event for _, event in samples if event.get("detail-type") == API_CALL]
    noise = [event for event in api if is_noise(event)]
    assert noise, "no noise sample: the test would prove nothing"
    assert not any(pattern.matches_event(event) for event in noise)
    # The same records made by a person (the service identity replaced) pass.
    for event in noise:
        person = copy.deepcopy(event)
        person["detail"]["userIdentity"] = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}
        assert pattern.matches_event(person)
    # A KMS data-key call an AWS service makes on a role's behalf (invokedBy) is noise; made by the role
    # itself it is forwarded.
    decrypt = sample_of(samples, "aws.kms", "Decrypt")
    through_s3 = copy.deepcopy(decrypt)
    through_s3["detail"]["userIdentity"]["invokedBy"] = "s3.amazonaws.com"
    assert pattern.matches_event(decrypt)
    assert not pattern.matches_event(through_s3)


def test_the_documented_pattern_without_noise_filters_is_the_default_minus_them(
    pattern: EventPattern, raw_pattern: str, samples: list[tuple[str, Event]]
) -> None:
    variant_text = (ROOT / "member" / "patterns" / "no-noise-filters.json").read_text()
    variant = EventPattern.load(variant_text)
    assert len(json.dumps(json.loads(variant_text), separators=(",", ":"))) <= PATTERN_MAX_CHARS
    for _, event in samples:
        expected = pattern.matches_event(event) or (is_noise(event) and not is_own_call(event))
        assert variant.matches_event(event) is expected
        assert not variant.matches_event(as_forwarder(event)) or event.get("detail-type") != API_CALL


def test_pattern_leaves_out_everything_else(pattern: EventPattern, samples: list[tuple[str, Event]]) -> None:
    others = [
        (name, event) for name, event in samples if not any(member(event) for member in FAMILIES.values())
    ]
    # Custom and partner sources, S3 object events, scheduled events (the long tail is now forwarded).
    assert len(others) > 20
    taken = [name for name, event in others if pattern.matches_event(event)]
    assert taken == []


def test_a_human_reading_a_secret_is_forwarded_the_forwarder_reading_its_token_is_not(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    # GIVEN a real GetSecretValue made by a person (an SSO session)
    event = next(
        e
        for _, e in samples
        if e.get("source") == "aws.secretsmanager"
        and e["detail"].get("eventName") == "GetSecretValue"
        and (e["detail"].get("userIdentity") or {}).get("sessionContext")
    )
    # THEN it is forwarded, and the same record made by the forwarder's function role is not
    assert pattern.matches_event(event)
    assert not pattern.matches_event(as_forwarder(event))


def test_a_human_assume_role_from_another_account_is_forwarded(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    # Real AssumeRole samples made by people and other accounts (IAM users, AWSAccount callers).
    people = [
        e
        for _, e in samples
        if e.get("source") == "aws.sts"
        and e["detail"].get("eventName") == "AssumeRole"
        and (e["detail"].get("userIdentity") or {}).get("type") in {"IAMUser", "AWSAccount"}
    ]
    assert any((e["detail"]["userIdentity"]).get("type") == "AWSAccount" for e in people)
    assert people and all(pattern.matches_event(e) for e in people)
    # ... and the lookup role's own sessions are not.
    assert not any(pattern.matches_event(as_forwarder(e, "events2panther-org-lookup")) for e in people)


def test_real_samples_of_the_forwarders_calls_are_forwarded_unless_the_forwarder_made_them(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    own = forwarder_calls()
    named = [
        (name, event)
        for name, event in samples
        if event.get("detail-type") == API_CALL and event["detail"].get("eventName") in own
    ]
    # GetSecretValue, Decrypt, AssumeRole and DescribeAccount at least exist as real samples.
    assert {event["detail"]["eventName"] for _, event in named} >= {
        "GetSecretValue",
        "Decrypt",
        "AssumeRole",
        "DescribeAccount",
    }
    # Made by a forwarder role: none is forwarded (the feedback-loop guard is the caller).
    assert [name for name, event in named if pattern.matches_event(as_forwarder(event))] == []
    # As recorded (other principals): all are forwarded but AWS services' own AssumeRole (noise filter).
    kept_out = [
        (event["detail"]["eventName"], event["detail"]["userIdentity"].get("type"))
        for _, event in named
        if not pattern.matches_event(event)
    ]
    assert kept_out == [("AssumeRole", "AWSService")]


def test_none_of_the_forwarders_calls_can_feed_back(
    pattern: EventPattern, samples: list[tuple[str, Event]]
) -> None:
    # A real read-only Organizations record, renamed to each call the forwarder's roles may make, made by
    # each of the forwarder's roles.
    base = sample_of(samples, "aws.organizations", "DescribeAccount")
    own = forwarder_calls()
    assert {"ListAccounts", "ListParents", "ListTagsForResource", "GetSecretValue", "PutEvents"} <= own
    roles = (FUNCTION_ROLE, "events2panther-org-lookup", "events2panther-forwarder-eu-west-1")
    fed_back = []
    for role in roles:
        for name in sorted(own):
            event = as_forwarder(base, role)
            event["detail"]["eventName"] = name
            if pattern.matches_event(event):
                fed_back.append((role, name))
    assert fed_back == []
    # The same calls by the record's own principal (not the forwarder) are forwarded: the guard is who.
    for name in sorted(own):
        event = copy.deepcopy(base)
        event["detail"]["eventName"] = name
        assert pattern.matches_event(event), name


@pytest.mark.parametrize(
    "sample",
    [
        "health/servicequotas-threshold-breach.json",
        "cloudtrail/servicequotas-utilization-breaching-threshold.json",
    ],
)
def test_the_documented_service_quotas_notifications_are_forwarded(
    pattern: EventPattern, sample: str
) -> None:
    # The two Service Quotas events AWS documents (Automatic Management, auto-mgmt-ct-logs page) come as
    # an aws.health "AWS Health Event" and an aws.servicequotas "AWS Service Event via CloudTrail": no
    # new source needs admitting, and a change to the pattern that dropped either would fail here.
    event = json.loads((ROOT / "tests" / "events" / sample).read_text(encoding="utf-8"))
    assert pattern.matches_event(event)
