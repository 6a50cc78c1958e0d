"""Directory figures of `e2p bench --scale`: the refresh (names, tags, aliases) and the cold read.

- refresh: the scheduled task's full run (handler.enrichment.refresh.Refresher) against the scale
  world in moto: ListAccounts pages of 20, the OU walk, ListTagsForResource per account (tag keys
  set), then the alias pass (AssumeRole + ListAccountAliases per account, 16 at a time), then one
  conditional PutObject. Names+tags and aliases are timed and counted apart (aliases run on their
  own, slower interval). moto answers in microseconds and never throttles: the wall time is a floor;
  the call counts are what AWS would see.
- cold read: a forwarder container's first directory load: one GetObject of the snapshot and its
  decoding (S3SnapshotSource.load), the median of several fresh sources; at the scale world's size,
  and at `large_accounts` (10,000 by default) with a snapshot synthesised with the same shape
  (names, 2-3 level OU paths, two tags, an alias per account): building 10,000 accounts in moto
  measures moto, not the snapshot.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Final

from e2p.bench.call_count import counting_calls
from e2p.bench.scale_world import ALIAS_ROLE, TAG_KEYS, ScaleOrganisation

BUCKET: Final = "e2p-bench-directory"
KEY: Final = "directory/accounts.json.gz"
COLD_READS: Final = 5


def _calls_total(calls: Any, prefixes: tuple[str, ...]) -> int:
    return sum(n for name, n in calls.items() if name.startswith(prefixes))


def measure_refresh(boto3: Any, world: ScaleOrganisation, region: str) -> dict[str, Any]:
    from handler.config import RefreshSettings
    from handler.enrichment.refresh import Refresher
    from handler.scheduled.directory_refresh import build_refresher

    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":  # the one region that refuses a LocationConstraint
        s3.create_bucket(Bucket=BUCKET)
    else:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    settings = RefreshSettings(
        snapshot=f"s3://{BUCKET}/{KEY}",
        org_lookup_role_arn=f"arn:aws:iam::{world.management_id}:role/events2panther-org-lookup",
        account_tag_keys=TAG_KEYS,
        alias_role_name=ALIAS_ROLE,
    )
    full = build_refresher(settings, boto3.Session(region_name=region))
    names_only = Refresher(full.store, full.organizations, None, full.tag_keys, full.alias_max_age_s)
    with counting_calls() as names_calls:
        started = time.perf_counter()
        names_report = names_only.full()
        names_s = time.perf_counter() - started
    assert full.aliases is not None
    with counting_calls() as alias_calls:
        started = time.perf_counter()
        aliases = full.aliases.read([world.management_id, *world.accounts])
        alias_s = time.perf_counter() - started
    with counting_calls() as both_calls:
        started = time.perf_counter()
        both = full.full()  # every alias due (none read yet): the first run after a deploy
        both_s = time.perf_counter() - started
    return {
        "directory_refresh_seconds": round(names_s, 3),
        "directory_refresh_calls": sum(names_calls.values()),
        "directory_refresh_calls_by_operation": dict(sorted(names_calls.items())),
        "alias_refresh_seconds": round(alias_s, 3),
        "alias_refresh_calls": sum(alias_calls.values()),
        "aliases_resolved": aliases.resolved,
        "alias_failures": dict(aliases.failures),
        "first_refresh_seconds": round(both_s, 3),
        "first_refresh_calls": sum(both_calls.values()),
        "directory_accounts": names_report.accounts,
        "snapshot_aliases": both.aliases_resolved,
    }


def measure_cold_read(boto3: Any, region: str, key: str = KEY) -> dict[str, Any]:
    from handler.enrichment.snapshot_source import S3SnapshotSource, SnapshotLocation

    s3 = boto3.client("s3", region_name=region)
    location = SnapshotLocation(BUCKET, key)
    timings = []
    size = accounts = 0
    for _ in range(COLD_READS):
        source = S3SnapshotSource(lambda: s3, location)
        started = time.perf_counter()
        loaded = source.load()
        timings.append(time.perf_counter() - started)
        size, accounts = source.bytes_read, len(loaded)
    return {
        "directory_cold_read_ms": round(statistics.median(timings) * 1000, 2),
        "directory_bytes": size,
        "accounts": accounts,
    }


def synthesise_snapshot(boto3: Any, region: str, accounts: int, key: str) -> None:
    """A snapshot of `accounts` accounts shaped like the scale world's, written to the bench bucket."""
    from handler.enrichment.refresh import SnapshotStore
    from handler.enrichment.snapshot import Snapshot, SnapshotEntry
    from handler.enrichment.snapshot_source import SnapshotLocation

    now = time.time()
    entries = {}
    for index in range(accounts):
        account_id = f"{200000000000 + index * 7919:012d}"
        top = ("Workloads", "Security", "Sandbox", "Infrastructure")[index % 4]
        entries[account_id] = SnapshotEntry(
            account_id=account_id,
            name=f"bench-{index:05d}",
            ou_path=f"Root/{top}/{top}-{index % 9}",
            state="ACTIVE",
            tags={"team": f"team-{index % 17}", "environment": ("prod", "staging", "dev")[index % 3]},
            alias=f"acme-bench-{index:05d}",
            alias_read_at=now,
        )
    store = SnapshotStore(boto3.client("s3", region_name=region), SnapshotLocation(BUCKET, key))
    store.write(Snapshot(entries, generated_at=now, names_read_at=now), "")
