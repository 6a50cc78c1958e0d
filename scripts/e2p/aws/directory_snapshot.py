"""The account directory snapshot (central output DirectorySnapshotUri), read by the CLI.

`e2p status` shows each account's IAM alias, and why it could not be read, from the snapshot the
scheduled refresh wrote: one GetObject, whatever the size of the organisation. No snapshot yet (the
first scheduled refresh has not run) is an empty directory, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handler.enrichment.snapshot import Snapshot, decode
from handler.enrichment.snapshot_source import parse_location

MISSING = frozenset({"NoSuchKey", "404"})


@dataclass(frozen=True, slots=True)
class AccountAlias:
    alias: str
    error: str  # why the last read failed ("" when it did not)

    def as_dict(self) -> dict[str, str]:
        return {"alias": self.alias, "alias_error": self.error}


def read_snapshot(s3: Any, uri: str) -> Snapshot | None:
    """The snapshot, or None when none was written yet. Other errors propagate (ClientError...)."""
    location = parse_location(uri)
    try:
        blob = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in MISSING:
            return None
        raise
    return decode(blob)


def aliases_of(snapshot: Snapshot | None) -> dict[str, AccountAlias]:
    if snapshot is None:
        return {}
    return {
        account_id: AccountAlias(entry.alias, entry.alias_error.split(":", 1)[0])
        for account_id, entry in snapshot.accounts.items()
    }
