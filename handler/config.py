"""The handler's configuration: read from the environment once, at cold start, and validated.

A bad value raises ConfigurationError naming the variable and what to fix, so a misconfigured
function fails its first invocation loudly instead of dropping events quietly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from handler import constants as env
from handler.delivery.url import validate_panther_url
from handler.enrichment.account import NodeNaming
from handler.exceptions import ConfigurationError
from handler.idempotency import DEFAULT_TTL_S

# DynamoDB's rule for table names; a table ARN is accepted too (DynamoDB takes either as TableName).
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_TABLE_ARN = re.compile(r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$")
# Shorter than an hour would not outlive SQS's own redeliveries; the upper bound is the dead-letter
# queue's retention, beyond which no copy of the record can come back.
IDEMPOTENCY_TTL_MIN_S = 3600
IDEMPOTENCY_TTL_MAX_S = 14 * 86400


class AccountsFileMode(StrEnum):
    OVERRIDE = "override"  # the file corrects or completes what Organizations says
    REPLACE = "replace"  # the file is the whole directory; Organizations is never called


@dataclass(frozen=True, slots=True)
class Settings:
    panther_url: str
    token_secret_id: str = ""
    token_parameter_name: str = ""
    token_cache_seconds: float = 300.0
    allow_insecure_http: bool = False
    ca_bundle: str = ""
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 10.0
    max_attempts: int = 4
    delivery_concurrency: int = 25
    dead_letter_queue_url: str = ""
    org_lookup_role_arn: str = ""
    accounts_file: str = ""
    accounts_file_mode: AccountsFileMode = AccountsFileMode.OVERRIDE
    account_cache_seconds: float = 3600.0
    account_tag_keys: tuple[str, ...] = ()
    # The idempotency switch: a table name (or ARN) turns it on, empty turns it off. The central
    # template sets it from its IdempotencyEnabled parameter (on by default).
    idempotency_table: str = ""
    idempotency_ttl_seconds: int = DEFAULT_TTL_S
    # The organisation's mappings file (handler.mappings.organisation); empty: the built-in ones only.
    mappings_uri: str = ""
    # The coverage table (handler.coverage): member heartbeats are recorded there; empty: not recorded.
    coverage_table: str = ""
    # The account directory snapshot (s3://bucket/key): when set, the forwarder reads it instead of
    # listing Organizations, and asks the scheduled function (by name) for refreshes.
    directory_snapshot: str = ""
    directory_snapshot_seconds: float = 300.0
    directory_refresh_function: str = ""
    node_name: NodeNaming = NodeNaming.NAME

    @property
    def tls_verify(self) -> bool | str:
        """The CA bundle when one is configured, else True (the default trust store)."""
        return self.ca_bundle or True


@dataclass(frozen=True, slots=True)
class WatchdogSettings:
    """The coverage watchdog's configuration (handler.scheduled.watchdog), from the scheduled
    function's environment. Which pairs should forward: active accounts below `units` x `regions`,
    plus the management account x `management_regions` (its own stacks; empty when it has none)."""

    coverage_table: str
    event_bus_arn: str
    org_lookup_role_arn: str
    units: tuple[str, ...]
    regions: tuple[str, ...]
    management_account_id: str
    management_regions: tuple[str, ...] = ()
    stackset_name: str = ""
    heartbeat_minutes: int = 15
    missed_heartbeats: int = 3
    watched_queue_urls: tuple[str, ...] = ()
    read_enabled_regions: bool = True

    @property
    def silence_minutes(self) -> int:
        """A pair is silent after this long without a heartbeat (K missed intervals)."""
        return self.heartbeat_minutes * self.missed_heartbeats


def _list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in environ.get(name, "").split(",") if item.strip())


def _is_role_arn(arn: str) -> bool:
    return arn.startswith("arn:aws") and ":iam::" in arn and ":role/" in arn


def _table(environ: Mapping[str, str], name: str) -> str:
    table = environ.get(name, "").strip()
    if table and not (_TABLE_NAME.match(table) or _TABLE_ARN.match(table)):
        raise ConfigurationError(f"{name}={table!r} is not a DynamoDB table name or ARN")
    return table


def load_watchdog_settings(environ: Mapping[str, str] | None = None) -> WatchdogSettings:
    """Read and validate the watchdog's variables. Raises ConfigurationError on the first bad one."""
    environ = os.environ if environ is None else environ
    table = _table(environ, env.COVERAGE_TABLE)
    if not table:
        raise ConfigurationError(f"{env.COVERAGE_TABLE} is not set: the watchdog reads heartbeats there")
    bus = environ.get(env.EVENT_BUS_ARN, "").strip()
    if not re.match(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$", bus):
        raise ConfigurationError(f"{env.EVENT_BUS_ARN}={bus!r} is not an event bus ARN")
    management = environ.get(env.MANAGEMENT_ACCOUNT_ID, "").strip()
    if not re.match(r"^[0-9]{12}$", management):
        raise ConfigurationError(f"{env.MANAGEMENT_ACCOUNT_ID}={management!r} is not an account id")
    urls = _list(environ, env.WATCHED_QUEUE_URLS)
    for url in urls:
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"{env.WATCHED_QUEUE_URLS}: {url!r} is not an SQS queue URL")
    return WatchdogSettings(
        coverage_table=table,
        event_bus_arn=bus,
        org_lookup_role_arn=environ.get(env.ORG_LOOKUP_ROLE_ARN, "").strip(),
        units=_list(environ, env.COVERAGE_UNITS),
        regions=_list(environ, env.COVERAGE_REGIONS),
        management_account_id=management,
        management_regions=_list(environ, env.MANAGEMENT_REGIONS),
        stackset_name=environ.get(env.STACKSET_NAME, "").strip(),
        heartbeat_minutes=_integer(environ, env.HEARTBEAT_MINUTES, 15, 0, 1440),
        missed_heartbeats=_integer(environ, env.MISSED_HEARTBEATS, 3, 1, 100),
        watched_queue_urls=urls,
        read_enabled_regions=_bool(environ, env.READ_ENABLED_REGIONS, default=True),
    )


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"true", "1", "yes"}:
        return True
    if raw in {"false", "0", "no"}:
        return False
    raise ConfigurationError(f"{name}={raw!r}: expected true or false")


