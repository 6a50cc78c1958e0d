"""Wiring: builds, once per container, everything an invocation needs from the Settings.

AWS clients and the HTTP session are created here and passed in; nothing below this module
creates its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.config import Config

from handler.alert import MapResult
from handler.config import Settings
from handler.dead_letter import DeadLetterQueue
from handler.delivery.client import PantherClient
from handler.delivery.fanout import Dispatcher, Sender
from handler.delivery.gate import adaptive_gate
from handler.delivery.session import build_session
from handler.enrichment.build import build_directory
from handler.enrichment.directory import AccountDirectory
from handler.envelope import Envelope
from handler.idempotency import LedgeredSender
from handler.log_safety import cap_sdk_debug_logging
from handler.pipeline import Pipeline
from handler.token import SecretsManagerToken, SsmParameterToken, TokenProvider


class BotocoreSession:
    """What the runtime asks of a boto3 Session (`client`, `region_name`), on botocore alone.

    Same credential chain, region and clients; boto3's own layer (resources, s3transfer; ~30 ms of
    imports on the bench machine) is not loaded for clients the function makes with botocore anyway.
    """

    def __init__(self) -> None:
        import botocore.session

        self._session = botocore.session.get_session()

    @property
    def botocore_session(self) -> Any:
        return self._session

    @property
    def region_name(self) -> str | None:
        region = self._session.get_config_variable("region")
        return str(region) if region else None

    def client(self, service_name: str, **options: Any) -> Any:
        return self._session.create_client(service_name, **options)


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
# finds its own record. The ledger retries what is safe (handler.idempotency_dynamodb).
IDEMPOTENCY_CLIENT_CONFIG: Final = Config(
    # total_max_attempts counts the first call ("max_attempts" would count retries only).
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 1},
)


# The delivery workers wait on sockets while the invocation's thread maps the next records. CPython
# lets a computing thread keep the interpreter lock for up to its switch interval (5 ms by default)
# before a worker whose answer has arrived may run; 0.5 ms keeps answers from queueing behind the
# mapping. e2p bench, batch 100 / concurrency 16, five paired runs: efficiency 0.72-0.75 -> 0.76-0.81.
GIL_SWITCH_INTERVAL_S: Final = 0.0005


def _account_change_handler(directory: AccountDirectory) -> Callable[[Envelope], None]:
    """An account-change event asks for a refresh of the accounts it names (snapshot mode)."""
    from handler.enrichment.changes import refresh_scope

    return lambda envelope: directory.account_changed(refresh_scope(envelope))


def build_runtime(
    settings: Settings,
    session: Any = None,
    *,
    wrap_sender: Callable[[Sender], Sender] | None = None,
    directory: AccountDirectory | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Runtime:
    """`session` is a boto3.Session, or anything with its `client()` and `region_name` (the
    function's own credentials, through botocore, when None).

    Built on the container's first invocation, not at import (handler.app): the Secrets Manager
    client is made here because the first invocation needs the token anyway; the dead-letter
    queue's SQS client on the first dead letter, which most containers never write.

    The keyword arguments are for tests and the local tools: `wrap_sender` goes between the
    idempotency ledger and the Panther client (where a crash or a scripted failure is injected),
    `directory` replaces the one the settings describe, `sleep` is the client's wait between attempts.
    """
    cap_sdk_debug_logging()
    # Process-wide, and the function's process is its own: never raised if something set it lower.
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))

    session = session or BotocoreSession()
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
        # DeliveryConcurrency is the most requests in flight; how many are is learnt from Panther.
        gate=adaptive_gate(settings.delivery_concurrency),
    )
    sender: Sender = wrap_sender(client) if wrap_sender else client
    ledgered: LedgeredSender | None = None
    if settings.idempotency_table:
        # Only with a table: this module imports powertools' idempotency package and boto3.
        from handler.idempotency_dynamodb import DynamoDBLedger

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
        snapshot=settings.directory_snapshot or None,
        snapshot_ttl_s=settings.directory_snapshot_seconds,
        refresh_function=settings.directory_refresh_function or None,
        naming=settings.node_name,
    )
    dead_letters = DeadLetterQueue(
        None, settings.dead_letter_queue_url, client_factory=lambda: session.client("sqs")
    )
    heartbeats = None
    if settings.coverage_table:
        from handler.coverage.heartbeat import DynamoDBCoverageTable

        # The idempotency table's client settings: quick errors, and the record goes back to SQS.
        heartbeats = DynamoDBCoverageTable(
            session.client("dynamodb", config=IDEMPOTENCY_CLIENT_CONFIG), settings.coverage_table
        )
    pipeline = Pipeline(
        directory,
        dispatcher,
        dead_letters,
        idempotency=ledgered,
        heartbeats=heartbeats,
        on_directory_change=_account_change_handler(directory),
        mapper=_event_mapper(settings, session),
    )
    return Runtime(settings, pipeline, directory, dispatcher)


def _event_mapper(settings: Settings, session: Any) -> Callable[[Envelope], MapResult]:
    """The declarative mappings, compiled here, at cold start: the built-in file, overridden by the
    organisation's (E2P_MAPPINGS_URI) when there is one. A file that cannot be read or compiled
    raises MappingsError, a ConfigurationError: the invocation fails and its records stay queued."""
    from handler.mappers import builtin_mappings, event_mapper, map_event

    builtin_mappings()
    if not settings.mappings_uri:
        return map_event
    from handler.mappings.organisation import load_organisation_mappings

    return event_mapper(load_organisation_mappings(settings.mappings_uri, lambda: session.client("s3")))
