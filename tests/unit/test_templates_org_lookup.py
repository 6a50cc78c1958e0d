"""The management account's lookup role: read-only Organizations, trusted by the central function only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
READ_ONLY_LOOKUPS = {
    "organizations:ListAccounts",
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "organizations:ListParents",
    "organizations:DescribeAccount",
    "organizations:DescribeOrganization",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListTagsForResource",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / "central" / "org-lookup-role.yaml").read_text())
    assert not errors, errors
    return loaded


def test_parameters_and_outputs_of_the_contract(template: dict[str, Any]) -> None:
    assert {"CentralFunctionRoleArn", "LookupRoleName", "MemberStackSetName"} <= set(template["Parameters"])
    assert template["Parameters"]["MemberStackSetName"]["Default"] == "events2panther-member"
    assert template["Parameters"]["LookupRoleName"]["Default"] == "events2panther-org-lookup"
    assert set(template["Outputs"]) == {"LookupRoleArn"}


def test_the_role_is_named_as_the_central_stack_expects(template: dict[str, Any]) -> None:
    (role,) = template["Resources"].values()
    assert role["Type"] == "AWS::IAM::Role"
    assert role["Properties"]["RoleName"] == {"Ref": "LookupRoleName"}
    central, errors = decode_str((ROOT / "central" / "template.yaml").read_text())
    assert not errors
    assert (
        central["Parameters"]["LookupRoleName"]["Default"]
        == template["Parameters"]["LookupRoleName"]["Default"]
    )


def test_only_the_central_function_and_the_directory_refresh_may_assume_it(template: dict[str, Any]) -> None:
    (role,) = template["Resources"].values()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {
            "AWS": [
                {"Ref": "CentralFunctionRoleArn"},
                {"Fn::If": ["HasRefresher", {"Ref": "DirectoryRefresherRoleArn"}, {"Ref": "AWS::NoValue"}]},
            ]
        },
        "Action": "sts:AssumeRole",
    }


def test_it_can_only_read_the_organisation(template: dict[str, Any]) -> None:
    (role,) = template["Resources"].values()
    props = role["Properties"]
    assert "ManagedPolicyArns" not in props
    granted = [s for policy in props["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in granted)
    actions = {a for s in granted for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # The coverage watchdog's two reads besides Organizations: the member StackSet's instances (that
    # StackSet only) and the regions enabled per account.
    assert actions == READ_ONLY_LOOKUPS | {"cloudformation:ListStackInstances", "account:ListRegions"}
    (instances,) = [s for s in granted if s["Action"] == "cloudformation:ListStackInstances"]
    assert instances["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stackset/${MemberStackSetName}:*"
    }