def _number(environ: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}={raw!r}: expected a number") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={raw}: expected a value from {_plain(low)} to {_plain(high)}")
    return value


def _plain(number: float) -> str:
    """1209600, not 1.2096e+06: the bound an operator types back into the variable."""
    return str(int(number)) if number == int(number) else f"{number:g}"


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _number(environ, name, default, low, high)
    if value != int(value):
        raise ConfigurationError(f"{name}={value}: expected a whole number")
    return int(value)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every E2P_* variable. Raises ConfigurationError on the first bad one."""
    environ = os.environ if environ is None else environ
    url = environ.get(env.PANTHER_URL, "").strip()
    if not url:
        raise ConfigurationError(f"{env.PANTHER_URL} is not set: the Panther event API URL is required")
    insecure = _bool(environ, env.ALLOW_INSECURE_HTTP, default=False)
    try:
        url = validate_panther_url(url, insecure)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{env.PANTHER_URL}: {exc}") from exc

    secret_id = environ.get(env.TOKEN_SECRET_ID, "").strip()
    parameter = environ.get(env.TOKEN_PARAMETER_NAME, "").strip()
    if bool(secret_id) == bool(parameter):
        raise ConfigurationError(
            f"set exactly one of {env.TOKEN_SECRET_ID} (Secrets Manager) or "
            f"{env.TOKEN_PARAMETER_NAME} (SSM SecureString) for the Panther token"
        )

    ca_bundle = environ.get(env.CA_BUNDLE, "").strip()
    if ca_bundle and not Path(ca_bundle).is_file():
        raise ConfigurationError(f"{env.CA_BUNDLE}={ca_bundle!r} is not a readable file")

    accounts_file = environ.get(env.ACCOUNTS_FILE, "").strip()
    if accounts_file and not Path(accounts_file).is_file():
        raise ConfigurationError(f"{env.ACCOUNTS_FILE}={accounts_file!r} is not a readable file")
    mode_raw = environ.get(env.ACCOUNTS_FILE_MODE, AccountsFileMode.OVERRIDE.value).strip().lower()
    try:
        mode = AccountsFileMode(mode_raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"{env.ACCOUNTS_FILE_MODE}={mode_raw!r}: expected override or replace"
        ) from exc
    if mode is AccountsFileMode.REPLACE and not accounts_file:
        raise ConfigurationError(f"{env.ACCOUNTS_FILE_MODE}=replace needs {env.ACCOUNTS_FILE}")

    role_arn = environ.get(env.ORG_LOOKUP_ROLE_ARN, "").strip()
    if role_arn and not _is_role_arn(role_arn):
        raise ConfigurationError(f"{env.ORG_LOOKUP_ROLE_ARN}={role_arn!r} is not an IAM role ARN")

    dlq_url = environ.get(env.DEAD_LETTER_QUEUE_URL, "").strip()
    if dlq_url and not dlq_url.startswith(("https://", "http://")):
        raise ConfigurationError(f"{env.DEAD_LETTER_QUEUE_URL}={dlq_url!r} is not an SQS queue URL")

    tag_keys = _list(environ, env.ACCOUNT_TAG_KEYS)

    table = environ.get(env.IDEMPOTENCY_TABLE, "").strip()
    if table and not (_TABLE_NAME.match(table) or _TABLE_ARN.match(table)):
        raise ConfigurationError(
            f"{env.IDEMPOTENCY_TABLE}={table!r} is not a DynamoDB table name or ARN "
            "(leave it empty to turn idempotency off)"
        )

    snapshot = _snapshot_uri(environ)
    node_raw = environ.get(env.NODE_NAME, NodeNaming.NAME.value).strip().lower() or NodeNaming.NAME.value
    try:
        node_name = NodeNaming(node_raw)
    except ValueError as exc:
        choices = " | ".join(n.value for n in NodeNaming)
        raise ConfigurationError(f"{env.NODE_NAME}={node_raw!r}: expected {choices}") from exc

    return Settings(
        panther_url=url,
        token_secret_id=secret_id,
        token_parameter_name=parameter,
        token_cache_seconds=_number(environ, env.TOKEN_CACHE_SECONDS, 300.0, 0, 86400),
        allow_insecure_http=insecure,
        ca_bundle=ca_bundle,
        connect_timeout_seconds=_number(environ, env.CONNECT_TIMEOUT_SECONDS, 3.05, 0.1, 60),
        read_timeout_seconds=_number(environ, env.READ_TIMEOUT_SECONDS, 10.0, 0.1, 300),
        max_attempts=_integer(environ, env.MAX_ATTEMPTS, 4, 1, 10),
        delivery_concurrency=_integer(environ, env.DELIVERY_CONCURRENCY, 25, 1, 64),
        dead_letter_queue_url=dlq_url,
        org_lookup_role_arn=role_arn,
        accounts_file=accounts_file,
        accounts_file_mode=mode,
        account_cache_seconds=_number(environ, env.ACCOUNT_CACHE_SECONDS, 3600.0, 0, 7 * 86400),
        account_tag_keys=tag_keys,
        idempotency_table=table,
        idempotency_ttl_seconds=_integer(
            environ, env.IDEMPOTENCY_TTL_SECONDS, DEFAULT_TTL_S, IDEMPOTENCY_TTL_MIN_S, IDEMPOTENCY_TTL_MAX_S
        ),
        coverage_table=_table(environ, env.COVERAGE_TABLE),
        directory_snapshot=snapshot,
        directory_snapshot_seconds=_number(environ, env.DIRECTORY_SNAPSHOT_SECONDS, 300.0, 10, 86400),
        directory_refresh_function=environ.get(env.DIRECTORY_REFRESH_FUNCTION, "").strip(),
        node_name=node_name,
        mappings_uri=_mappings_uri(environ),
    )


S3_SCHEME: Final = "s3://"


def s3_bucket_key(uri: str) -> tuple[str, str] | None:
    """s3://bucket/key/with/slashes -> (bucket, key); None for anything else. The one parser of the
    S3 URIs the settings carry (mappings file, directory snapshot)."""
    bucket, _, key = uri.removeprefix(S3_SCHEME).partition("/")
    if not uri.startswith(S3_SCHEME) or not bucket or not key:
        return None
    return bucket, key


def _mappings_uri(environ: Mapping[str, str]) -> str:
    """s3://bucket/key (what `e2p deploy --mappings` stores) or a readable file; "" for none."""
    uri = environ.get(env.MAPPINGS_URI, "").strip()
    if uri.startswith(S3_SCHEME):
        if s3_bucket_key(uri) is None:
            raise ConfigurationError(f"{env.MAPPINGS_URI}={uri!r}: expected s3://<bucket>/<key>")
    elif uri and not Path(uri).is_file():
        raise ConfigurationError(
            f"{env.MAPPINGS_URI}={uri!r}: expected s3://<bucket>/<key> or a readable file"
        )
    return uri


