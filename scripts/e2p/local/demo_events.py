"""The real sample events the local mode sends, and from where.

Samples are the curated real AWS events in tests/events (their provenance is in its MANIFEST.tsv).
Only those the deployed member rule forwards are sent: an event the rule does not match never
leaves its account, by design, and would prove nothing about delivery. Events of global services
(IAM, Organizations, STS, sign-in) are emitted in us-east-1 only, as AWS does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

GLOBAL_SOURCES = frozenset({"aws.signin", "aws.iam", "aws.organizations", "aws.sts"})
GLOBAL_EVENT_SOURCES = frozenset(
    {"signin.amazonaws.com", "iam.amazonaws.com", "organizations.amazonaws.com", "sts.amazonaws.com"}
)
GLOBAL_REGION = "us-east-1"
# Fields the sending account's EventBridge stamps; the sample's own values are not reused.
STAMPED = ("id", "time", "account", "region")


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    event: Mapping[str, Any]

    @property
    def is_global(self) -> bool:
        detail = self.event.get("detail")
        event_source = detail.get("eventSource") if isinstance(detail, Mapping) else None
        return self.event.get("source") in GLOBAL_SOURCES or event_source in GLOBAL_EVENT_SOURCES


@dataclass(frozen=True, slots=True)
class Emission:
    account: str
    region: str
    sample: Sample


def load_samples(folder: Path, forwarded: Callable[[Mapping[str, Any]], bool]) -> tuple[list[Sample], int]:
    """The samples under `folder` the member rule forwards, and how many were left out."""
    kept: list[Sample] = []
    left_out = 0
    for path in sorted(folder.rglob("*.json")):
        if path.name.endswith(".expected.json"):
            continue
        event = json.loads(path.read_text())
        if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
            continue
        if forwarded(event):
            kept.append(
                Sample(str(path.relative_to(folder)), {k: v for k, v in event.items() if k not in STAMPED})
            )
        else:
            left_out += 1
    return kept, left_out


def plan_emissions(
    accounts: Sequence[str], regions: Sequence[str], samples: Sequence[Sample], per_pair: int
) -> list[Emission]:
    """`per_pair` samples for each account x region, going round the samples so all families show."""
    regional = cycle([s for s in samples if not s.is_global])
    global_ = cycle([s for s in samples if s.is_global] or [None])
    plan: list[Emission] = []
    for account in accounts:
        for region in regions:
            for _ in range(per_pair):
                sample = next(global_) if region == GLOBAL_REGION and len(plan) % 3 == 0 else None
                plan.append(Emission(account, region, sample or next(regional)))
    return plan


def emit_all(
    plan: Iterable[Emission], emit: Callable[[str, str, Mapping[str, Any]], str]
) -> dict[str, Emission]:
    """Emit every planned event; returns event id -> emission."""
    return {emit(e.account, e.region, e.sample.event): e for e in plan}
