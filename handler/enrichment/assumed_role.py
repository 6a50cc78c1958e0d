"""Clients that act as a role in another account, with credentials that renew themselves.

The lookup Lambda lives for hours and AssumeRole credentials for one: the credentials are botocore
DeferredRefreshableCredentials, which call AssumeRole on first use and again before they expire
(botocore refreshes 15 minutes ahead, and blocks callers only in the last 10), under their own
lock, so one client can be shared by threads for the container's life.

Organizations is a global service with one endpoint per partition: botocore's endpoint rules send
any region of the partition there (checked with botocore 1.44: a client for eu-west-1 or
ap-southeast-2 calls https://organizations.us-east-1.amazonaws.com, cn-north-1 calls
cn-northwest-1, us-gov-east-1 calls us-gov-west-1). So the Lambda's own region is the right one to
pass, which keeps China and GovCloud working; us-east-1 is only the fallback when none is known.

The role's client has a botocore session of its own (its only credentials are the role's), but it
shares the base session's data loader: a new loader parses botocore's endpoint, partition and
defaults files again, ~100 ms of the first invocation on the bench machine.

IAM account aliases (`iam:ListAccountAliases`) are per account: the scheduled refresh reads them
through the alias-reader role of each account (`alias_reader`), with short-lived clients of its own.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

if TYPE_CHECKING:
    from collections.abc import Callable

    import boto3
    from botocore.client import BaseClient
    from mypy_boto3_organizations import OrganizationsClient

DEFAULT_SESSION_NAME = "events2panther-lookup"
ASSUME_ROLE_DURATION_S = 3600  # every role allows at least one hour
ORGANIZATIONS_FALLBACK_REGION = "us-east-1"
CREDENTIALS_METHOD = "events2panther-assume-role"

# Adaptive: standard retries (TooManyRequestsException is one of its throttling codes, with capped
# exponential backoff) plus a client-side rate limiter that slows the per-account tag pass down
# instead of hitting the throttle again and again. Timeouts bound how long a lookup can stall.
ORGANIZATIONS_CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=15,
)
STS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10
)


def shared_data_loader(base_session: Any) -> Any | None:
    """The botocore data loader of `base_session` (a boto3 Session, or handler.runtime's
    BotocoreSession), or None when it has none to share (a stand-in session in tests)."""
    inner = getattr(base_session, "botocore_session", None) or getattr(base_session, "_session", None)
    if not isinstance(inner, botocore.session.Session):
        return None
    return inner.get_component("data_loader")


class _FixedCredentialProvider(CredentialProvider):
    METHOD = CREDENTIALS_METHOD

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


class AssumedRoleClientFactory:
    """Callable giving one client (made on first call, then shared) acting as `role_arn`."""

    def __init__(
        self,
        base_session: boto3.Session,
        role_arn: str,
        service: str,
        region: str | None,
        session_name: str = DEFAULT_SESSION_NAME,
        *,
        config: Config | None = None,
        duration_s: int = ASSUME_ROLE_DURATION_S,
    ) -> None:
        self._base_session = base_session
        self._role_arn = role_arn
        self._service = service
        self._region = region or base_session.region_name
        self._session_name = session_name
        self._config = config
        self._duration_s = duration_s
        self._lock = threading.Lock()
        self._client: BaseClient | None = None

    def __call__(self) -> BaseClient:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> BaseClient:
        sts = self._base_session.client("sts", config=STS_CLIENT_CONFIG)

        def assume() -> dict[str, str]:
            credentials = sts.assume_role(
                RoleArn=self._role_arn,
                RoleSessionName=self._session_name,
                DurationSeconds=self._duration_s,
            )["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        # A botocore session of its own, whose only credential source is the assumed role: the
        # base session's credentials can never be used by mistake for the lookups.
        role_session = botocore.session.Session()
        loader = shared_data_loader(self._base_session)
        if loader is not None:
            role_session.register_component("data_loader", loader)
        provider = _FixedCredentialProvider(DeferredRefreshableCredentials(assume, CREDENTIALS_METHOD))
        role_session.register_component("credential_provider", CredentialResolver([provider]))
        client: BaseClient = role_session.create_client(
            self._service, region_name=self._region, config=self._config
        )
        return client


def assumed_role_client_factory(
    base_session: boto3.Session,
    role_arn: str,
    service: str,
    region: str | None,
    session_name: str = DEFAULT_SESSION_NAME,
    *,
    config: Config | None = None,
    duration_s: int = ASSUME_ROLE_DURATION_S,
) -> Callable[[], BaseClient]:
    return AssumedRoleClientFactory(
        base_session, role_arn, service, region, session_name, config=config, duration_s=duration_s
    )


def organizations_client_factory(
    base_session: boto3.Session,
    role_arn: str,
    region: str | None = None,
    session_name: str = DEFAULT_SESSION_NAME,
) -> Callable[[], OrganizationsClient]:
    """The lookup role's Organizations client, with the retry configuration that absorbs throttling."""
    factory = AssumedRoleClientFactory(
        base_session,
        role_arn,
        "organizations",
        region or base_session.region_name or ORGANIZATIONS_FALLBACK_REGION,
        session_name,
        config=ORGANIZATIONS_CLIENT_CONFIG,
    )
    return cast("Callable[[], OrganizationsClient]", factory)