def _snapshot_uri(environ: Mapping[str, str]) -> str:
    uri = environ.get(env.DIRECTORY_SNAPSHOT, "").strip()
    if uri and s3_bucket_key(uri) is None:
        raise ConfigurationError(f"{env.DIRECTORY_SNAPSHOT}={uri!r}: expected s3://<bucket>/<key>")
    return uri


# Aliases change rarely and cost one AssumeRole + one call per account: a day by default, at least
# ten minutes (the names' schedule is hourly), at most thirty days.
ALIAS_REFRESH_DEFAULT_S = 86400
ALIAS_REFRESH_MIN_S = 600
ALIAS_REFRESH_MAX_S = 30 * 86400
ALIAS_CONCURRENCY_DEFAULT = 16
# Each alias read costs an AssumeRole, an IAM client and a TLS handshake (~25 ms of CPU at 256 MB):
# a run reads at most this many (the oldest first), so a 10,000-account organisation's aliases are
# spread over several hourly runs instead of overrunning one function's timeout.
ALIAS_READS_PER_RUN_DEFAULT = 2000
_ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """The scheduled directory refresh's configuration (handler.scheduled.directory_refresh)."""

    snapshot: str
    org_lookup_role_arn: str
    account_tag_keys: tuple[str, ...] = ()
    alias_role_name: str = ""  # empty: aliases are not read
    alias_refresh_seconds: float = ALIAS_REFRESH_DEFAULT_S
    alias_concurrency: int = ALIAS_CONCURRENCY_DEFAULT
    alias_reads_per_run: int = ALIAS_READS_PER_RUN_DEFAULT


