"""Wiring: builds, once per container, everything an invocation needs from the Settings.

AWS clients and the HTTP session are created here and passed in; nothing below this module
creates its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.config import Config

from handler.config import Settings
from handler.dead_letter import DeadLetterQueue
from handler.delivery.client import PantherClient
from handler.delivery.fanout import Dispatcher, Sender
from handler.delivery.session import build_session
from handler.enrichment.build import build_directory
from handler.enrichment.directory import AccountDirectory
from handler.idempotency import DynamoDBLedger, LedgeredSender
from handler.log_safety import cap_sdk_debug_logging
from handler.pipeline import Pipeline
from handler.token import SecretsManagerToken, SsmParameterToken, TokenProvider


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    pipeline: Pipeline
    directory: AccountDirectory
    dispatcher: Dispatcher


# The idempotency store must never hold deliveries up: DynamoDB answers in milliseconds, so short
# timeouts and few retries turn an outage into a quick error (and a delivery without the ledger)
# instead of botocore's defaults (60 s timeouts, DynamoDB's 10 legacy attempts) eating the deadline.
# No retries by botocore: a claim is a conditional put, and one sent again after a lost answer
# finds its own record. The ledger retries what is safe (handler.idempotency).
IDEMPOTENCY_CLIENT_CONFIG: Final = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1}
)


def build_runtime(
    settings: Settings,
    session: Any = None,
    *,
    wrap_sender: Callable[[Sender], Sender] | None = None,
    directory: AccountDirectory | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Runtime:
    """`session` is a boto3.Session (the function's own credentials when None).

    The keyword arguments are for tests and the local tools: `wrap_sender` goes between the
    idempotency ledger and the Panther client (where a crash or a scripted failure is injected),
    `directory` replaces the one the settings describe, `sleep` is the client's wait between attempts.
    """
    import boto3

    cap_sdk_debug_logging()

    session = session or boto3.Session()
    tokens: TokenProvider
    if settings.token_secret_id:
        tokens = SecretsManagerToken(
            session.client("secretsmanager"), settings.token_secret_id, settings.token_cache_seconds
        )
    else:
        tokens = SsmParameterToken(
            session.client("ssm"), settings.token_parameter_name, settings.token_cache_seconds
        )
    client = PantherClient(
        build_session(settings.delivery_concurrency),
        settings.panther_url,
        tokens,
        connect_timeout_s=settings.connect_timeout_seconds,
        read_timeout_s=settings.read_timeout_seconds,
        max_attempts=settings.max_attempts,
        verify=settings.tls_verify,
        sleep=sleep,
    )
    sender: Sender = wrap_sender(client) if wrap_sender else client
    ledgered: LedgeredSender | None = None
    if settings.idempotency_table:
        ledger = DynamoDBLedger(
            session.client("dynamodb", config=IDEMPOTENCY_CLIENT_CONFIG),
            settings.idempotency_table,
            settings.idempotency_ttl_seconds,
        )
        sender = ledgered = LedgeredSender(sender, ledger)
    dispatcher = Dispatcher(sender, settings.delivery_concurrency)
    directory = directory or build_directory(
        role_arn=settings.org_lookup_role_arn or None,
        accounts_file=settings.accounts_file or None,
        file_mode=settings.accounts_file_mode.value,
        ttl_s=settings.account_cache_seconds,
        tag_keys=settings.account_tag_keys,
        base_session=session,
    )
    dead_letters = DeadLetterQueue(session.client("sqs"), settings.dead_letter_queue_url)
    pipeline = Pipeline(directory, dispatcher, dead_letters, idempotency=ledgered)
    return Runtime(settings, pipeline, directory, dispatcher)
