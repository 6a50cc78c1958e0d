"""StackDeployer and StackSetManager on scripted CloudFormation answers that no local backend gives:
"No updates are to be performed", OperationInProgressException, failed instances, rollbacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2p.aws.polling import Poller
from e2p.aws.stacks import StackDeployer, StackSpec
from e2p.aws.stackset_definition import StackSetDefinition
from e2p.aws.stackset_ops import StackSetManager, definition_differences
from e2p.console.results import Outcome
from e2p.exceptions import PollTimeoutError, StackOperationError, StackSetOperationError

pytestmark = pytest.mark.functional

TEMPLATE = json.dumps(
    {
        "Parameters": {
            "Name": {"Type": "String"},
            "Size": {"Type": "Number", "Default": 5},
            "Secret": {"Type": "String", "Default": "", "NoEcho": True},
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
    }
)


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def poller(clock: Clock, timeout: float = 60.0) -> Poller:
    return Poller(interval=1.0, timeout=timeout, sleep=clock.sleep, clock=lambda: clock.now)


class ScriptedStacks:
    """describe_stacks answers from a list of statuses, one per call; everything is recorded."""

    def __init__(
        self,
        statuses: list[str | None],
        parameters: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.statuses = statuses
        self.parameters = parameters or {}
        # e2p's own stacks carry its managed-by tag (StackDeployer leaves the others alone).
        self.tags = {"events2panther:managed-by": "e2p"} if tags is None else tags
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.update_error: ClientError | None = None
        self.events: list[dict[str, Any]] = []

    def _status(self) -> str | None:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls.append(("describe_stacks", {}))
        status = self._status()
        if status is None:
            raise client_error(
                "ValidationError", f"Stack with id {StackName} does not exist", "DescribeStacks"
            )
        return {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:eu-west-1:111111111111:stack/{StackName}/1",
                    "StackStatus": status,
                    "Parameters": [
                        {"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()
                    ],
                    "Outputs": [{"OutputKey": "QueueUrl", "OutputValue": "https://sqs/q"}],
                    "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
                }
            ]
        }

    def get_template(self, **_: Any) -> dict[str, Any]:
        return {"TemplateBody": TEMPLATE}

    def describe_stack_events(self, **_: Any) -> dict[str, Any]:
        return {"StackEvents": list(self.events)}

    def create_stack(self, **kwargs: Any) -> None:
        self.calls.append(("create_stack", kwargs))

    def update_stack(self, **kwargs: Any) -> None:
        self.calls.append(("update_stack", kwargs))
        if self.update_error is not None:
            raise self.update_error

    def delete_stack(self, **kwargs: Any) -> None:
        self.calls.append(("delete_stack", kwargs))

    def called(self) -> list[str]:
        return [name for name, _ in self.calls if name != "describe_stacks"]


def test_cloudformations_no_updates_answer_is_no_change() -> None:
    # GIVEN a stack whose parameters differ as shown, but that CloudFormation finds unchanged
    cfn = ScriptedStacks(["UPDATE_COMPLETE"], {"Name": "old", "Size": "5", "Secret": "****"})
    cfn.update_error = client_error("ValidationError", "No updates are to be performed.", "UpdateStack")
    state = StackDeployer(cfn, poller(Clock())).deploy(StackSpec("s", TEMPLATE, {"Name": "new"}))
    assert state.outcome is Outcome.UNCHANGED
    # The NoEcho parameter keeps its value: the CLI cannot know it and must not overwrite it.
    [(_, update)] = [call for call in cfn.calls if call[0] == "update_stack"]
    assert {"ParameterKey": "Secret", "UsePreviousValue": True} in update["Parameters"]
    assert {"ParameterKey": "Size", "ParameterValue": "5"} in update["Parameters"]


def test_matching_parameters_and_template_make_no_call_at_all() -> None:
    cfn = ScriptedStacks(["CREATE_COMPLETE"], {"Name": "same", "Size": "5", "Secret": "****"})
    state = StackDeployer(cfn, poller(Clock())).deploy(StackSpec("s", TEMPLATE, {"Name": "same"}))
    assert (state.outcome, cfn.called()) == (Outcome.UNCHANGED, [])
    assert state.outputs == {"QueueUrl": "https://sqs/q"}


def test_a_stack_left_by_a_failed_creation_is_deleted_and_created_again() -> None:
    # describe: ROLLBACK_COMPLETE, then (delete) DELETE_COMPLETE, then (create) CREATE_COMPLETE
    cfn = ScriptedStacks(["ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE", None, "CREATE_COMPLETE"])
    state = StackDeployer(cfn, poller(Clock())).deploy(StackSpec("s", TEMPLATE, {"Name": "n"}))
    assert cfn.called() == ["delete_stack", "create_stack"]
    assert state.outcome is Outcome.CREATED


def test_a_creation_that_rolls_back_fails_with_the_resource_and_its_reason() -> None:
    cfn = ScriptedStacks([None, "CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"])
    cfn.events = [
        {
            "EventId": "1",
            "LogicalResourceId": "Queue",
            "ResourceType": "AWS::SQS::Queue",
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": "queue name taken",
            "Timestamp": datetime(2024, 1, 1, tzinfo=UTC),
        }
    ]
    seen: list[dict[str, Any]] = []
    clock = Clock()
    with pytest.raises(StackOperationError, match=r"ROLLBACK_COMPLETE.*Queue: queue name taken"):
        StackDeployer(cfn, poller(clock), seen.append).deploy(StackSpec("s", TEMPLATE, {"Name": "n"}))
    assert [event["EventId"] for event in seen] == ["1"]  # each event printed once
    assert clock.sleeps  # it waited while CloudFormation worked


def test_a_stack_that_never_settles_times_out() -> None:
    cfn = ScriptedStacks([None, "CREATE_IN_PROGRESS"])
    with pytest.raises(PollTimeoutError):
        StackDeployer(cfn, poller(Clock(), timeout=10)).deploy(StackSpec("s", TEMPLATE, {"Name": "n"}))


# ------------------------------------------------------------------ StackSets

DEFINITION = StackSetDefinition(
    name="events2panther-member",
    description="member",
    region="eu-west-1",
    call_as="SELF",
    organizational_units=("ou-ab12-cdef3456",),
    regions=("eu-west-1", "us-east-1"),
    auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    capabilities=("CAPABILITY_IAM",),
    managed_execution={"Active": True},
    operation_preferences={"FailureTolerancePercentage": 10},
)


class ScriptedStackSets:
    def __init__(self, results: list[dict[str, str]], busy_calls: int = 0) -> None:
        self.results = results
        self.busy_calls = busy_calls
        self.operations_listed = 0
        self.calls: list[str] = []

    def create_stack_instances(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("create_stack_instances")
        assert kwargs["CallAs"] == "SELF"
        assert kwargs["DeploymentTargets"] == {"OrganizationalUnitIds": ["ou-ab12-cdef3456"]}
        if self.busy_calls:
            self.busy_calls -= 1
            raise client_error("OperationInProgressException", "another operation", "CreateStackInstances")
        return {"OperationId": "op-1"}

    def list_stack_set_operations(self, **_: Any) -> dict[str, Any]:
        self.operations_listed += 1
        running = self.operations_listed < 2
        return {"Summaries": [{"OperationId": "op-0", "Status": "RUNNING" if running else "SUCCEEDED"}]}

    def describe_stack_set_operation(self, **_: Any) -> dict[str, Any]:
        failed = any(r["Status"] == "FAILED" for r in self.results)
        return {"StackSetOperation": {"Action": "CREATE", "Status": "FAILED" if failed else "SUCCEEDED"}}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_stack_set_operation_results"
        results = self.results

        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"Summaries": results}]

        return Pages()


def manager(cfn: Any, clock: Clock) -> StackSetManager:
    return StackSetManager(cfn, DEFINITION, poller(clock))


def test_a_busy_stackset_is_waited_for_then_the_operation_runs() -> None:
    cfn = ScriptedStackSets(
        [{"Account": "222222222222", "Region": "eu-west-1", "Status": "SUCCEEDED"}], busy_calls=1
    )
    clock = Clock()
    [report] = manager(cfn, clock).create_instances(DEFINITION.organizational_units, ["eu-west-1"])
    assert cfn.calls == ["create_stack_instances", "create_stack_instances"]
    assert cfn.operations_listed == 2  # waited until the running operation finished
    assert report.succeeded


def test_failed_instances_are_reported_with_account_region_and_reason() -> None:
    cfn = ScriptedStackSets(
        [
            {"Account": "222222222222", "Region": "eu-west-1", "Status": "SUCCEEDED"},
            {
                "Account": "333333333333",
                "Region": "us-east-1",
                "Status": "FAILED",
                "StatusReason": "opt-in region",
            },
        ]
    )
    [report] = manager(cfn, Clock()).create_instances(
        DEFINITION.organizational_units, ["eu-west-1", "us-east-1"]
    )
    assert not report.succeeded
    failed = [(r.account, r.region, r.reason) for r in report.results if r.status == "FAILED"]
    assert failed == [("333333333333", "us-east-1", "opt-in region")]


def test_more_than_fifty_ous_are_split_into_several_operations() -> None:
    calls: list[list[str]] = []

    class Recording(ScriptedStackSets):
        def create_stack_instances(self, **kwargs: Any) -> dict[str, str]:
            calls.append(kwargs["DeploymentTargets"]["OrganizationalUnitIds"])
            return {"OperationId": f"op-{len(calls)}"}

    units = [f"ou-ab12-{n:08d}" for n in range(120)]
    manager(Recording([]), Clock()).create_instances(units, ["eu-west-1"])
    assert [len(batch) for batch in calls] == [50, 50, 20]
    assert [u for batch in calls for u in batch] == units


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d, []),
        (
            lambda d: {**d, "Parameters": [{"ParameterKey": "RuleState", "ParameterValue": "DISABLED"}]},
            ["parameters"],
        ),
        (lambda d: {**d, "Description": "old"}, ["description"]),
        (lambda d: {**d, "AutoDeployment": {"Enabled": False}}, ["auto-deployment"]),
        (lambda d: {**d, "TemplateBody": TEMPLATE.replace("Queue", "Topic")}, ["template"]),
        # Deployed before e2p tagged its StackSet: updated once to add the tag teardown checks for.
        (lambda d: {**d, "Tags": [{"Key": "team", "Value": "sec"}]}, ["managed-by tag"]),
        # A backend that does not return a field is not taken to differ on it.
        (lambda d: {k: v for k, v in d.items() if k not in {"AutoDeployment", "Capabilities"}}, []),
    ],
)
def test_stackset_differences(
    change: Callable[[dict[str, Any]], dict[str, Any]], expected: list[str]
) -> None:
    deployed = {
        "TemplateBody": TEMPLATE,
        "Parameters": [{"ParameterKey": "RuleState", "ParameterValue": "ENABLED"}],
        "Description": "member",
        "Capabilities": ["CAPABILITY_IAM"],
        "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
        "ManagedExecution": {"Active": False},
        "Tags": [{"Key": "events2panther:managed-by", "Value": "e2p"}],
    }
    assert (
        definition_differences(change(deployed), DEFINITION, TEMPLATE, {"RuleState": "ENABLED"}) == expected
    )


def test_a_failed_stackset_update_raises_with_its_status() -> None:
    class Updating(ScriptedStackSets):
        def describe_stack_set(self, **_: Any) -> dict[str, Any]:
            return {
                "StackSet": {
                    "Status": "ACTIVE",
                    "TemplateBody": TEMPLATE,
                    "Parameters": [],
                    "Description": "x",
                }
            }

        def update_stack_set(self, **_: Any) -> dict[str, str]:
            return {"OperationId": "op-9"}

    cfn = Updating(
        [{"Account": "222222222222", "Region": "eu-west-1", "Status": "FAILED", "StatusReason": "boom"}]
    )
    with pytest.raises(StackSetOperationError, match="FAILED"):
        manager(cfn, Clock()).ensure(TEMPLATE, {"Name": "n"})


def test_a_stackset_is_created_with_the_managed_by_tag_and_an_update_keeps_the_operators_tags() -> None:
    sent: list[tuple[str, list[dict[str, str]]]] = []

    class Recording(ScriptedStackSets):
        deployed: dict[str, Any] | None = None

        def describe_stack_set(self, **_: Any) -> dict[str, Any]:
            if self.deployed is None:
                raise client_error("StackSetNotFoundException", "not found", "DescribeStackSet")
            return {"StackSet": self.deployed}

        def create_stack_set(self, **kwargs: Any) -> dict[str, str]:
            sent.append(("create", kwargs["Tags"]))
            return {"StackSetId": "id"}

        def update_stack_set(self, **kwargs: Any) -> dict[str, str]:
            sent.append(("update", kwargs["Tags"]))
            return {"OperationId": "op-9"}

    managed = {"Key": "events2panther:managed-by", "Value": "e2p"}
    cfn = Recording([])
    manager(cfn, Clock()).ensure(TEMPLATE, {"Name": "n"})
    # AND an untagged StackSet of the name (an older deployment) is updated: UpdateStackSet replaces
    # the whole tag list, so the operator's tag must be sent again alongside e2p's
    cfn.deployed = {"Status": "ACTIVE", "TemplateBody": TEMPLATE, "Tags": [{"Key": "team", "Value": "sec"}]}
    outcome, detail = manager(cfn, Clock()).ensure(TEMPLATE, {"Name": "n"})
    assert sent == [("create", [managed]), ("update", [{"Key": "team", "Value": "sec"}, managed])]
    assert outcome is Outcome.UPDATED
    assert "managed-by tag" in detail
