"""AWS sessions for the accounts a command acts in: management, central, and member accounts.

The management (or delegated administrator) session comes from the standard credential chain
(`--profile`, environment, SSO, instance role). The central account is reached by assuming
`central.role_arn` when it is set; a member account by assuming `<member.access_role_name>` in it.
Every client is created here, so `--endpoint-url` (or AWS_ENDPOINT_URL) reaches all of them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from botocore.session import get_session

from e2p.exceptions import CredentialsError, E2PError
from handler.log_safety import cap_sdk_debug_logging

ENDPOINT_VARIABLE: Final = "AWS_ENDPOINT_URL"
SESSION_NAME: Final = "e2p"
PARTITION: Final = "aws"
# STS and Organizations answer from any region; this one is always enabled.
FALLBACK_REGION: Final = "us-east-1"
CLIENT_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="e2p")
# Local endpoints are addressed by IP or localhost, where virtual-hosted bucket names cannot resolve.
LOCAL_S3_CONFIG: Final = CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}))


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """What Sessions needs from the config: how to reach each kind of account."""

    central_account_id: str | None = None
    central_role_arn: str | None = None
    management_account_id: str | None = None
    management_role_arn: str | None = None
    member_role_name: str = "OrganizationAccountAccessRole"
    delegated_admin: bool = False


def resolve_endpoint(flag: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return flag or environ.get(ENDPOINT_VARIABLE) or None


class Sessions:
    def __init__(
        self,
        base: boto3.Session,
        *,
        endpoint_url: str | None = None,
        access: AccessSettings | None = None,
        default_region: str | None = None,
    ) -> None:
        # The CLI writes the Panther token with PutSecretValue: keep botocore's DEBUG bodies out.
        cap_sdk_debug_logging()
        self._base = base
        self.endpoint_url = endpoint_url
        self.access = access or AccessSettings()
        self.default_region = default_region or base.region_name or FALLBACK_REGION
        self._lock = threading.RLock()
        self._assumed: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[int, str, str], Any] = {}
        self._caller_account: str | None = None
        self._management_account: str | None = self.access.management_account_id

    @classmethod
    def from_options(
        cls,
        *,
        profile: str | None,
        region: str | None,
        endpoint_url: str | None,
        access: AccessSettings | None = None,
    ) -> Sessions:
        try:
            base = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as exc:
            raise CredentialsError(f"AWS profile {profile!r} not found") from exc
        return cls(base, endpoint_url=resolve_endpoint(endpoint_url), access=access, default_region=region)

    def with_access(self, access: AccessSettings) -> Sessions:
        return Sessions(
            self._base, endpoint_url=self.endpoint_url, access=access, default_region=self.default_region
        )

    # -- clients -------------------------------------------------------------------------------------

    def client(self, session: boto3.Session, service: str, region: str | None = None) -> Any:
        """A client of `service` in `region`, through the configured endpoint.

        Clients are kept per session, service and region: building one costs more than most calls,
        and a client (unlike a session) is safe to share between threads.
        """
        config = LOCAL_S3_CONFIG if service == "s3" and self.endpoint_url else CLIENT_CONFIG
        region = region or self.default_region
        key = (id(session), service, region)
        # boto3 sessions are not safe to build clients from in several threads at once.
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                )
                self._clients[key] = client
            return client

    # -- identities ----------------------------------------------------------------------------------

    def caller_account(self) -> str:
        """The account of the configured credentials; raises CredentialsError when there are none."""
        if self._caller_account is None:
            if self._base.get_credentials() is None:
                raise CredentialsError(
                    "no AWS credentials found: use --profile, AWS_PROFILE, "
                    "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                )
            try:
                identity = self.client(self._base, "sts").get_caller_identity()
            except NoCredentialsError as exc:
                raise CredentialsError("no AWS credentials found") from exc
            except ClientError as exc:
                raise CredentialsError(f"the AWS credentials were refused: {_error_text(exc)}") from exc
            except BotoCoreError as exc:
                raise CredentialsError(f"cannot check the AWS credentials: {exc}") from exc
            self._caller_account = str(identity["Account"])
        return self._caller_account

    def management_account(self) -> str:
        """The organisation's management account id (from the config, else Organizations)."""
        if self._management_account is None:
            try:
                organization = self.client(self.admin(), "organizations").describe_organization()
            except ClientError as exc:
                raise CredentialsError(
                    f"cannot read the organisation with the current credentials: {_error_text(exc)}"
                ) from exc
            self._management_account = str(organization["Organization"]["MasterAccountId"])
        return self._management_account

    # -- sessions ------------------------------------------------------------------------------------

    def admin(self) -> boto3.Session:
        """The session that runs StackSet and Organizations calls: management or delegated admin."""
        self.caller_account()
        return self._base

    def management(self) -> boto3.Session:
        caller = self.caller_account()
        if self.access.management_role_arn:
            return self.assume(self.access.management_role_arn)
        management = self.management_account()
        if caller != management:
            raise CredentialsError(
                f"the credentials are account {caller}, not the management account {management}; "
                "set management.role_arn to reach it"
            )
        return self._base

    def central(self) -> boto3.Session:
        caller = self.caller_account()
        if self.access.central_role_arn:
            return self.assume(self.access.central_role_arn)
        central = self.access.central_account_id
        if central and caller != central:
            raise CredentialsError(
                f"the credentials are account {caller}, not the central account {central}; "
                "set central.role_arn (e.g. its OrganizationAccountAccessRole)"
            )
        return self._base

    def member(self, account_id: str) -> boto3.Session:
        """A session inside `account_id`, through its access role (or the management session itself)."""
        if account_id == self.caller_account():
            return self._base
        if account_id == self.management_account():
            return self.management()
        return self.assume(f"arn:{PARTITION}:iam::{account_id}:role/{self.access.member_role_name}")

    def assume(self, role_arn: str) -> boto3.Session:
        with self._lock:
            cached = self._assumed.get(role_arn)
            if cached is not None:
                return cached
        session = refreshing_session(self.client(self._base, "sts"), role_arn, region=self.default_region)
        with self._lock:
            self._assumed[role_arn] = session
        return session


