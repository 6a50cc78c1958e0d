"""The local AWS with IAM enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT = 0) authorizes a
CloudFormation call against the stack it names, as AWS does (e2p.local.fidelity.iam); the same case
on plain moto, which checks every call against "*", refuses what AWS allows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import settings

from e2p.local.aws import LocalAws

pytestmark = pytest.mark.functional

ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LocalAws]]:
    with LocalAws() as faithful, LocalAws(fidelity=False) as plain:
        yield {"faithful": faithful, "plain": plain}


def client(server: LocalAws, service: str, **credentials: Any) -> Any:
    return boto3.client(service, endpoint_url=server.endpoint_url, **{**ADMIN, **credentials})  # type: ignore[call-overload]


def user_with_policy(server: LocalAws, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = client(server, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))


def enforce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)


@pytest.mark.parametrize("mode", ["faithful", "plain"])
def test_cloudformation_calls_are_authorized_against_the_named_stack(
    servers: dict[str, LocalAws], mode: str, monkeypatch: pytest.MonkeyPatch, enforced: None
) -> None:
    server = servers[mode]
    server.reset()
    cfn = client(server, "cloudformation")
    for name in ("allowed-stack", "other-stack"):
        cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)
    operator = user_with_policy(
        server,
        f"reader-{mode}",
        [
            {
                "Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": "arn:aws:cloudformation:*:*:stack/allowed-*/*",
            }
        ],
    )
    enforce(monkeypatch)
    scoped = client(server, "cloudformation", **operator)
    if mode == "faithful":
        assert scoped.describe_stacks(StackName="allowed-stack")["Stacks"][0]["StackName"] == "allowed-stack"
    else:
        # plain moto checks every call against "*", which the scoped statement never matches
        with pytest.raises(ClientError, match="AccessDenied"):
            scoped.describe_stacks(StackName="allowed-stack")
    with pytest.raises(ClientError, match="AccessDenied"):
        scoped.describe_stacks(StackName="other-stack")


@pytest.mark.parametrize("mode", ["faithful", "plain"])
def test_a_request_botocore_signed_is_authenticated_as_aws_would(
    servers: dict[str, LocalAws], mode: str, monkeypatch: pytest.MonkeyPatch, enforced: None
) -> None:
    server = servers[mode]
    server.reset()
    caller = user_with_policy(
        server, f"lambda-reader-{mode}", [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]
    )
    stranger = user_with_policy(
        server, f"nobody-{mode}", [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]
    )
    enforce(monkeypatch)
    if mode == "faithful":
        # THEN the request botocore signed is accepted, and the caller's policy still decides
        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            client(server, "lambda", **caller).get_function_configuration(FunctionName="absent")
        with pytest.raises(ClientError, match="AccessDenied"):
            client(server, "lambda", **stranger).get_function_configuration(FunctionName="absent")
    else:
        # plain moto recomputes the signature of Lambda's REST path differently and refuses it
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            client(server, "lambda", **caller).get_function_configuration(FunctionName="absent")
