"""The real templates deploy on the local AWS with nothing skipped, and an event flows end to end.

Deploys, in the contract's order, central/template.yaml (central account), central/org-lookup-role.yaml
(management account), member/template.yaml as a service-managed StackSet over the organisation's
root in two regions, and as ordinary stacks in the management account. Every resource must have a
physical id (moto skips what it cannot create; the fidelity layer must not let that happen), the
contract's outputs and environment variables must exist, and an AWS event emitted in a member
account must arrive in the central buffer queue with its original envelope.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from fake_aws import fake_credentials

from e2p.local.aws import LocalAws, emit_aws_event
from e2p.ops.deployment import CENTRAL_OUTPUTS
from handler import constants

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "central" / "template.yaml"
LOOKUP = ROOT / "central" / "org-lookup-role.yaml"
MEMBER = ROOT / "member" / "template.yaml"
HOME, OTHER = "us-east-1", "eu-west-1"
MANAGEMENT = "710000000001"
MEMBER_OUTPUTS = {"RuleArn", "ForwarderRoleArn", "DeadLetterQueueUrl", "DeadLetterQueueArn"}
CONTRACT_VARIABLES = {
    constants.PANTHER_URL,
    constants.TOKEN_SECRET_ID,
    constants.ALLOW_INSECURE_HTTP,
    constants.DEAD_LETTER_QUEUE_URL,
    constants.ORG_LOOKUP_ROLE_ARN,
    constants.ACCOUNT_TAG_KEYS,
    constants.IDEMPOTENCY_TABLE,
    constants.POWERTOOLS_SERVICE_NAME,
    constants.POWERTOOLS_METRICS_NAMESPACE,
    constants.LOG_LEVEL,
}

if not all(p.exists() for p in (CENTRAL, LOOKUP, MEMBER)):
    pytest.skip("the product templates are not written yet", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _fake_credentials() -> Iterator[None]:
    with fake_credentials(HOME):
        yield


class Accounts:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._keys: dict[str, dict[str, str]] = {}

    def client(self, service: str, account: str, region: str = HOME) -> Any:
        if account not in self._keys:
            sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=HOME)
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/deploy", RoleSessionName="deploy")[
                "Credentials"
            ]
            self._keys[account] = {
                "aws_access_key_id": c["AccessKeyId"],
                "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"],
            }
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            config=Config(retries={"max_attempts": 1}),
            **self._keys[account],
        )


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def create(
    accounts: Accounts,
    account: str,
    region: str,
    name: str,
    body: str,
    parameters: list[dict[str, str]],
    caps: list[str],
) -> dict[str, Any]:
    cfn = accounts.client("cloudformation", account, region)
    cfn.create_stack(StackName=name, TemplateBody=body, Parameters=parameters, Capabilities=caps)
    stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", (name, stack.get("StackStatusReason"))
    return stack


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def assert_nothing_skipped(accounts: Accounts, account: str, region: str, stack_name: str) -> None:
    cfn = accounts.client("cloudformation", account, region)
    summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert summaries
    skipped = [
        (r["LogicalResourceId"], r["ResourceType"]) for r in summaries if not r.get("PhysicalResourceId")
    ]
    assert skipped == []


@pytest.fixture(scope="module")
def deployment() -> Iterator[dict[str, Any]]:
    with LocalAws() as local:
        accounts = Accounts(local.endpoint_url)
        orgs = accounts.client("organizations", MANAGEMENT)
        org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        orgs.enable_aws_service_access(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
        root = orgs.list_roots()["Roots"][0]["Id"]
        workloads = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"][
            "Id"
        ]
        nested = orgs.create_organizational_unit(ParentId=workloads, Name="prod")["OrganizationalUnit"]["Id"]

        def member(parent: str, name: str) -> str:
            account = orgs.create_account(AccountName=name, Email=f"{name}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
            orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
            return str(account)

        central, deep = member(workloads, "central"), member(nested, "deep")

        s3 = accounts.client("s3", central)
        s3.create_bucket(Bucket="e2p-code")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler/app.py", "def lambda_handler(event, context):\n    return {}\n")
        s3.put_object(Bucket="e2p-code", Key="e2p.zip", Body=code.getvalue())

        central_stack = create(
            accounts,
            central,
            HOME,
            "events2panther",
            CENTRAL.read_text(),
            params(
                OrganizationId=org_id,
                ManagementAccountId=MANAGEMENT,
                PantherUrl="http://127.0.0.1:9/api/event/create",
                AllowInsecureHttp="true",
                CodeBucket="e2p-code",
                CodeKey="e2p.zip",
                CodeObjectVersion="1",
            ),
            ["CAPABILITY_IAM"],
        )
        central_out = outputs(central_stack)
        lookup_stack = create(
            accounts,
            MANAGEMENT,
            HOME,
            "events2panther-org-lookup",
            LOOKUP.read_text(),
            params(CentralFunctionRoleArn=central_out["FunctionRoleArn"]),
            ["CAPABILITY_NAMED_IAM"],
        )
        member_params = params(CentralEventBusArn=central_out["EventBusArn"])
        cfn = accounts.client("cloudformation", MANAGEMENT)
        cfn.create_stack_set(
            StackSetName="events2panther-member",
            TemplateBody=MEMBER.read_text(),
            Parameters=member_params,
            PermissionModel="SERVICE_MANAGED",
            Capabilities=["CAPABILITY_NAMED_IAM"],
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        )
        cfn.create_stack_instances(
            StackSetName="events2panther-member",
            DeploymentTargets={"OrganizationalUnitIds": [root]},
            Regions=[HOME, OTHER],
        )
        management_stacks = {
            region: create(
                accounts,
                MANAGEMENT,
                region,
                "events2panther-member",
                MEMBER.read_text(),
                member_params,
                # The forwarder role is named (ForwarderName-region): a named IAM resource.
                ["CAPABILITY_NAMED_IAM"],
            )
            for region in (HOME, OTHER)
        }
        yield {
            "local": local,
            "accounts": accounts,
            "central": central,
            "deep": deep,
            "central_stack": central_stack,
            "lookup_stack": lookup_stack,
            "management_stacks": management_stacks,
        }


def test_every_stack_and_resource_is_real(deployment: dict[str, Any]) -> None:
    accounts, central, deep = deployment["accounts"], deployment["central"], deployment["deep"]
    assert_nothing_skipped(accounts, central, HOME, "events2panther")
    assert_nothing_skipped(accounts, MANAGEMENT, HOME, "events2panther-org-lookup")
    for region in (HOME, OTHER):
        assert_nothing_skipped(accounts, MANAGEMENT, region, "events2panther-member")
        (instance,) = [
            s
            for s in accounts.client("cloudformation", deep, region).describe_stacks()["Stacks"]
            if s["StackName"].startswith("StackSet-events2panther-member-")
        ]
        assert instance["StackStatus"] == "CREATE_COMPLETE", instance.get("StackStatusReason")
        assert set(outputs(instance)) >= MEMBER_OUTPUTS
        assert_nothing_skipped(accounts, deep, region, instance["StackName"])
    summaries = accounts.client("cloudformation", MANAGEMENT).list_stack_instances(
        StackSetName="events2panther-member"
    )["Summaries"]
    assert MANAGEMENT not in {s["Account"] for s in summaries}
    assert {s["Account"] for s in summaries} == {central, deep}
    assert all(s["Status"] == "CURRENT" for s in summaries)


def test_central_outputs_and_function_environment_follow_the_contract(deployment: dict[str, Any]) -> None:
    accounts, central = deployment["accounts"], deployment["central"]
    out = outputs(deployment["central_stack"])
    assert set(out) >= set(CENTRAL_OUTPUTS)
    function = accounts.client("lambda", central).get_function_configuration(FunctionName=out["FunctionName"])
    variables = function["Environment"]["Variables"]
    assert set(variables) >= CONTRACT_VARIABLES
    assert variables[constants.TOKEN_SECRET_ID] == out["TokenSecretArn"]
    assert variables[constants.ORG_LOOKUP_ROLE_ARN] == outputs(deployment["lookup_stack"])["LookupRoleArn"]
    assert function["Handler"] == "handler.app.lambda_handler"


_events = itertools.count(1)


def buffered(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    sqs = deployment["accounts"].client("sqs", deployment["central"])
    url = outputs(deployment["central_stack"])["BufferQueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.parametrize(("who", "region"), [("deep", OTHER), ("management", HOME), ("management", OTHER)])
def test_an_aws_event_reaches_the_buffer_queue_unchanged(
    deployment: dict[str, Any], who: str, region: str
) -> None:
    account = MANAGEMENT if who == "management" else deployment["deep"]
    finding = {
        "source": "aws.guardduty",
        "detail-type": "GuardDuty Finding",
        "detail": {"id": f"f{next(_events)}"},
    }

    dropped_before = deployment["local"].fidelity_log.count("dropped")

    event_id = emit_aws_event(account, region, finding)

    (received,) = buffered(deployment)
    assert received["id"] == event_id
    assert (received["account"], received["region"], received["detail"]) == (
        account,
        region,
        finding["detail"],
    )
    assert deployment["local"].fidelity_log.count("dropped") == dropped_before


def test_read_only_calls_are_not_forwarded_in_the_default_state(deployment: dict[str, Any]) -> None:
    read = {
        "source": "aws.s3",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventName": "GetBucketAcl",
            "eventSource": "s3.amazonaws.com",
            "eventCategory": "Management",
        },
    }
    write = {**read, "detail": {**read["detail"], "eventName": "PutBucketAcl"}}

    emit_aws_event(deployment["deep"], HOME, read)
    emit_aws_event(deployment["deep"], HOME, write)

    assert [b["detail"]["eventName"] for b in buffered(deployment)] == ["PutBucketAcl"]
