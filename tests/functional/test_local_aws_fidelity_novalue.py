"""`!Ref AWS::NoValue` as a list element: CloudFormation drops the element (a conditional policy
statement whose condition is false), the local AWS now too; plain moto left a null in the list,
which IAM refused as a malformed policy document."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2p.local.aws import LocalAws

pytestmark = pytest.mark.functional

REGION = "eu-west-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Extra": {"Type": "String", "Default": ""}},
    "Conditions": {"HasExtra": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Extra"}, ""]}]}},
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "conditional",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "Always", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
                        {
                            "Fn::If": [
                                "HasExtra",
                                {
                                    "Sid": "Extra",
                                    "Effect": "Allow",
                                    "Action": "s3:GetObject",
                                    "Resource": "*",
                                },
                                {"Ref": "AWS::NoValue"},
                            ]
                        },
                    ],
                },
            },
        },
    },
}


@pytest.fixture(scope="module", params=[True, False], ids=["faithful", "plain-moto"])
def server(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    with LocalAws(fidelity=request.param) as local:
        yield local


def test_a_false_conditional_statement_is_dropped_from_the_list(server: LocalAws) -> None:
    # GIVEN a stack whose policy has a second statement only when Extra is set, and Extra empty
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
        **KEYS,
    )
    name = f"novalue-{int(server.fidelity)}"
    if not server.fidelity:
        # plain moto: the null left in the statement list makes the policy malformed
        with pytest.raises(ClientError) as refused:
            cfn.create_stack(
                StackName=name, TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_IAM"]
            )
        assert refused.value.response["Error"]["Code"] == "MalformedPolicyDocument"
        return
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_IAM"])

    # THEN (AWS) the stack is created and the policy holds the one unconditional statement
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    role = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Role")
    iam = boto3.client("iam", endpoint_url=server.endpoint_url, region_name=REGION, **KEYS)
    document = iam.get_role_policy(
        RoleName=role["StackResourceDetail"]["PhysicalResourceId"], PolicyName="conditional"
    )["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert [statement["Sid"] for statement in document["Statement"]] == ["Always"]
