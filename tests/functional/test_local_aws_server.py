"""LocalAws itself: a loopback server that changes nothing process-wide and can be reset."""

from __future__ import annotations

import os

import boto3
import pytest

from e2p.local.aws import DEFAULT_ACCOUNT_ID, LocalAws

pytestmark = pytest.mark.functional

FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_server_is_local_leaves_the_environment_alone_and_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    environment = dict(os.environ)
    with LocalAws() as local:
        assert local.endpoint_url.startswith("http://127.0.0.1:")
        assert dict(os.environ) == environment  # no MOTO_ACCOUNT_ID, no AWS_* variables
        sts = boto3.client("sts", endpoint_url=local.endpoint_url, region_name="us-east-1", **FAKE_KEYS)
        assert sts.get_caller_identity()["Account"] == DEFAULT_ACCOUNT_ID
        sqs = boto3.client("sqs", endpoint_url=local.endpoint_url, region_name="us-east-1", **FAKE_KEYS)
        sqs.create_queue(QueueName="forgotten-by-reset")
        local.fidelity_log.add("dropped", "TEST", "an entry reset must clear")

        local.reset()

        assert sqs.list_queues().get("QueueUrls", []) == []
        assert local.fidelity_log.entries() == []
