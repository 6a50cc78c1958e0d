"""Security Hub: every field the mapper emits, on real samples, and each fallback of the ASFF reading
(title, severity, resource, control id), with derived variants of the real samples.

ASFF field names follow the AWS Security Hub finding format; derived files are in
tests/events/securityhub (marked `derived-from:` in MANIFEST.tsv).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from handler.alert import MapStatus
from handler.envelope import envelope_from_text
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).parents[1] / "events" / "securityhub"
CONTROL_ID = (
    "arn:aws:securityhub:us-east-2:123456789012:subscription/aws-foundational-security-best-practices"
    "/v/1.0.0/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
)
TRAIL = "arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def alerts_of(raw: dict[str, Any]) -> list[Any]:
    result = map_event(envelope_from_text(json.dumps(raw)))
    assert result.status is MapStatus.MAPPED
    return list(result.alerts)


def control(**changes: Any) -> dict[str, Any]:
    """The real control-failed sample with keys of its finding replaced (None removes the key)."""
    raw = copy.deepcopy(sample("control-failed.json"))
    finding = raw["detail"]["findings"][0]
    for key, value in changes.items():
        if value is None:
            finding.pop(key, None)
        else:
            finding[key] = value
    return raw


def only(raw: dict[str, Any]) -> Any:
    [alert] = alerts_of(raw)
    return alert


# ---------------------------------------------------------------------------------------------
# Every field, on real samples (values read from the sample files by hand)


def test_every_field_of_the_real_control_finding() -> None:
    alert = only(sample("control-failed.json"))

    assert (
        alert.summary
        == "CloudTrail.2 CloudTrail should have encryption at-rest enabled: AWSMacieTrail-DO-NOT-EDIT"
    )
    assert (alert.severity, alert.tag, alert.resource, alert.resource_arn) == (
        Severity.MINOR,
        "SecurityHub",
        "AWSMacieTrail-DO-NOT-EDIT",
        TRAIL,
    )
    assert (alert.identifier, alert.external_id) == (f"{CONTROL_ID}:3", CONTROL_ID)
    assert dict(alert.fields) == {
        "finding_type": (
            "Software and Configuration Checks/Industry and Regulatory Standards"
            "/AWS-Foundational-Security-Best-Practices"
        ),
        "finding_account_id": "123456789012",
        "product_name": "Security Hub",
        "severity_label": "MEDIUM",
        "compliance_status": "FAILED",
        "control_id": "CloudTrail.2",
        "workflow_status": "NEW",
        "record_state": "ACTIVE",
        "resource_type": "AwsCloudTrailTrail",
        "remediation_url": "https://docs.aws.amazon.com/console/securityhub/CloudTrail.2/remediation",
    }


def test_every_field_of_the_real_guardduty_product_finding() -> None:
    # GIVEN the GuardDuty guide's finding as Security Hub imports it: no ProductName, no Compliance
    alert = only(sample("guardduty-product.json"))

    finding_id = (
        "arn:aws::guardduty:us-east-1:193043430472:detector/d4b040365221be2b54a6264dc9a4bc64"
        "/finding/46ba0ac2845071e23ccdeb2ae03bfdea"
    )
    assert (
        alert.summary == "199.241.229.197 is performing SSH brute force attacks against i-0c10c2c7863d1a356"
    )
    assert (alert.resource, alert.resource_arn) == (
        "i-0c10c2c7863d1a356",
        "arn:aws::ec2:us-east-1:193043430472:instance/i-0c10c2c7863d1a356",
    )
    assert (alert.identifier, alert.external_id) == (f"{finding_id}:3", finding_id)
    assert dict(alert.fields) == {
        "finding_type": "TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce",
        "finding_account_id": "193043430472",
        # No ProductName: the product is named from the ProductArn (product/aws/guardduty).
        "product_name": "guardduty",
        "severity_label": "MEDIUM",
        "workflow_status": "NEW",
        "record_state": "ACTIVE",
        "resource_type": "AwsEc2Instance",
    }


def test_the_account_itself_is_no_resource_but_its_type_and_id_are_kept() -> None:
    alert = only(sample("account-resource.json"))

    assert alert.resource == ""
    assert alert.resource_arn == "AWS::::Account:123456789012"
    assert alert.summary == "CT.CloudTrail.2 CloudTrail should have encryption at-rest enabled"
    assert alert.fields["resource_type"] == "AwsAccount"


# ---------------------------------------------------------------------------------------------
# Fallbacks and branches, each on a variant of the real control finding


def test_without_a_title_the_generator_id_then_a_default_is_the_summary() -> None:
    no_title = only(control(Title=None))
    neither = only(control(Title=None, GeneratorId=None))

    assert (
        no_title.summary
        == "aws-foundational-security-best-practices/v/1.0.0/CloudTrail.2: AWSMacieTrail-DO-NOT-EDIT"
    )
    assert neither.summary == "Security Hub finding: AWSMacieTrail-DO-NOT-EDIT"


def test_only_trailing_dots_are_trimmed_from_the_title() -> None:
    alert = only(control(Title="S3.8 Buckets e.g. logs should block public access..", Resources=[]))
    upper = only(control(Title="Devices should run TLS 1.2 on X.", Resources=[]))

    assert alert.summary == "S3.8 Buckets e.g. logs should block public access"
    assert upper.summary == "Devices should run TLS 1.2 on X"


def test_a_resource_named_in_the_title_is_not_repeated() -> None:
    alert = only(control(Title="Trail AWSMacieTrail-DO-NOT-EDIT is not encrypted."))

    assert alert.summary == "Trail AWSMacieTrail-DO-NOT-EDIT is not encrypted"


def test_a_finding_without_resources_has_no_resource_fields() -> None:
    alert = only(control(Resources=None))

    assert (alert.resource, alert.resource_arn) == ("", "")
    assert "resource_type" not in alert.fields
    assert alert.summary == "CloudTrail.2 CloudTrail should have encryption at-rest enabled"


def test_the_first_resource_with_an_id_is_the_resource() -> None:
    resources = [
        {"Type": "AwsS3Bucket"},
        {"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::payments-exports"},
        {"Type": "AwsKmsKey", "Id": "arn:aws:kms:us-east-2:123456789012:key/k-1"},
    ]

    alert = only(control(Resources=resources))

    assert (alert.resource, alert.resource_arn) == ("payments-exports", "arn:aws:s3:::payments-exports")
    assert alert.fields["resource_type"] == "AwsS3Bucket"


@pytest.mark.parametrize(
    ("normalized", "label", "severity"),
    [
        (0, "INFORMATIONAL", Severity.INDETERMINATE),
        (1, "LOW", Severity.WARNING),
        # Below Security Hub's documented range: no label, and an indeterminate alert.
        (-1, None, Severity.INDETERMINATE),
        ("not a number", None, Severity.INDETERMINATE),
    ],
)
def test_normalized_gives_the_label_field_and_the_severity(
    normalized: Any, label: str | None, severity: Severity
) -> None:
    alert = only(control(Severity={"Normalized": normalized}))

    assert alert.severity is severity
    assert alert.fields.get("severity_label") == label


def test_a_label_in_any_case_is_sent_upper_case() -> None:
    alert = only(control(Severity={"Label": "high", "Normalized": 10}))

    assert alert.severity is Severity.MAJOR
    assert alert.fields["severity_label"] == "HIGH"


def test_without_a_security_control_id_the_product_fields_control_id_is_used() -> None:
    raw = control()
    del raw["detail"]["findings"][0]["Compliance"]["SecurityControlId"]
    raw["detail"]["findings"][0]["ProductFields"]["ControlId"] = "CloudTrail.9"

    assert only(raw).fields["control_id"] == "CloudTrail.9"


def test_a_security_control_id_wins_over_the_product_fields_one() -> None:
    raw = control()
    raw["detail"]["findings"][0]["ProductFields"]["ControlId"] = "PCI.CloudTrail.1"

    assert only(raw).fields["control_id"] == "CloudTrail.2"


def test_without_any_type_there_is_no_finding_type_and_the_first_type_is_used() -> None:
    assert "finding_type" not in only(control(Types=None)).fields
    assert only(control(Types=["", "Effects/Data Exposure", "TTPs"])).fields["finding_type"] == (
        "Effects/Data Exposure"
    )


def test_the_sample_mark_is_read_from_the_finding() -> None:
    assert only(control(Sample=True)).summary.startswith("[SAMPLE] CloudTrail.2 ")
    assert not only(control(Sample=False)).summary.startswith("[SAMPLE]")


def test_a_finding_of_the_envelopes_own_account_has_no_suffix_and_another_has() -> None:
    own = only(control())
    other = only(control(AwsAccountId="444455556666"))

    assert not own.summary.endswith("in account 123456789012")
    assert other.summary.endswith(": AWSMacieTrail-DO-NOT-EDIT in account 444455556666")
    assert other.fields["finding_account_id"] == "444455556666"


def test_a_resolved_finding_says_why_it_cleared_and_keeps_its_workflow_status() -> None:
    alert = only(control(Workflow={"Status": "SUPPRESSED"}))

    assert alert.severity is Severity.CLEAR
    assert alert.fields["workflow_status"] == "SUPPRESSED"
    assert alert.fields["clear_reason"] == "workflow SUPPRESSED"
    assert alert.identifier == f"{CONTROL_ID}:0"


def test_without_remediation_there_is_no_remediation_url() -> None:
    assert "remediation_url" not in only(control(Remediation=None)).fields
