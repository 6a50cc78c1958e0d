"""Security of the whole handler: TLS is verified unless told otherwise, and the Panther token never
leaves the places it must be (the secret, the X-Api-Token header).

"Never leaves" is checked everywhere the handler writes or shows something: every log record of
every logger at DEBUG (message, arguments, extra fields, exception text), stdout and stderr (the
CloudWatch metrics line included), the reasons of its decisions, the dead-letter queue's messages
and attributes, the reprs of the runtime's objects, and the text of the errors it raises.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_reliability_harness import (
    TOKEN,
    AwsWorld,
    Context,
    SqsLoop,
    aws_world,
    dead_letter_reason,
    drain_dead_letters,
    sample,
    settings_for,
    with_event_id,
)

from e2p.local import LocalPanther, local_tls
from handler import app
from handler import constants as env
from handler.config import load_settings
from handler.exceptions import ConfigurationError
from handler.runtime import build_runtime

pytestmark = pytest.mark.functional

STALE_TOKEN = "stale-" + uuid.uuid4().hex  # the value a rotation replaced: a secret all the same
WATCHED_LOGGERS = ("", "handler", "botocore", "boto3", "urllib3", "aws_lambda_powertools", "e2p")


class Everything(logging.Handler):
    """Keeps every record with all it carries: message, arguments, extra fields, exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = [record.getMessage(), repr(record.__dict__)]
        if record.exc_info:
            text.append(logging.Formatter().formatException(record.exc_info))
        self.texts.append("\n".join(text))


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[Everything]:
    everything = Everything()
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)  # restored after the test
        logging.getLogger(name).addHandler(everything)
    try:
        yield everything
    finally:
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(everything)


def leaks(text: str) -> list[str]:
    return [name for name, value in (("token", TOKEN), ("stale token", STALE_TOKEN)) if value in text]


# ---------------------------------------------------------------- TLS


@pytest.mark.parametrize("trust_the_ca", [False, True])
def test_tls_is_verified_by_default(tmp_path: Any, trust_the_ca: bool) -> None:
    server_context, ca_bundle = local_tls(tmp_path)
    extra = {env.CA_BUNDLE: str(ca_bundle)} if trust_the_ca else {}
    with aws_world() as world, LocalPanther(TOKEN, tls=server_context) as panther:
        assert panther.url.startswith("https://")
        runtime = build_runtime(settings_for(world, panther.url, **extra), world.session)
        result = SqsLoop([sample("guardduty/high.json").body]).run(
            lambda event: app.handle(event, Context(), runtime)
        )
        parked = drain_dead_letters(world)
        received = panther.received
    assert len(result.acked) == 1
    if trust_the_ca:
        assert received == 1 and parked == []
    else:
        # A self-signed Panther is refused; retrying cannot make it trusted: parked with the reason.
        assert received == 0
        assert "TLS certificate verification failed" in dead_letter_reason(parked[0])


def test_plain_http_needs_the_explicit_insecure_flag() -> None:
    base = {
        env.TOKEN_SECRET_ID: "panther-token",
        env.PANTHER_URL: "http://127.0.0.1:5001/api/event/create",
    }
    with pytest.raises(ConfigurationError, match="clear text"):
        load_settings(base)
    assert load_settings({**base, env.ALLOW_INSECURE_HTTP: "true"}).allow_insecure_http


# ---------------------------------------------------------------- the token stays secret


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AwsWorld, LocalPanther]]:
    with aws_world(secret_value=STALE_TOKEN) as world, LocalPanther(TOKEN) as panther:
        monkeypatch.setenv(env.PANTHER_URL, panther.url)
        monkeypatch.setenv(env.ALLOW_INSECURE_HTTP, "true")
        monkeypatch.setenv(env.TOKEN_SECRET_ID, world.secret_arn)
        monkeypatch.setenv(env.DEAD_LETTER_QUEUE_URL, world.dlq_url)
        monkeypatch.setenv(env.IDEMPOTENCY_TABLE, world.table)
        monkeypatch.setenv(env.TOKEN_CACHE_SECONDS, "3600")
        monkeypatch.setattr(app, "_runtime", None)
        yield world, panther


