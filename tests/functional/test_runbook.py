"""docs/deploy.md, run: every `aws` and `e2p` line of its `sh` blocks, in order, against the local AWS.

The `aws` lines are an administrator's (the prerequisites): they run through boto3 with the same
operation and parameters the AWS CLI would send (botocore's own names). The `e2p` lines run as an
operator who holds only docs/operator-policy.json, with IAM enforced by the local AWS (moto's
INITIAL_NO_AUTH_ACTION_COUNT = 0; CloudFormation calls are authorized against the stack or stack set
they name, as in AWS: e2p.local.fidelity.iam). Every action the operator used is recorded: the
policy must allow each (or the command fails) and grant nothing that no command used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from arrivals import ArrivalLogger
from botocore import xform_name
from cli_org import (  # noqa: F401
    CENTRAL_REGION,
    MANAGEMENT_ACCOUNT,
    REPO,
    Stage,
    aws_client,
    local_aws_fixture,
    make_stage,
    project_root,
)
from moto import settings
from moto.iam.access_control import IAMRequestBase

pytestmark = pytest.mark.functional

RUNBOOK = REPO / "docs" / "deploy.md"
POLICY = REPO / "docs" / "operator-policy.json"
OPERATOR = "e2p-operator"
# AWS CLI service names that differ from botocore's.
CLI_SERVICES = {"s3api": "s3"}
# Granted for paths this organisation does not take: each with the reason the runbook's flow skips it.
NOT_EXERCISED = {
    # The runbook activates trusted access itself (prerequisites); deploy reads it, never needs to.
    "cloudformation:ActivateOrganizationsAccess",
    # Only with call_as = DELEGATED_ADMIN (preflight lists the delegated administrators).
    "organizations:ListDelegatedAdministrators",
    # Only when a configured region needs opting in (preflight asks each targeted account).
    "account:GetRegionOptStatus",
    # Only when [organization] leaves out the organisation and management account ids.
    "organizations:DescribeOrganization",
    # `e2p verify` explaining a missing cell of the management account (test_cli_verify.py breaks one).
    "events:DescribeRule",
    "events:ListRuleNamesByTarget",
    "events:ListTargetsByRule",
    "sqs:GetQueueUrl",
}
# The runbook's step 7 ("change what is forwarded"): the test makes that edit before its deploy, so
# the StackSet and the management stacks are updated.
STEP_7 = "## 7."
# The statement CloudFormation uses to create the management account's own stacks (it acts with
# the caller's rights); checked against those templates' resource types instead of recorded calls.
ON_BEHALF_SID = "CloudFormationCreatesTheManagementStacksResourcesWithTheseRights"
RESOURCE_SERVICES = {
    "AWS::IAM::Role": "iam",
    "AWS::IAM::Policy": "iam",
    "AWS::Events::Rule": "events",
    "AWS::SQS::Queue": "sqs",
    "AWS::SQS::QueuePolicy": "sqs",
    "AWS::CloudWatch::Alarm": "cloudwatch",
    "AWS::Scheduler::Schedule": "scheduler",
}


@dataclass(frozen=True)
class Command:
    line: str
    argv: list[str]
    exit_code: int
    section: str


def runbook_commands(text: str, variables: dict[str, str]) -> list[Command]:
    commands = []
    heading = ""
    for match in re.finditer(r"^## [^\n]*$|```sh\n(.*?)```", text, flags=re.DOTALL | re.MULTILINE):
        if match.group(1) is None:
            heading = match.group(0)
            continue
        block = match.group(1)
        for raw in block.splitlines():
            line = raw.strip()
            if not line.startswith(("aws ", "e2p ")):
                continue
            expected = re.search(r"#\s*exit (\d+)", line)
            command = line.split("#", 1)[0].strip()
            for name, value in variables.items():
                command = command.replace(f"${name}", value)
            exit_code = int(expected.group(1)) if expected else 0
            commands.append(Command(line, shlex.split(command), exit_code, heading))
    return commands


def aws_call(argv: list[str], client: Any) -> Any:
    """`aws SERVICE OPERATION --param value ...` as the AWS CLI would send it."""
    model = client.meta.service_model
    operations = {xform_name(name): name for name in model.operation_names}
    operation = operations[argv[2].replace("-", "_")]
    members = (
        model.operation_model(operation).input_shape.members
        if model.operation_model(operation).input_shape
        else {}
    )
    by_cli = {xform_name(name).replace("_", "-"): name for name in members}
    params: dict[str, Any] = {}
    args = argv[3:]
    index = 0
    while index < len(args):
        name = args[index].removeprefix("--")
        if name not in by_cli:
            raise AssertionError(f"{' '.join(argv)}: no parameter --{name}")
        shape = members[by_cli[name]]
        if shape.type_name == "boolean":
            params[by_cli[name]] = True
            index += 1
            continue
        value = args[index + 1]
        if value.startswith("file://"):
            value = (REPO / value.removeprefix("file://")).read_text(encoding="utf-8")
        params[by_cli[name]] = value
        index += 2
    return getattr(client, xform_name(operation))(**params)


@pytest.fixture
def enforcement(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Switch moto's IAM enforcement per command; record the operator's authorized actions."""
    used: set[str] = set()
    state: dict[str, Any] = {"operator_key": None, "used": used}
    original = IAMRequestBase.check_action_permitted

    def recording(self: Any, resource: str) -> None:
        original(self, resource)
        key = state["operator_key"]
        # sts:GetCallerIdentity needs no permission in AWS (moto lets it through as well).
        if (
            key
            and f"Credential={key}/" in self._headers.get("Authorization", "")
            and (self._action != "sts:GetCallerIdentity")
        ):
            used.add(self._action)

    monkeypatch.setattr(IAMRequestBase, "check_action_permitted", recording)
    yield state
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")


