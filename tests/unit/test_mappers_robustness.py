"""No family mapper raises on odd shapes of its detail.

The registry would catch an exception and fall back to the generic mapping, which hides the bug; so
here each registered mapper is called directly with details built from the keys the mappers read,
holding values of any JSON type (null where an object is expected, a string where a list is...).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.alert import Filtered
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.mappers.generic import generic
from handler.mappers.organizations import changes_account_directory
from handler.mappers.registry import ANY_SOURCE, lookup, registered_keys

pytestmark = pytest.mark.unit

# Keys the mappers read, so that generated details reach their branches.
KEYS = st.sampled_from(
    [
        "eventName",
        "eventSource",
        "userIdentity",
        "type",
        "arn",
        "userName",
        "invokedBy",
        "sessionContext",
        "sessionIssuer",
        "readOnly",
        "errorCode",
        "requestParameters",
        "responseElements",
        "serviceEventDetails",
        "additionalEventData",
        "MFAUsed",
        "ConsoleLogin",
        "instancesSet",
        "items",
        "instanceId",
        "bucketName",
        "resources",
        "ARN",
        "findings",
        "Id",
        "Title",
        "Severity",
        "Label",
        "Normalized",
        "Workflow",
        "Status",
        "RecordState",
        "Compliance",
        "Resources",
        "AwsAccountId",
        "severity",
        "title",
        "service",
        "archived",
        "resource",
        "resourceType",
        "instanceDetails",
        "additionalInfo",
        "sample",
        "state",
        "status",
        "value",
        "instance-id",
        "instance_id",
        "configurationItem",
        "configurationItemDiff",
        "changeType",
        "newEvaluationResult",
        "complianceType",
        "affectedEntities",
        "entityValue",
        "statusCode",
        "eventTypeCategory",
        "EventCategories",
        "SourceArn",
        "Message",
        "containers",
        "exitCode",
        "stopCode",
        "lastStatus",
        "group",
        "reason",
        "alarmName",
        "snapshots",
        "source",
        "result",
        "event",
        "principal",
        "isPublic",
        "accountId",
        "account",
        "organizationalUnits",
        "guardrails",
        "trigger",
        "risk",
        "AutoScalingGroupName",
        "StatusMessage",
        "pipeline",
        "stage",
        "stateMachineArn",
        "resourceArn",
        "scanStatus",
        "finding-severity-counts",
        "key-id",
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
DETAILS = st.dictionaries(KEYS, VALUES, max_size=8)
RESOURCES = st.lists(st.text(max_size=30), max_size=2).map(tuple)


def envelope_for(key: tuple[str, str], detail: dict[str, Any], resources: tuple[str, ...]) -> Envelope:
    source = "aws.example" if key[0] == ANY_SOURCE else key[0]
    return Envelope(source, key[1], detail, resources=resources)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(registered_keys()), detail=DETAILS, resources=RESOURCES)
def test_registered_mappers_never_raise(
    key: tuple[str, str], detail: dict[str, Any], resources: tuple[str, ...]
) -> None:
    envelope = envelope_for(key, detail, resources)
    mapper = lookup(envelope)
    assert mapper is not None

    produced = mapper(envelope)  # an exception here fails the test

    assert isinstance(produced, Filtered) or len(produced) >= 1
    assert isinstance(changes_account_directory(envelope), bool)


@settings(max_examples=60, deadline=None, database=None)
@given(source=st.text(min_size=1, max_size=20), detail_type=st.text(min_size=1, max_size=40), detail=DETAILS)
def test_generic_mapping_gives_one_alert_for_any_envelope(
    source: str, detail_type: str, detail: dict[str, Any]
) -> None:
    produced = generic(Envelope(source, detail_type, detail))

    assert not isinstance(produced, Filtered)
    (alert,) = produced
    assert alert.summary
    assert map_event(Envelope(source, detail_type, detail)).alerts
