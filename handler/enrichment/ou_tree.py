"""OU path of every account, from one walk of the OU tree down from the root.

Why a walk and not `ListParents` per account: the walk costs one `ListRoots` plus two paginated
calls per OU and for the root (its accounts, its child OUs), so an organisation of 1,000 accounts in 40 OUs is
about 85 calls; `ListParents` would be 1,000 calls plus one per level of nesting to read OU names.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

ROOT_NAME = "Root"  # what Organizations names the root; used if a root comes back without a name
PATH_SEPARATOR = "/"
PAGE_SIZE = 20  # the most these listings accept (MaxResults 1-20)


def ou_paths(client: OrganizationsClient) -> dict[str, str]:
    """Account id -> "Root/Workloads/Prod". botocore errors propagate to the caller."""
    paths: dict[str, str] = {}
    pending: deque[tuple[str, str]] = deque(
        (root["Id"], root.get("Name") or ROOT_NAME)
        for page in client.get_paginator("list_roots").paginate()
        for root in page["Roots"]
        if "Id" in root
    )
    while pending:
        parent_id, path = pending.popleft()
        for page in client.get_paginator("list_accounts_for_parent").paginate(
            ParentId=parent_id, PaginationConfig={"PageSize": PAGE_SIZE}
        ):
            for account in page["Accounts"]:
                if "Id" in account:
                    paths[account["Id"]] = path
        for ou_page in client.get_paginator("list_organizational_units_for_parent").paginate(
            ParentId=parent_id, PaginationConfig={"PageSize": PAGE_SIZE}
        ):
            for unit in ou_page["OrganizationalUnits"]:
                if "Id" in unit:
                    pending.append((unit["Id"], path + PATH_SEPARATOR + unit.get("Name", unit["Id"])))
    return paths
