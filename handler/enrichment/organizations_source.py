"""The account directory read from AWS Organizations, through a role in the management account.

`ListAccounts` and friends answer only in the management account (or a delegated administrator):
the client comes from `assumed_role.organizations_client_factory`, which assumes the lookup role.

Decisions:
- Every listed account is kept, whatever its State (SUSPENDED, PENDING_CLOSURE and CLOSED
  included): events keep arriving from a closing account, and its name is what operators know.
  The state is carried in `AccountInfo.state` for whoever wants to show it.
- An empty listing is a failure, not an empty organisation: an organisation always lists at least
  its management account, and an empty answer is what a role outside the management account gets
  (moto answers so; AWS refuses outright). Treating it as data would wipe a good cache.
- Throttling (TooManyRequestsException) is retried by the client's botocore retry mode, set where
  the client is made (`assumed_role.ORGANIZATIONS_CLIENT_CONFIG`), never by a loop here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from handler.enrichment.account import AccountInfo
from handler.enrichment.ou_tree import ou_paths
from handler.exceptions import AccountLookupError

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

OrganizationsClientFactory = Callable[[], "OrganizationsClient"]

# The largest page ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent accept
# (MaxResults 1-20 in the API model): fewest calls, so fewest chances to be throttled.
PAGE_SIZE = 20

EMPTY_LISTING_MESSAGE = (
    "Organizations listed no account: the lookup role is not in the management account "
    "(or a delegated administrator), or the account is not in an organisation"
)


class OrganizationsSource:
    def __init__(self, client_factory: OrganizationsClientFactory, tag_keys: Iterable[str] = ()) -> None:
        self._client_factory = client_factory
        self._tag_keys = frozenset(tag_keys)

    def load(self) -> dict[str, AccountInfo]:
        try:
            client = self._client_factory()
            listed = _list_accounts(client)
            if not listed:
                raise AccountLookupError(EMPTY_LISTING_MESSAGE)
            paths = ou_paths(client)
            # Tags cost one ListTagsForResource per account (no batch form exists): 1,000 accounts
            # means 1,000+ sequential calls per reload, tens of seconds and likely throttled (the
            # adaptive retry mode absorbs it). Hence only when tag keys are configured, and a TTL
            # counted in hours.
            tags = {account_id: _selected_tags(client, account_id, self._tag_keys) for account_id in listed}
        except (ClientError, BotoCoreError) as exc:
            raise AccountLookupError(f"Organizations lookup failed: {exc}") from exc
        return {
            account_id: AccountInfo(
                account_id=account_id,
                name=name,
                ou_path=paths.get(account_id, ""),
                tags=tags[account_id],
                state=state,
            )
            for account_id, (name, state) in listed.items()
        }


def _list_accounts(client: OrganizationsClient) -> dict[str, tuple[str, str]]:
    """Account id -> (name, state). `Status` is read only where `State` is absent (older APIs)."""
    listed: dict[str, tuple[str, str]] = {}
    for page in client.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
        for account in page["Accounts"]:
            if "Id" in account:
                state = account.get("State") or account.get("Status") or ""
                listed[account["Id"]] = (account.get("Name", ""), state)
    return listed


def _selected_tags(client: OrganizationsClient, account_id: str, keys: frozenset[str]) -> dict[str, str]:
    if not keys:
        return {}
    selected: dict[str, str] = {}
    for page in client.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id):
        for tag in page["Tags"]:
            if tag["Key"] in keys:
                selected[tag["Key"]] = tag["Value"]
    return selected
