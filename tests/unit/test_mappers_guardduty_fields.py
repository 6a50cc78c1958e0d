"""GuardDuty: every field the mapper emits, on real samples, and each branch of the resource name and
the summary (GuardDuty API reference, Resource: the resource types and where each names its resource).

Derived variants that exist as files are in tests/events/guardduty (marked `derived-from:` in
MANIFEST.tsv); the smaller ones below change one documented key of a real sample's finding.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from handler.envelope import Envelope, envelope_from_text
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).parents[1] / "events" / "guardduty"
CONSOLE = "https://console.aws.amazon.com/guardduty/home?region={region}#/findings?fId={finding_id}"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def only_alert(raw: dict[str, Any]) -> Any:
    result = map_event(envelope_from_text(json.dumps(raw)))
    assert len(result.alerts) == 1
    return result.alerts[0]


def with_detail(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a sample with keys of its finding replaced (None removes the key)."""
    derived = copy.deepcopy(raw)
    for key, value in changes.items():
        if value is None:
            derived["detail"].pop(key, None)
        else:
            derived["detail"][key] = value
    return derived


# ---------------------------------------------------------------------------------------------
# Every field, on real samples (values read from the sample files by hand)


def test_every_field_of_the_real_legacy_list_sample() -> None:
    # GIVEN OpenAnswers' sample: a legacy findings list with an EC2 instance finding of account
    # 123456789012 seen from 111122223333, marked as a sample finding
    alert = only_alert(sample("legacy-findings-list.json"))

    arn = (
        "arn:aws:guardduty:eu-west-1:123456789012:detector/eeb009602d84f681a46d57e6775a83a7"
        "/finding/74b7d2599b228a6564523732e2b8757c"
    )
    assert alert.summary == (
        "[SAMPLE] EC2 instance i-99999999 is behaving in a manner that may indicate it is being used to"
        " perform a Denial of Service (DoS) attack using TCP protocol in account 123456789012"
    )
    assert (alert.severity, alert.tag, alert.resource, alert.resource_arn) == (
        Severity.MAJOR,
        "GuardDuty",
        "i-99999999",
        "",
    )
    assert (alert.identifier, alert.external_id) == (f"{arn}:4", arn)
    assert dict(alert.fields) == {
        "finding_type": "Backdoor:EC2/DenialOfService.Tcp",
        "finding_id": "74b7d2599b228a6564523732e2b8757c",
        "finding_account_id": "123456789012",
        "guardduty_severity": "8",
        "guardduty_level": "High",
        "resource_type": "Instance",
        "sample": "true",
        "console_url": CONSOLE.format(region="eu-west-1", finding_id="74b7d2599b228a6564523732e2b8757c"),
    }


def test_every_field_of_the_real_high_sample_named_from_its_affected_resources() -> None:
    # GIVEN panther-analysis's finding: no `resource`, the role in awsApiCallAction.affectedResources
    alert = only_alert(sample("high.json"))

    arn = (
        "arn:aws:guardduty:us-west-2:123456789012:detector/111111bbbbbbbbbb5555555551111111"
        "/finding/90b82273685661b9318f078d0851fe9a"
    )
    assert alert.resource == "IAMRole"
    assert (alert.identifier, alert.external_id) == (f"{arn}:4", arn)
    # The console link uses the finding's own region (detail.region), not the ARN's.
    assert dict(alert.fields) == {
        "finding_type": "PrivilegeEscalation:IAMUser/AdministrativePermissions",
        "finding_id": "eeb88ab56556eb7771b266670dddee5a",
        "finding_account_id": "123456789012",
        "guardduty_severity": "8",
        "guardduty_level": "High",
        "console_url": CONSOLE.format(region="us-east-1", finding_id="eeb88ab56556eb7771b266670dddee5a"),
    }