def refreshing_session(sts: Any, role_arn: str, *, region: str | None) -> boto3.Session:
    """A session in `role_arn` whose credentials renew themselves before they expire.

    AssumeRole credentials last one hour by default; a StackSet rollout or a replay over many
    accounts can outlast them. botocore's RefreshableCredentials calls `fetch` again when fewer
    than 15 minutes are left (10 minutes: mandatory), so no step after the first hour fails on
    ExpiredToken. The first fetch happens here, so a refused role fails at once with its reason.
    """

    def fetch() -> dict[str, str]:
        try:
            credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        except ClientError as exc:
            raise CredentialsError(f"cannot assume {role_arn}: {_error_text(exc)}") from exc
        except NoCredentialsError as exc:
            raise CredentialsError("no AWS credentials found") from exc
        expiration = credentials["Expiration"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiration.isoformat() if hasattr(expiration, "isoformat") else str(expiration),
        }

    refreshable = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    core = get_session()
    # botocore has no public setter for a session's credentials object; this is the attribute
    # its own credential resolver fills, and what boto3 reads through get_credentials().
    core._credentials = refreshable  # type: ignore[attr-defined]
    return boto3.Session(botocore_session=core, region_name=region)


def _error_text(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()


# What a step across accounts and regions catches, records with error_text and goes on from.
AWS_ERRORS: Final = (ClientError, BotoCoreError, E2PError)


def error_text(exc: BaseException) -> str:
    """One line for an AWS error, for the failure tables."""
    if isinstance(exc, ClientError):
        return _error_text(exc)
    return str(exc) or type(exc).__name__
