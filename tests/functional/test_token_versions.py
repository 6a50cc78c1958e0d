"""`put_token` writes the token by version, never reading the value, and leaves it current (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from e2p.aws.token_secret import put_token, token_version_id
from e2p.console.results import Outcome
from e2p.local.aws import LocalAws

pytestmark = pytest.mark.functional

FIRST = "pnthr-first-token-0123456789abcdef"
SECOND = "pnthr-second-token-0123456789abcdef"


class NoReading:
    """The secrets client, with GetSecretValue forbidden (only the function may read the token)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name == "get_secret_value":
            raise AssertionError("put_token must not read the token")
        self.calls.append(name)
        return getattr(self._client, name)


def current(secrets: Any, arn: str) -> str:
    stages = secrets.describe_secret(SecretId=arn)["VersionIdsToStages"]
    (version,) = [v for v, labels in stages.items() if "AWSCURRENT" in labels]
    return str(version)


@pytest.fixture(scope="module")
def secrets_client() -> Iterator[Any]:
    """Secrets Manager of the local AWS (GetSecretValue serves AWSCURRENT there, as in AWS)."""
    with LocalAws() as local:
        yield boto3.client(
            "secretsmanager",
            endpoint_url=local.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def test_a_token_is_written_once_read_back_by_version_and_rotated_back(secrets_client: Any) -> None:
    raw = secrets_client
    arn = raw.create_secret(Name="e2p-token-versions", SecretString='{"token":""}')["ARN"]
    secrets = NoReading(raw)
    # GIVEN the placeholder WHEN a token is put THEN its derived version is current
    assert put_token(secrets, arn, FIRST) is Outcome.UPDATED
    assert current(raw, arn) == token_version_id(arn, FIRST)
    # AND putting it again changes nothing (no new version)
    calls_before = list(secrets.calls)
    assert put_token(secrets, arn, FIRST) is Outcome.UNCHANGED
    assert "put_secret_value" not in secrets.calls[len(calls_before) :]
    # WHEN rotated to a second token and back THEN the first token's version is current again
    assert put_token(secrets, arn, SECOND) is Outcome.UPDATED
    assert current(raw, arn) == token_version_id(arn, SECOND)
    assert put_token(secrets, arn, FIRST) is Outcome.UPDATED
    assert current(raw, arn) == token_version_id(arn, FIRST)
    assert raw.get_secret_value(SecretId=arn)["SecretString"] == FIRST


def test_the_version_id_is_a_uuid_that_depends_on_secret_and_token() -> None:
    a = token_version_id("arn:aws:secretsmanager:eu-west-1:1:secret:a", FIRST)
    assert len(a) == 36 and a.count("-") == 4
    assert a != token_version_id("arn:aws:secretsmanager:eu-west-1:1:secret:b", FIRST)
    assert a != token_version_id("arn:aws:secretsmanager:eu-west-1:1:secret:a", SECOND)
    assert FIRST not in a
