"""StackDeployer acts only on e2p's own stacks (the managed-by tag) unless forced, and acknowledges
only the IAM capability a template needs (issue 13, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_stack_ops import TEMPLATE, Clock, ScriptedStacks, poller

from e2p.aws.cfn_template import load_template, required_capabilities
from e2p.aws.stacks import StackDeployer, StackSpec
from e2p.console.results import Outcome
from e2p.exceptions import StackOperationError

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
SOMEONE_ELSES = {"owner": "platform-team"}


def test_a_stack_of_the_same_name_made_by_someone_else_is_not_updated() -> None:
    cfn = ScriptedStacks(["CREATE_COMPLETE"], {"Name": "other"}, tags=SOMEONE_ELSES)
    deployer = StackDeployer(cfn, poller(Clock()))
    with pytest.raises(StackOperationError, match="managed-by"):
        deployer.deploy(StackSpec("q", TEMPLATE, {"Name": "mine"}))
    assert cfn.called() == []


def test_nor_deleted() -> None:
    cfn = ScriptedStacks(["CREATE_COMPLETE"], tags=SOMEONE_ELSES)
    with pytest.raises(StackOperationError, match="--force"):
        StackDeployer(cfn, poller(Clock())).delete("q")
    assert "delete_stack" not in cfn.called()


def test_force_acts_on_it_anyway() -> None:
    cfn = ScriptedStacks(
        ["CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"], {"Name": "other"}, tags=SOMEONE_ELSES
    )
    state = StackDeployer(cfn, poller(Clock()), force=True).deploy(
        StackSpec("q", TEMPLATE, {"Name": "mine"}, tags={"events2panther:managed-by": "e2p"})
    )
    assert state.outcome is Outcome.UPDATED
    assert cfn.called()[-1] == "update_stack"


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("central/template.yaml", ("CAPABILITY_IAM",)),
        ("central/org-lookup-role.yaml", ("CAPABILITY_NAMED_IAM",)),
        ("member/template.yaml", ("CAPABILITY_NAMED_IAM",)),
    ],
)
def test_each_template_gets_only_the_capability_it_needs(relative: str, expected: tuple[str, ...]) -> None:
    assert required_capabilities(load_template((ROOT / relative).read_text(encoding="utf-8"))) == expected


def test_the_deployer_acknowledges_what_the_template_needs() -> None:
    unnamed = json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}})
    named = json.dumps({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}})
    none = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    for body, capabilities in ((unnamed, ["CAPABILITY_IAM"]), (named, ["CAPABILITY_NAMED_IAM"]), (none, [])):
        cfn = ScriptedStacks([None, "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
        StackDeployer(cfn, poller(Clock())).deploy(StackSpec("s", body))
        (created,) = [kwargs for name, kwargs in cfn.calls if name == "create_stack"]
        assert created["Capabilities"] == capabilities
