"""The watchdog's judgement, pure: what should forward, what was heard, what is wrong, what cleared.

Which account x region pairs should forward:
- every ACTIVE account below the targeted OUs (never the management account: a service-managed
  StackSet does not deploy there) x every configured region: each needs a healthy stack instance
  (else `uncovered`) and, with the instance, a heartbeat no older than K intervals (else `silent`);
- the management account x its regions (its ordinary member stacks): heartbeats only, `e2p status`
  shows those stacks.
An opt-in region enabled in an expected account but outside its configured regions is
`region_not_forwarded`;
a watched dead-letter queue holding messages is `dead_letters`.

A pair never heard yet is silent only K intervals after the watchdog first expected it, so a new
account or a fresh deployment is given the time its first heartbeats need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from handler.mappers.coverage import DEAD_LETTERS, REGION_NOT_FORWARDED, SILENT, UNCOVERED

ALERT_KEY_PREFIX: Final = "alert#"
# The label handler.coverage.reads gives a healthy instance (CURRENT, its operation succeeded or running).
HEALTHY_INSTANCE: Final = "CURRENT"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    ou_path: str = ""


@dataclass(frozen=True, slots=True)
class Instance:
    account_id: str
    region: str
    status: str  # CURRENT | OUTDATED | INOPERABLE, with the detailed status when there is one


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing wrong. `detail` is the watchdog event's detail (strings); the key names the
    condition across runs, so that its clear is sent exactly once when it ends."""

    kind: str
    account_id: str
    region: str
    detail: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{ALERT_KEY_PREFIX}{self.kind}#{self.account_id}#{self.region}"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the watchdog read in one run."""

    members: tuple[Account, ...]  # active accounts below the targeted OUs (management excluded)
    management: Account | None
    regions: tuple[str, ...]
    management_regions: tuple[str, ...]
    instances: tuple[Instance, ...]
    last_seen: Mapping[tuple[str, str], int]  # (account, region) -> epoch seconds of the newest heartbeat
    first_expected: Mapping[tuple[str, str], int]  # when the watchdog first expected the pair
    now: int
    heartbeat_minutes: int
    missed_heartbeats: int
    # account -> regions enabled in it (None: could not be read; then nothing is concluded)
    enabled_regions: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    queue_depths: Mapping[str, int] = field(default_factory=dict)  # queue label -> messages waiting
    central_account: str = ""
    central_region: str = ""

    @property
    def silence_s(self) -> int:
        return self.heartbeat_minutes * self.missed_heartbeats * 60


def expected_pairs(observation: Observation) -> list[tuple[Account, str]]:
    pairs = [(account, region) for account in observation.members for region in observation.regions]
    if observation.management is not None:
        pairs += [(observation.management, region) for region in observation.management_regions]
    return pairs


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions(observation: Observation) -> list[Condition]:
    """Every condition that holds now, in a stable order."""
    found: list[Condition] = []
    instances = {(i.account_id, i.region): i for i in observation.instances}
    member_ids = {a.account_id for a in observation.members}
    for account, region in expected_pairs(observation):
        pair = (account.account_id, region)
        named = {"account_id": account.account_id, "account_name": account.name, "region": region}
        if account.account_id in member_ids:
            instance = instances.get(pair)
            if instance is None or instance.status != HEALTHY_INSTANCE:
                status = instance.status if instance else "no stack instance"
                found.append(Condition(UNCOVERED, *pair, {**named, "stack_status": status}))
                continue  # one cause, one alert: an uncovered pair is silent because of it
        if observation.heartbeat_minutes <= 0:
            continue
        last = observation.last_seen.get(pair)
        since = last if last is not None else observation.first_expected.get(pair, observation.now)
        if observation.now - since > observation.silence_s:
            minutes = str(observation.heartbeat_minutes * observation.missed_heartbeats)
            seen = iso(last) if last is not None else "never"
            found.append(Condition(SILENT, *pair, {**named, "minutes": minutes, "last_seen": seen}))
    found += _regions_not_forwarded(observation)
    for label, depth in sorted(observation.queue_depths.items()):
        if depth > 0:
            found.append(
                Condition(
                    DEAD_LETTERS,
                    observation.central_account,
                    label,
                    {"queue": label, "messages_waiting": str(depth)},
                )
            )
    return found


def _regions_not_forwarded(observation: Observation) -> Iterable[Condition]:
    accounts: list[tuple[Account, tuple[str, ...]]] = [(a, observation.regions) for a in observation.members]
    if observation.management is not None:
        accounts.append((observation.management, observation.management_regions))
    for account, configured in accounts:
        enabled = observation.enabled_regions.get(account.account_id)
        if enabled is None:
            continue
        for region in sorted(enabled - set(configured)):
            yield Condition(
                REGION_NOT_FORWARDED,
                account.account_id,
                region,
                {"account_id": account.account_id, "account_name": account.name, "region": region},
            )


@dataclass(frozen=True, slots=True)
class Transitions:
    alarms: tuple[Condition, ...]  # every condition that holds (sent again each run: Panther's tally)
    clears: tuple[Condition, ...]  # open alerts whose condition ended: one clear each


def transitions(current: Iterable[Condition], open_alerts: Mapping[str, Condition]) -> Transitions:
    """`open_alerts`: key -> the condition as it was raised (the clear repeats its node and summary)."""
    holding = {c.key: c for c in current}
    clears = tuple(condition for key, condition in sorted(open_alerts.items()) if key not in holding)
    return Transitions(tuple(holding.values()), clears)
