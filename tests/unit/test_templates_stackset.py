"""stacksets/stackset.yaml: the StackSet defaults the CLI applies (a data file, not a template)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import decode_str

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "stacksets" / "stackset.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_it_is_data_not_a_template(definition: dict[str, Any]) -> None:
    assert "Resources" not in definition
    assert "AWSTemplateFormatVersion" not in definition


def test_contract_values(definition: dict[str, Any]) -> None:
    assert definition["StackSetName"] == "events2panther-member"
    assert definition["Description"].strip()
    assert definition["PermissionModel"] == "SERVICE_MANAGED"
    assert definition["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    # The member template names its forwarder role (the central bus policy admits it by name).
    assert definition["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert definition["ManagedExecution"] == {"Active": True}
    assert definition["CallAs"] == "SELF"
    assert "us-east-1" in definition["MandatoryRegions"]


def test_operation_preferences(definition: dict[str, Any]) -> None:
    prefs = definition["OperationPreferences"]
    assert set(prefs) == {
        "RegionConcurrencyType",
        "FailureTolerancePercentage",
        "MaxConcurrentPercentage",
        "ConcurrencyMode",
    }
    assert prefs["RegionConcurrencyType"] == "PARALLEL"
    assert prefs["ConcurrencyMode"] == "SOFT_FAILURE_TOLERANCE"
    assert 0 <= prefs["FailureTolerancePercentage"] <= 100
    assert 1 <= prefs["MaxConcurrentPercentage"] <= 100


def test_the_stackset_has_the_capability_the_member_template_needs(definition: dict[str, Any]) -> None:
    member, errors = decode_str((ROOT / "member" / "template.yaml").read_text())
    assert not errors
    roles = [r for r in member["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    # A named IAM resource needs CAPABILITY_NAMED_IAM (CloudFormation refuses the stack otherwise).
    if any("RoleName" in r["Properties"] for r in roles):
        assert "CAPABILITY_NAMED_IAM" in definition["Capabilities"]
    else:
        assert {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(definition["Capabilities"])
