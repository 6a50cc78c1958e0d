"""A misconfigured function fails its first invocation, before any record is touched, with a message
that says what to fix; a missing secret leaves the records for a retry (it is not their fault)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_reliability_harness import (
    TOKEN,
    AwsWorld,
    Context,
    aws_world,
    drain_dead_letters,
    sample,
)

from e2p.local import LocalPanther
from handler import app
from handler import constants as env
from handler.exceptions import ConfigurationError

pytestmark = [
    pytest.mark.functional,
    # Powertools' metrics decorator warns when a failed invocation flushes no metric: expected here.
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AwsWorld, LocalPanther]]:
    """A working configuration in the environment, as the central template sets it."""
    with aws_world() as world, LocalPanther(TOKEN) as panther:
        monkeypatch.setenv(env.PANTHER_URL, panther.url)
        monkeypatch.setenv(env.ALLOW_INSECURE_HTTP, "true")
        monkeypatch.setenv(env.TOKEN_SECRET_ID, world.secret_arn)
        monkeypatch.setenv(env.DEAD_LETTER_QUEUE_URL, world.dlq_url)
        monkeypatch.setenv(env.IDEMPOTENCY_TABLE, world.table)
        monkeypatch.setattr(app, "_runtime", None)  # a cold start
        yield world, panther


def batch() -> dict[str, object]:
    return {
        "Records": [
            {
                "messageId": "m0",
                "body": sample("guardduty/high.json").body,
                "attributes": {"ApproximateReceiveCount": "1"},
            }
        ]
    }


def accounts_file(tmp_path: Path, document: object) -> str:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_the_working_configuration_delivers(deployed: tuple[AwsWorld, LocalPanther]) -> None:
    # The baseline the cases below break one variable of.
    _, panther = deployed
    assert app.lambda_handler(batch(), Context()) == {"batchItemFailures": []}
    assert panther.received == 1


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (env.PANTHER_URL, "panther.example.com/api/event/create", "must start with https://"),
        (env.PANTHER_URL, "https://panther.example.com/", "must end with /api/event/create"),
        (env.ALLOW_INSECURE_HTTP, "false", "clear text"),
        (env.ACCOUNTS_FILE_MODE, "merge", "expected override or replace"),
        (env.IDEMPOTENCY_TABLE, "events2panther idempotency", "not a DynamoDB table name"),
        (env.IDEMPOTENCY_TTL_SECONDS, "60", "E2P_IDEMPOTENCY_TTL_SECONDS=60"),
    ],
)
def test_a_bad_variable_fails_the_first_invocation_naming_it(
    deployed: tuple[AwsWorld, LocalPanther],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    says: str,
) -> None:
    world, panther = deployed
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        app.lambda_handler(batch(), Context())
    message = str(caught.value)
    assert says in message
    assert variable in message or variable == env.ALLOW_INSECURE_HTTP  # http:// is the URL's fault
    # Nothing was touched: SQS gives the whole batch back after the failed invocation.
    assert panther.received == 0 and drain_dead_letters(world) == []


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"accounts": [{"id": "12345", "name": "short id"}]}, "12 digits"),
        ({"accounts": [{"id": "111122223333", "nmae": "typo"}]}, "nmae"),
        ({"acounts": []}, "acounts"),
    ],
)
def test_a_malformed_accounts_file_fails_the_first_invocation(
    deployed: tuple[AwsWorld, LocalPanther],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    document: object,
    says: str,
) -> None:
    _, panther = deployed
    path = accounts_file(tmp_path, document)
    monkeypatch.setenv(env.ACCOUNTS_FILE, path)
    with pytest.raises(ConfigurationError) as caught:
        app.lambda_handler(batch(), Context())
    assert path in str(caught.value) and says in str(caught.value)
    assert panther.received == 0


def test_a_missing_secret_returns_the_records_for_retry(
    deployed: tuple[AwsWorld, LocalPanther], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, panther = deployed
    monkeypatch.setenv(env.TOKEN_SECRET_ID, "events2panther/no-such-secret")
    # The secret is read when the first message needs it: the invocation runs, the record comes back.
    report = app.handle(batch(), Context(), app.get_runtime())
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    [(_, decision)] = report.decisions
    assert decision.reason.startswith("token unavailable")
    assert "ResourceNotFoundException" in decision.reason
    assert panther.received == 0 and drain_dead_letters(world) == []
