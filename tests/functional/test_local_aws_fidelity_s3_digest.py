"""The local AWS refuses an S3 upload whose stated SHA-256 is not the body's (BadDigest), as AWS
does; plain moto stores it. `e2p deploy` relies on it for the code zip and the mappings file."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2p.local.aws import LocalAws

pytestmark = pytest.mark.functional

REGION = "eu-west-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module", params=[True, False], ids=["faithful", "plain-moto"])
def server(request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    with LocalAws(fidelity=request.param) as local:
        yield local


def sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def test_a_body_that_is_not_the_stated_sha256_is_refused(server: LocalAws) -> None:
    # GIVEN a bucket, and an upload whose stated checksum is another body's
    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
        **KEYS,
    )
    bucket = f"e2p-fidelity-digest-{int(server.fidelity)}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    put = {
        "Bucket": bucket,
        "Key": "mappings/x.json",
        "Body": b'{"version":1,"mappings":[]}',
        "ChecksumAlgorithm": "SHA256",
    }

    # THEN the right checksum is stored (both), a wrong one is BadDigest and stores nothing (AWS)
    s3.put_object(**put, ChecksumSHA256=sha256(put["Body"]))
    damaged = {**put, "Key": "mappings/damaged.json"}
    if server.fidelity:
        with pytest.raises(ClientError) as refused:
            s3.put_object(**damaged, ChecksumSHA256=sha256(b"another body"))
        assert refused.value.response["Error"]["Code"] == "BadDigest"
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="mappings/damaged.json")
    else:
        # plain moto: the object is stored under a checksum that is not its own
        s3.put_object(**damaged, ChecksumSHA256=sha256(b"another body"))
        s3.head_object(Bucket=bucket, Key="mappings/damaged.json")
