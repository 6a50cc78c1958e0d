"""What `e2p status` adds from the coverage feature: when each account x region was last heard (the
central coverage table the forwarder's heartbeat step writes), which opt-in regions accounts enabled
outside the configured ones (Account Management ListRegions from the management account), and the
OU each account sits in (for the HTML map's grouping). Pure helpers plus thin readers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# Same rule as the watchdog: K missed heartbeats of the member template's default interval.
DEFAULT_SILENCE_MINUTES: Final = 45
PAIR_PREFIX: Final = "pair#"
OPTED_IN: Final = "ENABLED"


@dataclass(frozen=True, slots=True)
class Heard:
    account_id: str
    region: str
    last_seen: int | None  # epoch seconds; None: never heard

    def age_minutes(self, now: float) -> int | None:
        return None if self.last_seen is None else max(int((now - self.last_seen) // 60), 0)

    def state(self, now: float, silence_minutes: int = DEFAULT_SILENCE_MINUTES) -> str:
        age = self.age_minutes(now)
        if age is None:
            return "never heard"
        return "silent" if age > silence_minutes else "heard"

    def as_dict(self, now: float) -> dict[str, Any]:
        seen = self.last_seen
        return {
            "account_id": self.account_id,
            "region": self.region,
            "last_heard": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seen)) if seen is not None else "",
            "age_minutes": self.age_minutes(now),
            "state": self.state(now),
        }


def read_last_heard(dynamodb: Any, table: str) -> dict[tuple[str, str], int]:
    """(account, region) -> epoch seconds of the newest heartbeat the forwarder recorded."""
    heard: dict[tuple[str, str], int] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            if not item.get("pk", {}).get("S", "").startswith(PAIR_PREFIX):
                continue
            seen = item.get("last_seen", {}).get("N")
            if seen is not None:
                heard[(item["account_id"]["S"], item["region"]["S"])] = int(float(seen))
    return heard


def pairs_heard(expected: Iterable[tuple[str, str]], last_seen: Mapping[tuple[str, str], int]) -> list[Heard]:
    return [Heard(account, region, last_seen.get((account, region))) for account, region in expected]


def opted_in_regions(account_client: Any, account_id: str, management_id: str) -> set[str]:
    scope = {} if account_id == management_id else {"AccountId": account_id}
    regions: set[str] = set()
    for page in account_client.get_paginator("list_regions").paginate(
        RegionOptStatusContains=[OPTED_IN], **scope
    ):
        regions.update(str(r["RegionName"]) for r in page.get("Regions", []))
    return regions


def ou_names(organizations: Any, parent_ids: Iterable[str]) -> dict[str, str]:
    """Parent id -> OU name ("Root" for a root), for grouping accounts by OU."""
    names: dict[str, str] = {}
    for parent in set(parent_ids):
        if parent.startswith("r-"):
            names[parent] = "Root"
            continue
        unit = organizations.describe_organizational_unit(OrganizationalUnitId=parent)["OrganizationalUnit"]
        names[parent] = str(unit.get("Name", parent))
    return names