def test_every_field_of_the_real_attack_sequence_sample() -> None:
    alert = only_alert(sample("critical-attack-sequence.json"))

    assert alert.resource == ""
    assert (
        alert.summary
        == "Potential credential compromise of IAMUser/john_doe indicated by a sequence of actions"
    )
    assert dict(alert.fields) == {
        "finding_type": "AttackSequence:IAM/CompromisedCredentials",
        "finding_id": "8c258d654378414b9bc26f61a93eb816",
        "finding_account_id": "123456789012",
        "guardduty_severity": "9",
        "guardduty_level": "Critical",
        "resource_type": "AttackSequence",
        "console_url": CONSOLE.format(region="us-east-1", finding_id="8c258d654378414b9bc26f61a93eb816"),
    }


def test_an_archived_real_finding_says_so_in_its_fields() -> None:
    alert = only_alert(sample("high-archived.json"))

    assert alert.severity is Severity.CLEAR
    assert alert.fields["archived"] == "true"
    assert alert.fields["guardduty_level"] == "High"  # the level the finding had, for the console rules


# ---------------------------------------------------------------------------------------------
# Where each resource type names its resource (derived from the real high.json finding)


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ({"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}}, "i-0abc"),
        ({"resourceType": "AccessKey", "accessKeyDetails": {"userName": "deploy-bot"}}, "deploy-bot"),
        ({"resourceType": "EKSCluster", "eksClusterDetails": {"name": "payments-eks"}}, "payments-eks"),
        ({"resourceType": "ECSCluster", "ecsClusterDetails": {"name": "payments-ecs"}}, "payments-ecs"),
        ({"resourceType": "Container", "containerDetails": {"name": "api"}}, "api"),
        ({"resourceType": "RDSDBInstance", "rdsDbInstanceDetails": {"dbInstanceIdentifier": "db-1"}}, "db-1"),
        (
            {"resourceType": "RDSLimitlessDB", "rdsLimitlessDbDetails": {"dbClusterIdentifier": "lim-1"}},
            "lim-1",
        ),
        ({"resourceType": "Lambda", "lambdaDetails": {"functionName": "export"}}, "export"),
        # S3 findings list the buckets; the first one with a name is the resource.
        (
            {"resourceType": "S3Bucket", "s3BucketDetails": [{"arn": "x"}, {"name": "b-2"}, {"name": "b-3"}]},
            "b-2",
        ),
        # A kind whose own details are empty falls back to the buckets.
        ({"resourceType": "Lambda", "lambdaDetails": {}, "s3BucketDetails": [{"name": "b-1"}]}, "b-1"),
    ],
)
def test_each_resource_type_is_named_where_guardduty_puts_its_name(
    resource: dict[str, Any], name: str
) -> None:
    raw = with_detail(sample("high.json"), resource=resource, title="Something happened.")

    alert = only_alert(raw)

    assert alert.resource == name
    assert alert.summary == f"Something happened ({name})"
    assert alert.fields["resource_type"] == resource["resourceType"]


@pytest.mark.parametrize(
    ("affected", "name"),
    [
        ({"AWS::IAM::Role": "arn:aws:iam::123456789012:role/service-role/deployer"}, "deployer"),
        ({"AWS::S3::Bucket": "payments-exports"}, "payments-exports"),
        ({"AWS::IAM::Role": "", "AWS::S3::Bucket": "second"}, "second"),
    ],
)
def test_affected_resources_name_the_last_path_segment_of_the_first_non_empty(
    affected: dict[str, str], name: str
) -> None:
    raw = sample("high.json")
    raw["detail"]["service"]["action"]["awsApiCallAction"]["affectedResources"] = affected

    assert only_alert(raw).resource == name


