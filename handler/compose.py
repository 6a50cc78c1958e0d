"""Alert + envelope + account -> the Panther message, with the node and the context fields."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from handler.alert import Alert
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope
from handler.message import PantherMessage, fitted_message

_TAG_KEY = re.compile(r"[^a-z0-9]+")
# Tag keys are the few configured ones (E2P_ACCOUNT_TAG_KEYS or the accounts file).
_TAG_FIELD_CACHE: Final = 256
# The account's own fields: a family's fields never replace them.
_ACCOUNT_FIELDS: Final = frozenset({"account_id", "account_name", "account_alias", "ou_path"})


def node_for(account: AccountInfo, region: str, resource: str) -> str:
    """`<account name>/<region>[/<resource>]`: the monitored thing as operators name it."""
    parts = [account.label, region]
    if resource:
        parts.append(resource)
    return "/".join(parts)


@lru_cache(maxsize=_TAG_FIELD_CACHE)
def account_tag_field(key: str) -> str:
    return "account_tag_" + (_TAG_KEY.sub("_", key.lower()).strip("_") or "unnamed")


def compose(envelope: Envelope, alert: Alert, account: AccountInfo) -> PantherMessage:
    """`account`: the directory's entry for the alert's account (alert.account, else the envelope's)."""
    account_id = alert.account or envelope.account
    region = alert.region or envelope.region
    fields: dict[str, str] = {
        "account_id": account_id,
        "account_name": account.name,
        "account_alias": account.alias,
        "ou_path": account.ou_path,
        "region": region,
        "source": envelope.source,
        "detail_type": envelope.detail_type,
        "resource": alert.resource_arn or alert.resource,
        "event_id": envelope.id,
        "event_time": envelope.time,
        "external_id": alert.external_id or envelope.id,
    }
    if account.tags:
        for key, value in sorted(account.tags.items()):
            fields[account_tag_field(key)] = value
    # The family's own fields come last and may refine the generic ones (never the account's).
    # One update, then the account's values put back if a family named one of them: updating an
    # existing key keeps its place, so the order is the same as adding the fields one by one.
    fields.update(alert.fields)
    if not _ACCOUNT_FIELDS.isdisjoint(alert.fields):
        fields.update(
            account_id=account_id,
            account_name=account.name,
            account_alias=account.alias,
            ou_path=account.ou_path,
        )
    return fitted_message(
        node_for(account, region, alert.resource),
        alert.summary,
        int(alert.severity),
        alert.tag,
        identifier=alert.identifier,
        fields=fields,
    )
