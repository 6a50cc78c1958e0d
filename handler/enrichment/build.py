"""build_directory: the account directory the function's settings ask for.

| role | file | mode     | source                                              |
|------|------|----------|-----------------------------------------------------|
| yes  | no   | -        | Organizations                                       |
| yes  | yes  | override | the file over Organizations (LayeredSource)         |
| any  | yes  | replace  | the file alone; no AWS call at all                  |
| no   | yes  | override | the file alone (nothing to override)                |
| no   | no   | -        | nothing: every message carries the account id only  |

The file is read once here, so a broken accounts file fails the cold start loudly instead of
silently costing every message its enrichment.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from handler.enrichment.directory import DEFAULT_MIN_RELOAD_INTERVAL_S, AccountDirectory, Clock
from handler.enrichment.layered import LayeredSource
from handler.enrichment.source import AccountSource, EmptySource
from handler.enrichment.static_file import StaticFileSource
from handler.exceptions import AccountLookupError, ConfigurationError

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

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
) -> AccountDirectory:
    """Raises ConfigurationError for an unknown mode, replace without a file, or a broken file."""
    source = select_source(
        role_arn=role_arn,
        accounts_file=accounts_file,
        file_mode=str(file_mode),
        tag_keys=tag_keys,
        base_session=base_session,
        region=region,
    )
    return AccountDirectory(source, ttl_s, clock, min_reload_interval_s=min_reload_interval_s)


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
