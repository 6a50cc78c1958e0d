"""build_directory: the account directory the function's settings ask for.

| role | file | mode     | source                                              |
|------|------|----------|-----------------------------------------------------|
| yes  | no   | -        | Organizations                                       |
| yes  | yes  | override | the file over Organizations (LayeredSource)         |
| any  | yes  | replace  | the file alone; no AWS call at all                  |
| no   | yes  | override | the file alone (nothing to override)                |
| no   | no   | -        | nothing: every message carries the account id only  |

With a snapshot location (E2P_DIRECTORY_SNAPSHOT) the Organizations column reads "the snapshot"
instead: the forwarder reads the object the scheduled refresh writes (one GetObject), never
Organizations, and asks that refresh (E2P_DIRECTORY_REFRESH_FUNCTION) for accounts it misses.

The file is read once here, so a broken accounts file fails the cold start loudly instead of
silently costing every message its enrichment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from handler.enrichment.account import NodeNaming
from handler.enrichment.directory import DEFAULT_MIN_RELOAD_INTERVAL_S, AccountDirectory, Clock
from handler.enrichment.layered import LayeredSource
from handler.enrichment.source import AccountSource, EmptySource
from handler.enrichment.static_file import StaticFileSource
from handler.exceptions import AccountLookupError, ConfigurationError

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

# These calls run on the delivery path (a cold start's snapshot read, a miss's refresh request):
# short timeouts and few attempts, so a slow S3 or Lambda API costs seconds, not botocore's minutes.
SNAPSHOT_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3}
)
REQUEST_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2}
)

MODE_OVERRIDE = "override"
MODE_REPLACE = "replace"
FILE_MODES = (MODE_OVERRIDE, MODE_REPLACE)


def build_directory(
    *,
    role_arn: str | None,
    accounts_file: str | None,
    file_mode: str = MODE_OVERRIDE,
    ttl_s: float,
    tag_keys: tuple[str, ...] = (),
    base_session: boto3.Session | None = None,
    region: str | None = None,
    min_reload_interval_s: float = DEFAULT_MIN_RELOAD_INTERVAL_S,
    clock: Clock = time.monotonic,
    snapshot: str | None = None,
    snapshot_ttl_s: float = 300.0,
    refresh_function: str | None = None,
    naming: NodeNaming = NodeNaming.NAME,
) -> AccountDirectory:
    """Raises ConfigurationError for an unknown mode, replace without a file, or a broken file."""
    if snapshot and file_mode != MODE_REPLACE:
        return _snapshot_directory(
            snapshot=snapshot,
            accounts_file=accounts_file,
            ttl_s=snapshot_ttl_s,
            base_session=base_session,
            refresh_function=refresh_function,
            min_reload_interval_s=min_reload_interval_s,
            clock=clock,
            naming=naming,
        )
    source = select_source(
        role_arn=role_arn,
        accounts_file=accounts_file,
        file_mode=str(file_mode),
        tag_keys=tag_keys,
        base_session=base_session,
        region=region,
    )
    return AccountDirectory(source, ttl_s, clock, min_reload_interval_s=min_reload_interval_s, naming=naming)


def _snapshot_directory(
    *,
    snapshot: str,
    accounts_file: str | None,
    ttl_s: float,
    base_session: boto3.Session | None,
    refresh_function: str | None,
    min_reload_interval_s: float,
    clock: Clock,
    naming: NodeNaming,
) -> AccountDirectory:
    from handler.enrichment.refresh_request import RefreshRequester
    from handler.enrichment.snapshot_source import S3SnapshotSource, parse_location

    location = parse_location(snapshot)
    session = base_session if base_session is not None else _default_session()
    s3 = _lazy_client(session, "s3", SNAPSHOT_CLIENT_CONFIG)
    source: AccountSource = S3SnapshotSource(s3, location)
    if accounts_file:
        source = LayeredSource(override=_checked_file_source(accounts_file), base=source)
    requester = (
        RefreshRequester(
            _lazy_client(session, "lambda", REQUEST_CLIENT_CONFIG), refresh_function, clock=clock
        )
        if refresh_function
        else None
    )
    return AccountDirectory(
        source,
        ttl_s,
        clock,
        min_reload_interval_s=min(min_reload_interval_s, ttl_s),
        naming=naming,
        requester=requester,
    )


def _default_session() -> boto3.Session:
    import boto3

    return boto3.Session()


def _lazy_client(session: boto3.Session, service: str, config: Config) -> Callable[[], Any]:
    """A client made on first use (most containers never ask for a refresh) and then shared."""
    lock = threading.Lock()
    made: list[Any] = []

    def client() -> Any:
        with lock:
            if not made:
                made.append(session.client(service, config=config))  # type: ignore[call-overload]
            return made[0]

    return client


def select_source(
    *,
    role_arn: str | None,
    accounts_file: str | None,
    file_mode: str,
    tag_keys: tuple[str, ...],
    base_session: boto3.Session | None,
    region: str | None,
) -> AccountSource:
    if file_mode not in FILE_MODES:
        raise ConfigurationError(f"accounts file mode {file_mode!r}: expected one of {FILE_MODES}")
    file_source = _checked_file_source(accounts_file) if accounts_file else None
    if file_mode == MODE_REPLACE:
        if file_source is None:
            raise ConfigurationError("accounts file mode 'replace' needs an accounts file")
        if role_arn:
            logger.info("accounts file mode is 'replace': the Organizations lookup role is not used")
        return file_source
    if not role_arn:
        return file_source or EmptySource()
    organizations = _organizations_source(role_arn, tag_keys, base_session, region)
    if file_source is None:
        return organizations
    return LayeredSource(override=file_source, base=organizations)


def _checked_file_source(path: str) -> StaticFileSource:
    source = StaticFileSource(path)
    try:
        source.load()
    except AccountLookupError as exc:
        raise ConfigurationError(str(exc)) from exc
    return source


def _organizations_source(
    role_arn: str, tag_keys: tuple[str, ...], base_session: boto3.Session | None, region: str | None
) -> AccountSource:
    # Imported here: boto3 and botocore stay off the cold-start path when no role is configured.
    from handler.enrichment.assumed_role import organizations_client_factory
    from handler.enrichment.organizations_source import OrganizationsSource

    if base_session is None:
        import boto3

        base_session = boto3.Session()
    return OrganizationsSource(organizations_client_factory(base_session, role_arn, region), tag_keys)
