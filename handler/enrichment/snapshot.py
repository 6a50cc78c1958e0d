"""The account directory snapshot: one object for the whole deployment, written out of band.

The scheduled refresh (handler.scheduled.directory_refresh) writes it; every forwarder container
reads it in one call at its cold start (handler.enrichment.snapshot_source). gzip-compressed JSON:

    {"format": 1,
     "generated_at": 1767225600.0,        # epoch seconds of the refresh that wrote it
     "names_read_at": 1767225600.0,       # last full Organizations listing (names, OU paths, tags)
     "accounts": {
        "123456789012": {"name": "payments-prod", "ou_path": "Root/Workloads/Prod",
                         "state": "ACTIVE", "tags": {"team": "payments"},
                         "alias": "acme-payments-prod",
                         "alias_read_at": 1767225600.0,   # 0: never read from the account
                         "alias_error": ""}}}              # why the last read failed, if it did

Empty values are left out (most accounts have no tags and some no alias); decoding fills them
back. Unknown keys are ignored so a newer writer never breaks an older reader; an unknown
`format` is refused (SnapshotFormatError) so an older writer's misreading cannot pass as data.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from handler.enrichment.account import AccountInfo
from handler.exceptions import AccountLookupError

FORMAT: Final = 1
# Compression level 6: within a few percent of 9 on this data, at a third of the time.
GZIP_LEVEL: Final = 6


class SnapshotFormatError(AccountLookupError):
    """The object is not a directory snapshot this code can read."""


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """One account as the refresh knows it: the AccountInfo fields plus the alias bookkeeping."""

    account_id: str
    name: str = ""
    ou_path: str = ""
    state: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    alias: str = ""
    alias_read_at: float = 0.0
    alias_error: str = ""

    def info(self) -> AccountInfo:
        return AccountInfo(
            account_id=self.account_id,
            name=self.name,
            alias=self.alias,
            ou_path=self.ou_path,
            tags=self.tags,
            state=self.state,
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    accounts: Mapping[str, SnapshotEntry]
    generated_at: float = 0.0
    names_read_at: float = 0.0

    def infos(self) -> dict[str, AccountInfo]:
        return {account_id: entry.info() for account_id, entry in self.accounts.items()}


EMPTY: Final = Snapshot(accounts={})


def encode(snapshot: Snapshot) -> bytes:
    accounts: dict[str, dict[str, Any]] = {}
    for account_id, entry in sorted(snapshot.accounts.items()):
        record: dict[str, Any] = {}
        for key in ("name", "ou_path", "state", "alias", "alias_error"):
            value = getattr(entry, key)
            if value:
                record[key] = value
        if entry.tags:
            record["tags"] = dict(entry.tags)
        if entry.alias_read_at:
            record["alias_read_at"] = entry.alias_read_at
        accounts[account_id] = record
    document = {
        "format": FORMAT,
        "generated_at": snapshot.generated_at,
        "names_read_at": snapshot.names_read_at,
        "accounts": accounts,
    }
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # mtime=0: the same directory gives the same bytes (and the same ETag) at every refresh.
    return gzip.compress(text, compresslevel=GZIP_LEVEL, mtime=0)


def decode(blob: bytes) -> Snapshot:
    try:
        document = json.loads(gzip.decompress(blob))
    except (OSError, EOFError, ValueError) as exc:  # gzip, zlib and JSON errors
        raise SnapshotFormatError(f"the directory snapshot is not gzip JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise SnapshotFormatError(f"directory snapshot format {found!r}, expected {FORMAT}")
    raw_accounts = document.get("accounts")
    if not isinstance(raw_accounts, dict):
        raise SnapshotFormatError("directory snapshot has no 'accounts' object")
    accounts = {
        str(account_id): _entry(str(account_id), record)
        for account_id, record in raw_accounts.items()
        if isinstance(record, dict)
    }
    return Snapshot(
        accounts=accounts,
        generated_at=_number(document.get("generated_at")),
        names_read_at=_number(document.get("names_read_at")),
    )


def _entry(account_id: str, record: Mapping[str, Any]) -> SnapshotEntry:
    tags = record.get("tags")
    return SnapshotEntry(
        account_id=account_id,
        name=_text(record.get("name")),
        ou_path=_text(record.get("ou_path")),
        state=_text(record.get("state")),
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        alias=_text(record.get("alias")),
        alias_read_at=_number(record.get("alias_read_at")),
        alias_error=_text(record.get("alias_error")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
