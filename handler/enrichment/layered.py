"""The accounts file over Organizations ("override" mode): the file corrects or completes.

For an account in both, each field the file gives (non-empty) wins and the others stay as
Organizations says; tags are merged key by key, the file's value winning. Accounts only in the
file are added (an outside account that sends events, say). Accounts only in Organizations stay.
The "replace" mode needs no layering: the file source is used alone and Organizations never called.
"""

from __future__ import annotations

from collections.abc import Mapping

from handler.enrichment.account import AccountInfo
from handler.enrichment.source import AccountSource


class LayeredSource:
    def __init__(self, override: AccountSource, base: AccountSource) -> None:
        self._override = override
        self._base = base

    def load(self) -> dict[str, AccountInfo]:
        # The file first: it is local and cheap, and when it is broken there is no point in
        # spending Organizations calls. Either failure propagates (AccountLookupError), so the
        # directory keeps its previous, complete data rather than half of it.
        override = self._override.load()
        return overlay(self._base.load(), override)


def overlay(base: Mapping[str, AccountInfo], override: Mapping[str, AccountInfo]) -> dict[str, AccountInfo]:
    merged = dict(base)
    for account_id, top in override.items():
        under = base.get(account_id)
        merged[account_id] = top if under is None else merge_account(under, top)
    return merged


def merge_account(under: AccountInfo, top: AccountInfo) -> AccountInfo:
    return AccountInfo(
        account_id=under.account_id,
        name=top.name or under.name,
        alias=top.alias or under.alias,
        ou_path=top.ou_path or under.ou_path,
        tags={**under.tags, **top.tags},
        state=top.state or under.state,
    )
