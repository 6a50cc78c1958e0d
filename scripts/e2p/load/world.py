"""The in-process AWS the handler runs against locally: moto with the Panther token secret, the
handler's dead-letter queue and the idempotency table (the central stack's shape: partition key
`id`, TTL attribute `expiration`). Used by `e2p load` and the functional reliability tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from unittest import mock

import boto3
from moto import mock_aws

from e2p.local.fidelity import dynamodb
from handler import constants as env
from handler.config import Settings, load_settings

REGION: Final = "us-east-1"
TABLE: Final = "e2p-idempotency"
SECRET_NAME: Final = "panther-token"  # noqa: S105 -- a name, not a secret
DLQ_NAME: Final = "e2p-dlq"
FAKE_AWS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Settings that could send a request past moto to a real account.
UNSAFE_AWS: Final = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


class Context:
    """The part of the Lambda context the handler reads."""

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass(frozen=True)
class AwsWorld:
    secret_arn: str
    dlq_url: str
    table: str
    session: Any  # boto3.Session


def create_idempotency_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )


@contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Fake credentials and no profile or endpoint override for the duration: nothing can reach a
    real account (for callers outside the tests, whose conftest does the same)."""
    with mock.patch.dict(os.environ, FAKE_AWS):
        saved = {name: os.environ.pop(name) for name in UNSAFE_AWS if name in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


@contextmanager
def aws_world(token: str, *, secret_value: str | None = None, idempotency: bool = True) -> Iterator[AwsWorld]:
    """moto with the secret holding `token` (or `secret_value` verbatim), the DLQ and, with
    `idempotency`, the table (AwsWorld.table is "" without it). Call with fake credentials in place."""
    dynamodb.install()  # the ledger's claims race from delivery threads: moto must write atomically
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        secret = session.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=secret_value or json.dumps({"token": token})
        )
        dlq = session.client("sqs").create_queue(QueueName=DLQ_NAME)["QueueUrl"]
        if idempotency:
            create_idempotency_table(session.client("dynamodb"))
        yield AwsWorld(secret["ARN"], dlq, TABLE if idempotency else "", session)


def settings_for(world: AwsWorld, panther_url: str, *, idempotency: bool = True, **extra: str) -> Settings:
    return load_settings(
        {
            env.PANTHER_URL: panther_url,
            env.ALLOW_INSECURE_HTTP: "true" if panther_url.startswith("http://") else "false",
            env.TOKEN_SECRET_ID: world.secret_arn,
            env.DEAD_LETTER_QUEUE_URL: world.dlq_url,
            env.IDEMPOTENCY_TABLE: world.table if idempotency else "",
            env.READ_TIMEOUT_SECONDS: "2",
            env.MAX_ATTEMPTS: "3",
            **extra,
        }
    )
