"""Contracts of the account directory resources: the member template's alias-reader role, the central
stack's snapshot, schedule and permissions, and the lookup role's trust of the refresher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from handler import constants
from handler.config import load_refresh_settings
from handler.scheduled.app import TASK_MODULES

ROOT = Path(__file__).resolve().parents[2]


def load(relative: str) -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / relative).read_text())
    assert not errors, errors
    return dict(loaded)


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return load("member/template.yaml")


@pytest.fixture(scope="module")
def central() -> dict[str, Any]:
    return load("central/template.yaml")


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_the_alias_reader_role_allows_only_list_account_aliases(member: dict[str, Any]) -> None:
    role = member["Resources"]["AliasReaderRole"]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert [(s["Effect"], s["Action"]) for s in statements] == [("Allow", "iam:ListAccountAliases")]
    # ListAccountAliases takes no resource: "*" is the only Resource IAM accepts for it, and the only "*".
    assert [s["Resource"] for s in statements] == ["*"]
    assert "*" not in strings(role["Properties"]["AssumeRolePolicyDocument"])


def test_the_alias_reader_role_trusts_only_the_refresher(member: dict[str, Any]) -> None:
    (trust,) = member["Resources"]["AliasReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": {"Ref": "AliasReaderPrincipalArn"}}}
    principal = json.dumps(trust["Principal"])
    assert "AliasReaderPrincipalArn" in principal and ":root" in principal  # that account, narrowed by ARN


def test_the_alias_reader_role_is_created_once_per_account_with_a_fixed_name(member: dict[str, Any]) -> None:
    role = member["Resources"]["AliasReaderRole"]
    assert role["Condition"] == "AliasReaderHere"
    assert role["Properties"]["RoleName"] == {"Ref": "AliasRoleName"}
    condition = json.dumps(member["Conditions"]["AliasReaderHere"])
    assert '"AWS::Region"' in condition and '"AliasRoleRegion"' in condition
    assert member["Parameters"]["AliasRoleRegion"]["Default"] == "us-east-1"
    assert member["Parameters"]["AliasRoleName"]["Default"] == central_default("AliasRoleName")


def central_default(name: str) -> str:
    return str(load("central/template.yaml")["Parameters"][name]["Default"])


def test_the_schedule_runs_the_directory_refresh_task(central: dict[str, Any]) -> None:
    rule = central["Resources"]["DirectoryRefreshRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ScheduledFunction", "Arn"]}
    task = json.loads(target["Input"])["task"]
    assert TASK_MODULES[task] == "handler.scheduled.directory_refresh"
    permission = central["Resources"]["DirectoryRefreshPermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["DirectoryRefreshRule", "Arn"]}
    assert permission["Principal"] == "events.amazonaws.com"


def test_the_refresher_may_assume_only_the_lookup_role_and_alias_roles_of_the_organisation(
    central: dict[str, Any],
) -> None:
    policy = central["Resources"]["DirectoryRefreshPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "ScheduledFunctionRole"}]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid["AssumeAliasReaderRoles"]["Condition"] == {
        "StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}
    }
    assert "${AliasRoleName}" in json.dumps(by_sid["AssumeAliasReaderRoles"]["Resource"])
    assert by_sid["ReadAndWriteSnapshot"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    actions = [
        a for s in by_sid.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not any("*" in action for action in actions)


def test_the_forwarder_reads_the_snapshot_and_may_only_invoke_the_refresh(central: dict[str, Any]) -> None:
    policy = central["Resources"]["DirectoryReadPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "FunctionRole"}]
    assert [(s["Action"], s["Resource"]) for s in policy["PolicyDocument"]["Statement"]] == [
        ("s3:GetObject", {"Fn::Sub": "${DirectoryBucket.Arn}/directory/accounts.json.gz"}),
        ("lambda:InvokeFunction", {"Fn::GetAtt": ["ScheduledFunction", "Arn"]}),
    ]
    forwarder = central["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    scheduled = central["Resources"]["ScheduledFunction"]["Properties"]["Environment"]["Variables"]
    assert forwarder[constants.DIRECTORY_SNAPSHOT] == scheduled[constants.DIRECTORY_SNAPSHOT]
    assert forwarder[constants.DIRECTORY_REFRESH_FUNCTION] == {"Ref": "ScheduledFunction"}
    assert forwarder[constants.NODE_NAME] == {"Ref": "NodeName"}
    assert set(central["Parameters"]["NodeName"]["AllowedValues"]) == {"name", "alias", "alias-or-name", "id"}
    optional = {constants.ALIAS_CONCURRENCY, constants.ALIAS_READS_PER_RUN}  # their defaults suffice
    assert set(constants.DIRECTORY_REFRESH_VARIABLES) - optional <= set(scheduled)


def test_the_refresh_accepts_what_the_template_sets() -> None:
    settings = load_refresh_settings(
        {
            constants.DIRECTORY_SNAPSHOT: "s3://bucket-from-stack/directory/accounts.json.gz",
            constants.ORG_LOOKUP_ROLE_ARN: "arn:aws:iam::111122223333:role/events2panther-org-lookup",
            constants.ALIAS_ROLE_NAME: central_default("AliasRoleName"),
            constants.ALIAS_REFRESH_SECONDS: central_default("AliasRefreshSeconds"),
        }
    )
    assert settings.alias_refresh_seconds == 86400


def test_the_lookup_role_trusts_the_refresher_too() -> None:
    lookup = load("central/org-lookup-role.yaml")
    (trust,) = lookup["Resources"]["LookupRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principals = json.dumps(trust["Principal"]["AWS"])
    assert "CentralFunctionRoleArn" in principals and "DirectoryRefresherRoleArn" in principals