def policy_actions() -> tuple[set[str], set[str]]:
    """(actions of the statements the commands use, actions CloudFormation uses on their behalf)."""
    document = json.loads(POLICY.read_text(encoding="utf-8"))
    direct: set[str] = set()
    on_behalf: set[str] = set()
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        (on_behalf if statement.get("Sid") == ON_BEHALF_SID else direct).update(actions)
    return direct, on_behalf


def admin_roles(stage: Stage) -> None:
    """OrganizationAccountAccessRole in every created account, as Organizations makes it (trusting the
    management account, AdministratorAccess), so e2p's assumed sessions are authorized."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for account in stage.layout.member_accounts:
        iam = stage.client("iam", account, "us-east-1")
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(
                RoleName="OrganizationAccountAccessRole", AssumeRolePolicyDocument=json.dumps(trust)
            )
        iam.put_role_policy(
            RoleName="OrganizationAccountAccessRole",
            PolicyName="AdministratorAccess",
            PolicyDocument=json.dumps(admin),
        )


def test_the_runbook_runs_as_the_least_privilege_operator(
    local_aws: Any,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    enforcement: dict[str, Any],
) -> None:
    stage = make_stage(local_aws, tmp_path / "stage", project_root(tmp_path_factory))
    admin_roles(stage)
    iam = stage.client("iam", MANAGEMENT_ACCOUNT, "us-east-1")
    iam.create_user(UserName=OPERATOR)
    key = iam.create_access_key(UserName=OPERATOR)["AccessKey"]
    operator_env = {
        **stage.env,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_SESSION_TOKEN": None,
    }
    enforcement["operator_key"] = key["AccessKeyId"]
    variables = {
        "TRAIL_BUCKET": "org-trail-logs",
        "ROOT_ID": stage.layout.root_id,
        "OPERATOR_USER": OPERATOR,
        "ACCOUNT_ID": MANAGEMENT_ACCOUNT,
    }
    # The token files the runbook names, in the directory it is run from.
    monkeypatch.chdir(tmp_path)
    for name in ("panther-token", "panther-token-new"):
        (tmp_path / name).write_text(os.urandom(16).hex(), encoding="utf-8")
        (tmp_path / name).chmod(0o600)
    commands = runbook_commands(RUNBOOK.read_text(encoding="utf-8"), variables)
    assert sum(1 for c in commands if c.argv[0] == "e2p") >= 10
    function: ArrivalLogger | None = None
    edited = False
    ran: list[str] = []
    try:
        for command in commands:
            if command.argv[0] == "aws":
                service = CLI_SERVICES.get(command.argv[1], command.argv[1])
                aws_call(command.argv, stage.client(service, MANAGEMENT_ACCOUNT, "us-east-1"))
                ran.append(command.line)
                continue
            argv = command.argv[1:]
            if "--config" in argv:
                at = argv.index("--config")
                del argv[at : at + 2]
            if argv[0] in {"verify", "send-test-event"} and function is None:
                function = ArrivalLogger(stage).__enter__()  # the function, once deployed
            if argv[0] == "deploy" and command.section.startswith(STEP_7) and not edited:
                stage.config.write_text(
                    stage.config.read_text(encoding="utf-8").replace(
                        'rule_state = "ENABLED"',
                        'rule_state = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"',
                    ),
                    encoding="utf-8",
                )
                edited = True
            if argv[0] == "teardown" and function is not None:
                function.__exit__(None, None, None)
                function = None
            settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
            try:
                operator = Stage(stage.endpoint, stage.layout, stage.config, stage.build_dir, operator_env)
                result = operator.cli(*argv)
            finally:
                settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
            if result.exit_code != command.exit_code:
                output = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
                pytest.fail(f"{command.line}: exit {result.exit_code}\n{output}")
            ran.append(command.line)
    finally:
        if function is not None:
            function.__exit__(None, None, None)
    # THEN the policy allowed every call (or a command would have failed) and grants nothing unused
    direct, on_behalf = policy_actions()
    used = enforcement["used"]
    assert used - direct - on_behalf == set()  # impossible unless enforcement was off
    assert direct >= NOT_EXERCISED  # every exemption names a right the policy grants
    unused = sorted(direct - used - NOT_EXERCISED)
    assert not unused, f"granted but never used: {unused}; used: {sorted(used)}"
    # AND the on-behalf rights are exactly the services of the management stacks' resources
    types: set[str] = set()
    for template in ("member/template.yaml", "central/org-lookup-role.yaml"):
        types |= set(re.findall(r"Type: (AWS::\w+::\w+)", (REPO / template).read_text(encoding="utf-8")))
    assert {a.split(":")[0] for a in on_behalf} == {RESOURCE_SERVICES[t] for t in types}
    assert len(ran) == len(commands)
