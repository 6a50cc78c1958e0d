"""Local fidelity: an asynchronous Lambda invoke is queued for the function (fidelity/lambda_async.py),
with the plain-moto companion showing the gap (moto tries to run it in Docker and queues nothing)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fake_aws import fake_credentials

from e2p.local.aws import LocalAws
from e2p.local.fidelity import lambda_async

pytestmark = pytest.mark.functional

REGION = "eu-west-1"


@pytest.fixture(scope="module", autouse=True)
def _fake_credentials() -> Iterator[None]:
    with fake_credentials(REGION):
        yield


def deployed_function(endpoint: str, name: str) -> Any:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return event\n")
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name=REGION)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return lam


@pytest.mark.parametrize("faithful", [True, False], ids=["fidelity", "plain-moto"])
def test_an_event_invoke_is_queued_for_the_function(faithful: bool) -> None:
    lambda_async.clear()
    with LocalAws(fidelity=faithful) as local:
        name = f"scheduled-{'f' if faithful else 'p'}-{os.getpid()}"
        lam = deployed_function(local.endpoint_url, name)
        payload = {"task": "directory-refresh", "accounts": ["111122223333"]}
        answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode())
        assert answer["StatusCode"] == 202  # both answer as Lambda does...
        queued = lambda_async.take(name)
    if faithful:
        assert queued == [payload]  # ...and Lambda keeps the request to run it
        assert lambda_async.take(name) == []  # taken once
    else:
        assert queued == []  # plain moto tried to run it at once (Docker) and kept nothing
