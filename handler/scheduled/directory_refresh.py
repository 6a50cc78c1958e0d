"""Scheduled task "directory-refresh": write the account directory snapshot the forwarders read.

Inputs (the schedule rule's constant input, or a forwarder's asynchronous request):
- {"task": "directory-refresh"}: the whole organisation (names, OU paths, tags), and the aliases
  older than E2P_ALIAS_REFRESH_SECONDS;
- {"task": "directory-refresh", "accounts": ["123456789012", ...], "reason": "..."}: just those
  accounts, aliases included (an account-change event, or an account a forwarder did not know).

Configuration: handler.config.load_refresh_settings (E2P_DIRECTORY_SNAPSHOT, E2P_ORG_LOOKUP_ROLE_ARN,
E2P_ACCOUNT_TAG_KEYS, E2P_ALIAS_ROLE_NAME, E2P_ALIAS_REFRESH_SECONDS, E2P_ALIAS_CONCURRENCY).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from handler.config import RefreshSettings, load_refresh_settings
from handler.enrichment.alias_reader import CLIENT_CONFIG as ALIAS_CLIENT_CONFIG
from handler.enrichment.alias_reader import AliasReader
from handler.enrichment.assumed_role import STS_CLIENT_CONFIG, organizations_client_factory
from handler.enrichment.refresh import Refresher, RefreshReport, SnapshotStore
from handler.enrichment.snapshot_source import parse_location
from handler.exceptions import ConfigurationError

MAX_ACCOUNTS_PER_REQUEST: Final = 1000
_ACCOUNT_ID: Final = re.compile(r"^\d{12}$")


def requested_accounts(event: Mapping[str, Any]) -> list[str] | None:
    """The accounts the input names; None for a full refresh. Malformed ids are refused loudly."""
    raw = event.get("accounts")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(a, str) and _ACCOUNT_ID.match(a) for a in raw):
        raise ConfigurationError(f"'accounts' must be a list of 12-digit account ids, got {raw!r}")
    if len(raw) > MAX_ACCOUNTS_PER_REQUEST:
        return None  # that many is a full refresh anyway, and cheaper as one listing
    return list(raw)


def build_refresher(settings: RefreshSettings, session: Any) -> Refresher:
    """`session`: a boto3 Session with the scheduled function's own credentials."""
    partition = settings.org_lookup_role_arn.split(":")[1]
    organizations = organizations_client_factory(session, settings.org_lookup_role_arn)()
    aliases = None
    if settings.alias_role_name:
        sts = session.client("sts", config=STS_CLIENT_CONFIG)

        def iam_client(credentials: Mapping[str, Any]) -> Any:
            return session.client(
                "iam",
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=ALIAS_CLIENT_CONFIG,
            )

        aliases = AliasReader(
            sts, iam_client, settings.alias_role_name, partition, concurrency=settings.alias_concurrency
        )
    return Refresher(
        store=SnapshotStore(session.client("s3"), parse_location(settings.snapshot)),
        organizations=organizations,
        aliases=aliases,
        tag_keys=settings.account_tag_keys,
        alias_max_age_s=settings.alias_refresh_seconds,
        alias_reads_per_run=settings.alias_reads_per_run,
    )


def refresh(refresher: Refresher, event: Mapping[str, Any]) -> RefreshReport:
    accounts = requested_accounts(event)
    return refresher.full() if accounts is None else refresher.accounts(accounts)


def run(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    refresher = build_refresher(load_refresh_settings(), boto3.Session())
    summary = refresh(refresher, event).summary()
    summary["reason"] = str(event.get("reason", "schedule"))
    return summary
