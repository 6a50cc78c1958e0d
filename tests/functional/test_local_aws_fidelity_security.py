"""The local AWS enforces the two access rules the product's security rests on, and plain moto still
does not: S3's ExpectedBucketOwner and a secret's resource policy on GetSecretValue.

Each test runs the same calls against the faithful server (`LocalAws()`) and plain moto
(`LocalAws(fidelity=False)`); both share moto's process-global state, so names are unique per test.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2p.local.aws import LocalAws

pytestmark = [
    pytest.mark.functional,
    # Plain moto announces each resource type it skips; the tests assert on that gap themselves.
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning"),
]

REGION = "eu-west-1"
OWNER = "111111111111"
OTHER = "999999999999"
_ids = itertools.count(1)
_CONFIG = Config(retries={"max_attempts": 1})
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module", params=[True, False], ids=["faithful", "plain-moto"])
def server(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    with LocalAws(fidelity=request.param) as local:
        yield local


def client(server: LocalAws, service: str, role_arn: str) -> Any:
    """A client whose requests run as a session of `role_arn` (moto maps it to the role's account)."""
    sts = boto3.client("sts", endpoint_url=server.endpoint_url, region_name=REGION, **KEYS)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        config=_CONFIG,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def test_a_bucket_of_another_account_is_refused_with_expected_bucket_owner(server: LocalAws) -> None:
    # GIVEN a bucket created by OTHER, under a name OWNER expected to be its own
    bucket = f"e2p-fidelity-owner-{next(_ids)}-{int(server.fidelity)}"
    squatter = client(server, "s3", f"arn:aws:iam::{OTHER}:role/squatter")
    squatter.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3 = client(server, "s3", f"arn:aws:iam::{OWNER}:role/deployer")
    # THEN the owner's own id is accepted for OTHER's account, and OWNER's is refused with 403 (AWS)
    squatter.head_bucket(Bucket=bucket, ExpectedBucketOwner=OTHER)
    if server.fidelity:
        with pytest.raises(ClientError) as refused:
            s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=OWNER)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(ClientError) as put:
            s3.put_object(Bucket=bucket, Key="lambda/x.zip", Body=b"code", ExpectedBucketOwner=OWNER)
        assert put.value.response["Error"]["Code"] == "AccessDenied"
    else:
        # plain moto: the header is ignored and the code would land in someone else's bucket
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=OWNER)
        s3.put_object(Bucket=bucket, Key="lambda/x.zip", Body=b"code", ExpectedBucketOwner=OWNER)


def test_a_missing_bucket_is_still_not_found(server: LocalAws) -> None:
    s3 = client(server, "s3", f"arn:aws:iam::{OWNER}:role/deployer")
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket=f"e2p-fidelity-none-{next(_ids)}", ExpectedBucketOwner=OWNER)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_secret_policy_deny_refuses_get_secret_value(server: LocalAws) -> None:
    # GIVEN a secret whose policy denies GetSecretValue to every principal but the reader role
    reader = f"arn:aws:iam::{OWNER}:role/reader"
    admin = client(server, "secretsmanager", f"arn:aws:iam::{OWNER}:role/admin")
    arn = admin.create_secret(Name=f"e2p-fidelity-token-{next(_ids)}", SecretString="t0k3n")["ARN"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": [reader]}},
            }
        ],
    }
    admin.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(document))
    # THEN the reader gets the value
    assert client(server, "secretsmanager", reader).get_secret_value(SecretId=arn)["SecretString"] == "t0k3n"
    if server.fidelity:
        # and another principal of the same account is refused, as in AWS (an explicit deny wins)
        with pytest.raises(ClientError) as refused:
            admin.get_secret_value(SecretId=arn)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        # while metadata stays readable: the policy only names GetSecretValue
        assert admin.describe_secret(SecretId=arn)["ARN"] == arn
    else:
        # plain moto stores the policy and serves the value to anyone
        assert admin.get_secret_value(SecretId=arn)["SecretString"] == "t0k3n"


def test_a_bucket_policy_deny_applies_only_when_its_condition_holds(server: LocalAws) -> None:
    # GIVEN a bucket whose policy denies object writes to everyone but the deployer role
    bucket = f"e2p-fidelity-policy-{next(_ids)}-{int(server.fidelity)}"
    deployer_arn = f"arn:aws:iam::{OWNER}:role/deployer"
    deployer = client(server, "s3", deployer_arn)
    deployer.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [deployer_arn]}},
            }
        ],
    }
    deployer.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    other = client(server, "s3", f"arn:aws:iam::{OWNER}:role/developer")
    if server.fidelity:
        # THEN the deployer writes and another role of the account is refused, as in AWS
        deployer.put_object(Bucket=bucket, Key="lambda/x.zip", Body=b"code")
        with pytest.raises(ClientError) as refused:
            other.put_object(Bucket=bucket, Key="lambda/x.zip", Body=b"evil")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    else:
        # plain moto drops the condition: the Deny refuses the deployer too
        with pytest.raises(ClientError) as refused:
            deployer.put_object(Bucket=bucket, Key="lambda/x.zip", Body=b"code")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_cloudformation_creates_a_bucket_policy(server: LocalAws) -> None:
    # GIVEN a stack with a bucket and an AWS::S3::BucketPolicy on it
    name = f"e2p-fidelity-cfn-policy-{next(_ids)}-{int(server.fidelity)}"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{name}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    template = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}},
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": document},
            },
        }
    }
    role = f"arn:aws:iam::{OWNER}:role/deployer"
    cfn = client(server, "cloudformation", role)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    s3 = client(server, "s3", role)
    if server.fidelity:
        # THEN the bucket has the policy, as in AWS
        assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == document
    else:
        # plain moto skips the type: the bucket has no policy at all
        with pytest.raises(ClientError) as missing:
            s3.get_bucket_policy(Bucket=name)
        assert missing.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_get_secret_value_serves_the_version_labelled_current(server: LocalAws) -> None:
    # GIVEN a secret whose AWSCURRENT label is moved back to its first version
    admin = client(server, "secretsmanager", f"arn:aws:iam::{OWNER}:role/admin")
    arn = admin.create_secret(Name=f"e2p-fidelity-stage-{next(_ids)}", SecretString="first")["ARN"]
    stages = admin.describe_secret(SecretId=arn)["VersionIdsToStages"]
    (first,) = stages
    second = admin.put_secret_value(SecretId=arn, SecretString="second")["VersionId"]
    admin.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=first, RemoveFromVersionId=second
    )
    value = admin.get_secret_value(SecretId=arn)["SecretString"]
    if server.fidelity:
        # THEN GetSecretValue (no version, no stage) serves AWSCURRENT, as in AWS
        assert value == "first"
    else:
        # plain moto keeps serving the version it made current itself
        assert value == "second"