def test_the_token_appears_nowhere_the_handler_writes(
    lambda_environment: tuple[AwsWorld, LocalPanther],
    every_log_record: Everything,
    capfd: pytest.CaptureFixture[str],
) -> None:
    world, panther = lambda_environment
    # GIVEN a stale token in the secret (Panther refuses it) and a body that is not JSON
    refused = app.lambda_handler(
        sqs_event("refused", sample("guardduty/high.json").body, "{not json"), Context()
    )
    # WHEN the rotated token is in the secret and more events come
    world.session.client("secretsmanager").put_secret_value(
        SecretId=world.secret_arn, SecretString=json.dumps({"token": TOKEN})
    )
    bodies = [with_event_id(sample(name).body, f"sec-{n}") for n, name in enumerate(SECURITY_SAMPLES)]
    delivered = app.lambda_handler(sqs_event("ok", *bodies), Context())
    # THEN nothing was left for a retry, and the later messages went through (the token was used)
    assert refused == delivered == {"batchItemFailures": []}
    assert panther.received == len(bodies)
    # AND no copy of either token is anywhere
    printed = capfd.readouterr()
    parked = drain_dead_letters(world)
    assert len(parked) == 2  # the refused event and the invalid body, with their reasons
    shown = {
        "logs": "\n".join(every_log_record.texts),
        "stdout": printed.out,
        "stderr": printed.err,
        "dead letters": json.dumps(parked),
        "reprs": repr(runtime()) + repr(runtime().dispatcher) + repr(runtime().pipeline),
    }
    assert "MessagesDelivered" in printed.out  # the metrics lines are among what was checked
    assert "PantherAuthFailures" in printed.out
    assert {where: leaks(text) for where, text in shown.items() if leaks(text)} == {}


def sqs_event(prefix: str, *bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"{prefix}-{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
            for i, body in enumerate(bodies)
        ]
    }


SECURITY_SAMPLES = ("cloudtrail/root-create-access-key.json", "signin/root-without-mfa.json")


def runtime() -> Any:
    assert app._runtime is not None
    return app._runtime


@pytest.mark.parametrize(
    "secret_value",
    [
        '{"token": "' + TOKEN + '"',  # JSON cut short
        TOKEN + " " + TOKEN,  # a value no HTTP header can carry
        json.dumps({"tokne": TOKEN}),  # the wrong key
    ],
    ids=["json-cut-short", "space-inside", "wrong-key"],
)
def test_an_unusable_secret_retries_the_records_without_quoting_the_token(
    secret_value: str, every_log_record: Everything
) -> None:
    with aws_world(secret_value=secret_value) as world, LocalPanther(TOKEN) as panther:
        every_log_record.texts.clear()  # the test's own CreateSecret call is not the handler's
        runtime = build_runtime(settings_for(world, panther.url), world.session)
        loop = SqsLoop([sample("guardduty/high.json").body])
        loop.run_round(lambda event: app.handle(event, Context(), runtime))
        parked = drain_dead_letters(world)
    # A configuration problem is not the event's fault: the record goes back to the queue.
    assert loop.pending and parked == []
    [report] = loop.result.reports
    [(_, decision)] = report.decisions
    assert decision.reason.startswith("token unavailable")
    assert [text for text in (decision.reason, *every_log_record.texts) if leaks(text)] == []


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{TOKEN}@panther.example.com/api/event/create",
        f"https://panther.example.com/api/event/create?token={TOKEN}",
    ],
    ids=["credentials", "query-string"],
)
def test_configuration_errors_do_not_quote_a_token_put_in_the_url(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({env.PANTHER_URL: url, env.TOKEN_SECRET_ID: "panther-token"})
    assert env.PANTHER_URL in str(caught.value)
    assert leaks(str(caught.value)) == []
