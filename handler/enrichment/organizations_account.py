"""One account read from Organizations: for a targeted refresh (one changed or unknown account).

DescribeAccount (name, state), then ListParents up to the root, naming each OU on the way with
DescribeOrganizationalUnit (2 calls per level), then ListTagsForResource when tag keys are
configured. An account Organizations does not know (AccountNotFoundException: it left, or was
never in the organisation) is answered None: the refresh drops it from the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handler.enrichment.account import AccountInfo
from handler.enrichment.organizations_source import _selected_tags
from handler.enrichment.ou_tree import PATH_SEPARATOR, ROOT_NAME
from handler.exceptions import AccountLookupError, aws_error_code

NOT_FOUND: Final = "AccountNotFoundException"
MAX_DEPTH: Final = 6  # Organizations nests OUs at most five levels below the root


def read_account(client: Any, account_id: str, tag_keys: Iterable[str]) -> AccountInfo | None:
    try:
        account = client.describe_account(AccountId=account_id)["Account"]
    except ClientError as exc:
        if aws_error_code(exc) == NOT_FOUND:
            return None
        raise AccountLookupError(f"DescribeAccount {account_id}: {exc}") from exc
    except BotoCoreError as exc:
        raise AccountLookupError(f"DescribeAccount {account_id}: {exc}") from exc
    try:
        path = _ou_path(client, account_id)
        tags = _selected_tags(client, account_id, frozenset(tag_keys))
    except (ClientError, BotoCoreError) as exc:
        raise AccountLookupError(f"OU path or tags of {account_id}: {exc}") from exc
    return AccountInfo(
        account_id=account_id,
        name=str(account.get("Name", "")),
        ou_path=path,
        tags=tags,
        state=str(account.get("State") or account.get("Status") or ""),
    )


def _ou_path(client: Any, child_id: str) -> str:
    names: list[str] = []
    current = child_id
    for _ in range(MAX_DEPTH):
        parents = client.list_parents(ChildId=current)["Parents"]
        if not parents:
            break
        parent = parents[0]
        if parent.get("Type") == "ROOT":
            names.append(ROOT_NAME)
            break
        unit = client.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]
        names.append(str(unit.get("Name") or parent["Id"]))
        current = parent["Id"]
    return PATH_SEPARATOR.join(reversed(names))
