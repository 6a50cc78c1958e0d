"""The directory refresh: Organizations (+ tags) and IAM aliases -> the snapshot in S3.

Two modes, one write:
- full (the schedule): one listing of the organisation (ListAccounts pages of 20, the OU walk,
  ListTagsForResource per account when tag keys are set), and the alias of every account whose
  alias is older than `alias_max_age_s` (never read, or read long ago). Accounts Organizations no
  longer lists leave the snapshot.
- accounts (an account-change event or a forwarder's miss): DescribeAccount, its OU path and tags
  for just those accounts, and their aliases read again whatever their age.

The write is conditional on the snapshot read at the start (If-Match its ETag, or If-None-Match *
when there was none), so two refreshes running at once (a scheduled one and a requested one) never
lose each other's update: the loser reads the new snapshot, merges its results into it, and
writes again.

Alias bookkeeping per account: `alias_read_at` is the time of the last attempt, `alias_error` why
it failed. A failed read does not erase an alias read earlier (an alias seen once is still the best
name we have); an account never read successfully simply has no alias.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handler.enrichment.account import AccountInfo
from handler.enrichment.alias_reader import AliasRead, AliasReader
from handler.enrichment.organizations_account import read_account
from handler.enrichment.organizations_source import OrganizationsSource
from handler.enrichment.snapshot import EMPTY, Snapshot, SnapshotEntry, decode, encode
from handler.enrichment.snapshot_source import SnapshotLocation
from handler.exceptions import AccountLookupError, aws_error_code

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS: Final = 4
CONFLICT_CODES: Final = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
MISSING_CODES: Final = frozenset({"NoSuchKey", "404"})


class SnapshotConflictError(AccountLookupError):
    """Another refresh wrote the snapshot since it was read."""


class SnapshotStore:
    """The snapshot object, read with its ETag and written conditionally on it."""

    def __init__(self, s3: Any, location: SnapshotLocation) -> None:
        self._s3 = s3
        self._location = location

    def read(self) -> tuple[Snapshot, str]:
        """(snapshot, etag); (EMPTY, "") when there is none yet."""
        try:
            answer = self._s3.get_object(Bucket=self._location.bucket, Key=self._location.key)
            blob = answer["Body"].read()
        except ClientError as exc:
            if aws_error_code(exc) in MISSING_CODES:
                return EMPTY, ""
            raise AccountLookupError(f"cannot read {self._location.uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise AccountLookupError(f"cannot read {self._location.uri}: {exc}") from exc
        return decode(blob), str(answer.get("ETag", ""))

    def write(self, snapshot: Snapshot, etag: str) -> int:
        """Bytes written. SnapshotConflictError when the object changed since `etag` was read."""
        blob = encode(snapshot)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self._s3.put_object(
                Bucket=self._location.bucket,
                Key=self._location.key,
                Body=blob,
                ContentType="application/json",
                ContentEncoding="gzip",
                **condition,
            )
        except ClientError as exc:
            if aws_error_code(exc) in CONFLICT_CODES:
                raise SnapshotConflictError(f"{self._location.uri} changed while refreshing") from exc
            raise AccountLookupError(f"cannot write {self._location.uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise AccountLookupError(f"cannot write {self._location.uri}: {exc}") from exc
        return len(blob)


@dataclass(slots=True)
class RefreshReport:
    mode: str
    accounts: int = 0
    removed: int = 0
    aliases_read: int = 0
    aliases_resolved: int = 0
    alias_failures: dict[str, int] = field(default_factory=dict)
    snapshot_bytes: int = 0
    write_attempts: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "accounts": self.accounts,
            "removed": self.removed,
            "aliases_read": self.aliases_read,
            "aliases_resolved": self.aliases_resolved,
            "alias_failures": dict(self.alias_failures),
            "snapshot_bytes": self.snapshot_bytes,
            "write_attempts": self.write_attempts,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Refresher:
    store: SnapshotStore
    organizations: Any  # the lookup role's Organizations client
    aliases: AliasReader | None
    tag_keys: tuple[str, ...] = ()
    alias_max_age_s: float = 86400.0
    clock: Callable[[], float] = time.time
    alias_reads_per_run: int = 2000

    def full(self) -> RefreshReport:
        started = time.monotonic()
        now = self.clock()
        listed = OrganizationsSource(lambda: self.organizations, self.tag_keys).load()
        previous, etag = self.store.read()
        due = [a for a in listed if self._alias_due(previous.accounts.get(a), now)]
        # The oldest first (never read: 0), at most alias_reads_per_run: the rest wait for the next run.
        due.sort(key=lambda a: (previous.accounts[a].alias_read_at if a in previous.accounts else 0.0, a))
        reads = self._read_aliases(due[: self.alias_reads_per_run])

        def merge(base: Snapshot) -> tuple[Snapshot, int]:
            entries = {a: _entry(info, base.accounts.get(a), reads.get(a), now) for a, info in listed.items()}
            removed = sum(1 for a in base.accounts if a not in listed)
            return Snapshot(entries, generated_at=now, names_read_at=now), removed

        report = self._write(merge, previous, etag, "full")
        report.aliases_read = len(reads)
        return self._finish(report, reads, started)

    def accounts(self, account_ids: Iterable[str]) -> RefreshReport:
        started = time.monotonic()
        now = self.clock()
        wanted = sorted({a for a in account_ids if a})
        found: dict[str, AccountInfo | None] = {
            a: read_account(self.organizations, a, self.tag_keys) for a in wanted
        }
        reads = self._read_aliases([a for a, info in found.items() if info is not None])
        previous, etag = self.store.read()

        def merge(base: Snapshot) -> tuple[Snapshot, int]:
            entries = dict(base.accounts)
            removed = 0
            for account_id, info in found.items():
                if info is None:
                    removed += int(entries.pop(account_id, None) is not None)
                else:
                    entries[account_id] = _entry(
                        info, base.accounts.get(account_id), reads.get(account_id), now
                    )
            return Snapshot(entries, generated_at=now, names_read_at=base.names_read_at), removed

        report = self._write(merge, previous, etag, "accounts")
        report.aliases_read = len(reads)
        return self._finish(report, reads, started)

    # -- parts -----------------------------------------------------------------------------------

    def _alias_due(self, previous: SnapshotEntry | None, now: float) -> bool:
        if self.aliases is None:
            return False
        return previous is None or now - previous.alias_read_at >= self.alias_max_age_s

    def _read_aliases(self, account_ids: list[str]) -> dict[str, AliasRead]:
        if self.aliases is None or not account_ids:
            return {}
        return self.aliases.read(account_ids).reads

    def _write(
        self,
        merge: Callable[[Snapshot], tuple[Snapshot, int]],
        previous: Snapshot,
        etag: str,
        mode: str,
    ) -> RefreshReport:
        report = RefreshReport(mode)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            snapshot, removed = merge(previous)
            report.write_attempts = attempt
            try:
                report.snapshot_bytes = self.store.write(snapshot, etag)
            except SnapshotConflictError:
                if attempt == WRITE_ATTEMPTS:
                    raise
                logger.info("directory snapshot changed during the refresh: merging into the new one")
                previous, etag = self.store.read()
                continue
            report.accounts = len(snapshot.accounts)
            report.removed = removed
            report.aliases_resolved = sum(1 for e in snapshot.accounts.values() if e.alias)
            return report
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _finish(report: RefreshReport, reads: Mapping[str, AliasRead], started: float) -> RefreshReport:
        report.alias_failures = dict(Counter(r.error.split(":", 1)[0] for r in reads.values() if not r.ok))
        report.seconds = time.monotonic() - started
        return report


def _entry(
    info: AccountInfo, previous: SnapshotEntry | None, read: AliasRead | None, now: float
) -> SnapshotEntry:
    alias = previous.alias if previous else ""
    alias_read_at = previous.alias_read_at if previous else 0.0
    alias_error = previous.alias_error if previous else ""
    if read is not None:
        alias_read_at = now
        if read.ok:
            alias, alias_error = read.alias, ""
        else:
            alias_error = read.error
    return SnapshotEntry(
        account_id=info.account_id,
        name=info.name,
        ou_path=info.ou_path,
        state=info.state,
        tags=dict(info.tags),
        alias=alias,
        alias_read_at=alias_read_at,
        alias_error=alias_error,
    )
