"""Configuration is validated once, and a bad value says which variable and what to fix."""

from __future__ import annotations

import pytest

from handler import constants as env
from handler.config import AccountsFileMode, load_settings
from handler.exceptions import ConfigurationError

BASE = {
    env.PANTHER_URL: "https://acme.app.panther.support/api/event/create",
    env.TOKEN_SECRET_ID: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:panther-token-AbCdEf",
}


def test_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.tls_verify is True
    assert settings.accounts_file_mode is AccountsFileMode.OVERRIDE
    assert settings.max_attempts >= 1 and settings.delivery_concurrency >= 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({env.PANTHER_URL: ""}, "E2P_PANTHER_URL is not set"),
        ({env.PANTHER_URL: "http://panther.local/api/event/create"}, "http://"),
        ({env.PANTHER_URL: "https://panther.local/"}, "/api/event/create"),
        ({env.TOKEN_PARAMETER_NAME: "/panther/token"}, "exactly one of"),
        ({env.TOKEN_SECRET_ID: ""}, "exactly one of"),
        ({env.MAX_ATTEMPTS: "zero"}, "E2P_MAX_ATTEMPTS='zero': expected a number"),
        ({env.MAX_ATTEMPTS: "2.5"}, "whole number"),
        ({env.DELIVERY_CONCURRENCY: "500"}, "E2P_DELIVERY_CONCURRENCY=500"),
        ({env.ALLOW_INSECURE_HTTP: "maybe"}, "expected true or false"),
        ({env.CA_BUNDLE: "/nonexistent/ca.pem"}, "E2P_CA_BUNDLE"),
        ({env.ACCOUNTS_FILE_MODE: "replace"}, "needs E2P_ACCOUNTS_FILE"),
        ({env.ACCOUNTS_FILE_MODE: "merge"}, "expected override or replace"),
        ({env.ORG_LOOKUP_ROLE_ARN: "events2panther-org-lookup"}, "not an IAM role ARN"),
        ({env.DEAD_LETTER_QUEUE_URL: "my-dlq"}, "not an SQS queue URL"),
        ({env.IDEMPOTENCY_TABLE: "e2p idempotency"}, "E2P_IDEMPOTENCY_TABLE='e2p idempotency'"),
        ({env.IDEMPOTENCY_TABLE: "arn:aws:s3:::bucket"}, "not a DynamoDB table name or ARN"),
        ({env.IDEMPOTENCY_TTL_SECONDS: "600"}, "E2P_IDEMPOTENCY_TTL_SECONDS=600: expected a value from 3600"),
        ({env.IDEMPOTENCY_TTL_SECONDS: "2000000"}, "to 1209600"),
        ({env.IDEMPOTENCY_TTL_SECONDS: "1 day"}, "expected a number"),
    ],
)
def test_bad_values_fail_early_with_the_variable_named(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, **override})
    assert message in str(caught.value)


def test_http_is_allowed_only_with_the_explicit_flag() -> None:
    settings = load_settings(
        {**BASE, env.PANTHER_URL: "http://127.0.0.1:5001/api/event/create", env.ALLOW_INSECURE_HTTP: "true"}
    )
    assert settings.allow_insecure_http


def test_tag_keys_are_split_and_trimmed(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings({**BASE, env.ACCOUNT_TAG_KEYS: " team, cost-centre ,,", env.CA_BUNDLE: str(ca)})
    assert settings.account_tag_keys == ("team", "cost-centre")
    assert settings.tls_verify == str(ca)


def test_idempotency_is_off_unless_a_table_is_named() -> None:
    # The template always sets the variable: the table's name when IdempotencyEnabled, else "".
    assert load_settings(BASE).idempotency_table == ""
    assert load_settings({**BASE, env.IDEMPOTENCY_TABLE: "  "}).idempotency_table == ""


@pytest.mark.parametrize(
    "table",
    [
        "events2panther-central-IdempotencyTable-1ABCDEF2GHIJ3",
        "arn:aws:dynamodb:eu-west-1:111122223333:table/events2panther-idempotency",
    ],
)
def test_a_table_name_or_arn_turns_idempotency_on(table: str) -> None:
    settings = load_settings({**BASE, env.IDEMPOTENCY_TABLE: f" {table} "})
    assert settings.idempotency_table == table
    assert settings.idempotency_ttl_seconds == 14 * 86400


def test_the_idempotency_ttl_is_configurable_in_whole_seconds() -> None:
    settings = load_settings({**BASE, env.IDEMPOTENCY_TTL_SECONDS: "1209600"})
    assert settings.idempotency_ttl_seconds == 14 * 86400
    with pytest.raises(ConfigurationError, match="whole number"):
        load_settings({**BASE, env.IDEMPOTENCY_TTL_SECONDS: "3600.5"})


def test_a_token_pasted_into_the_url_is_not_repeated_in_the_error() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    for url in (
        f"https://panther.example.com/{secret}",
        f"https://panther.example.com/api/event/create?token={secret}",
        f"https://user:{secret}@panther.example.com/api/event/create",
    ):
        with pytest.raises(ConfigurationError) as caught:
            load_settings({**BASE, env.PANTHER_URL: url})
        assert secret not in str(caught.value)