def test_a_resource_named_in_the_title_is_not_repeated() -> None:
    raw = with_detail(
        sample("high.json"),
        title="Unprotected port on EC2 instance i-0abc is being probed.",
        resource={"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
    )

    assert only_alert(raw).summary == "Unprotected port on EC2 instance i-0abc is being probed"


# ---------------------------------------------------------------------------------------------
# Fallbacks


def test_a_finding_without_title_is_summarised_by_its_type_then_by_a_default() -> None:
    untitled = with_detail(sample("critical-attack-sequence.json"), title=None)
    neither = with_detail(sample("critical-attack-sequence.json"), title=None, type=None)

    assert only_alert(untitled).summary == "AttackSequence:IAM/CompromisedCredentials"
    assert only_alert(neither).summary == "GuardDuty finding"
    assert "finding_type" not in only_alert(neither).fields


def test_only_trailing_dots_are_trimmed_from_the_title() -> None:
    raw = with_detail(sample("critical-attack-sequence.json"), title="Access from 198.51.100.7 to i.e. X..")

    assert only_alert(raw).summary == "Access from 198.51.100.7 to i.e. X"
    assert only_alert(with_detail(raw, title="Seen from host X.")).summary == "Seen from host X"


def test_without_an_arn_the_finding_id_is_the_identifier_and_external_id() -> None:
    raw = with_detail(sample("critical-attack-sequence.json"), arn=None)

    alert = only_alert(raw)

    assert alert.identifier == "8c258d654378414b9bc26f61a93eb816:5"
    assert alert.external_id == "8c258d654378414b9bc26f61a93eb816"


def test_without_a_finding_id_there_is_no_console_link() -> None:
    alert = only_alert(with_detail(sample("critical-attack-sequence.json"), id=None))

    assert "finding_id" not in alert.fields
    assert "console_url" not in alert.fields
    assert alert.identifier is not None and alert.identifier.endswith("8c258d654378414b9bc26f61a93eb816:5")


def test_without_its_own_region_the_console_link_uses_the_envelopes() -> None:
    raw = with_detail(sample("critical-attack-sequence.json"), region=None)
    raw["region"] = "ap-southeast-2"

    alert = only_alert(raw)

    assert alert.fields["console_url"] == CONSOLE.format(
        region="ap-southeast-2", finding_id="8c258d654378414b9bc26f61a93eb816"
    )


def test_the_console_link_uses_the_findings_region_over_the_envelopes() -> None:
    # GIVEN a finding of us-east-1 delivered in an envelope of another region
    raw = sample("critical-attack-sequence.json")
    raw["region"] = "eu-central-1"

    alert = only_alert(raw)

    assert alert.fields["console_url"] == CONSOLE.format(
        region="us-east-1", finding_id="8c258d654378414b9bc26f61a93eb816"
    )


def test_a_finding_with_a_type_is_the_finding_even_with_a_findings_key() -> None:
    # GIVEN a real finding (it has a type) that also carries a `findings` key
    raw = sample("critical-attack-sequence.json")
    raw["detail"]["findings"] = [{"type": "Other:Thing/X", "title": "Another finding", "severity": 2}]

    alert = only_alert(raw)

    assert (
        alert.summary
        == "Potential credential compromise of IAMUser/john_doe indicated by a sequence of actions"
    )
    assert alert.severity is Severity.CRITICAL


def test_a_finding_without_a_score_has_no_level() -> None:
    alert = only_alert(with_detail(sample("critical-attack-sequence.json"), severity=None))

    assert alert.severity is Severity.INDETERMINATE
    assert "guardduty_level" not in alert.fields
    assert "guardduty_severity" not in alert.fields


def test_a_finding_of_the_envelopes_own_account_has_no_suffix() -> None:
    raw = sample("legacy-findings-list.json")
    raw["account"] = raw["detail"]["findings"][0]["accountId"]

    alert = only_alert(raw)

    assert not alert.summary.endswith("in account 123456789012")
    assert alert.fields["finding_account_id"] == "123456789012"


def test_the_envelope_view_of_a_finding_without_any_shape_still_maps() -> None:
    alert = map_event(Envelope(source="aws.guardduty", detail_type="GuardDuty Finding", detail={})).alerts[0]

    assert (alert.summary, alert.severity, alert.identifier, alert.external_id) == (
        "GuardDuty finding",
        Severity.INDETERMINATE,
        None,
        "",
    )
    assert dict(alert.fields) == {}