def load_refresh_settings(environ: Mapping[str, str] | None = None) -> RefreshSettings:
    environ = os.environ if environ is None else environ
    snapshot = _snapshot_uri(environ)
    if not snapshot:
        raise ConfigurationError(
            f"{env.DIRECTORY_SNAPSHOT} is not set: where the directory snapshot is written"
        )
    role_arn = environ.get(env.ORG_LOOKUP_ROLE_ARN, "").strip()
    if not _is_role_arn(role_arn):
        raise ConfigurationError(f"{env.ORG_LOOKUP_ROLE_ARN}={role_arn!r} is not an IAM role ARN")
    alias_role = environ.get(env.ALIAS_ROLE_NAME, "").strip()
    if alias_role and not _ROLE_NAME.match(alias_role):
        raise ConfigurationError(f"{env.ALIAS_ROLE_NAME}={alias_role!r} is not an IAM role name")
    return RefreshSettings(
        snapshot=snapshot,
        org_lookup_role_arn=role_arn,
        account_tag_keys=_list(environ, env.ACCOUNT_TAG_KEYS),
        alias_role_name=alias_role,
        alias_refresh_seconds=_number(
            environ,
            env.ALIAS_REFRESH_SECONDS,
            ALIAS_REFRESH_DEFAULT_S,
            ALIAS_REFRESH_MIN_S,
            ALIAS_REFRESH_MAX_S,
        ),
        alias_concurrency=_integer(environ, env.ALIAS_CONCURRENCY, ALIAS_CONCURRENCY_DEFAULT, 1, 64),
        alias_reads_per_run=_integer(
            environ, env.ALIAS_READS_PER_RUN, ALIAS_READS_PER_RUN_DEFAULT, 1, 100_000
        ),
    )
