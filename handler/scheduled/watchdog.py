"""The coverage watchdog task: compare what was heard with what should forward, alert in Panther.

Run by the scheduled function (handler.scheduled.app) from the central stack's watchdog rule.
Design (README "Coverage"): the watchdog never calls Panther. It puts one event per condition
(source events2panther.watchdog) on the central bus through its own identity policy, so alerts and
clears take the forwarder's path (buffer queue, retries, dead-letter queue, idempotency) and the
Panther token stays readable by the forwarder alone. Every condition that holds is sent on every
run (Panther's tally counts the runs it was seen); an open alert whose condition ended gets one
clear (severity 0, same node and summary). The table remembers open alerts between runs.

`event["now"]` (epoch seconds) replaces the clock: the local mode's schedule driver compresses
time and passes its own; a schedule rule's constant input never has it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.config import WatchdogSettings, load_watchdog_settings
from handler.coverage import reads
from handler.coverage.evaluate import Condition, Observation, conditions, expected_pairs, transitions
from handler.coverage.names import WATCHDOG_DETAIL_TYPE, WATCHDOG_SOURCE
from handler.coverage.store import CoverageStore
from handler.exceptions import Events2PantherError
from handler.mappers.coverage import ALARM, REGION_NOT_FORWARDED

logger = logging.getLogger(__name__)

PUT_EVENTS_BATCH: Final = 10  # PutEvents takes at most 10 entries
SESSION_NAME: Final = "events2panther-watchdog"
REGIONS_EVERY_S: Final = 3600


class WatchdogError(Events2PantherError):
    """The watchdog could not read what it needs or put its events."""


def _now(event: Mapping[str, Any]) -> int:
    value = event.get("now")
    return int(value) if isinstance(value, (int, float)) else int(time.time())


def _entries(settings: WatchdogSettings, changes: Sequence[tuple[Condition, str]]) -> list[dict[str, Any]]:
    return [
        {
            "EventBusName": settings.event_bus_arn,
            "Source": WATCHDOG_SOURCE,
            "DetailType": WATCHDOG_DETAIL_TYPE,
            "Detail": json.dumps({"kind": condition.kind, "state": state, **condition.detail}),
        }
        for condition, state in changes
    ]


def put_changes(
    events: Any, settings: WatchdogSettings, changes: Sequence[tuple[Condition, str]]
) -> list[bool]:
    """PutEvents in batches; True for each change the bus accepted."""
    accepted: list[bool] = []
    for start in range(0, len(changes), PUT_EVENTS_BATCH):
        batch = changes[start : start + PUT_EVENTS_BATCH]
        answer = events.put_events(Entries=_entries(settings, batch))
        for entry in answer.get("Entries", []):
            if entry.get("ErrorCode"):
                logger.error("watchdog event refused by the bus", extra={"error": entry.get("ErrorCode")})
            accepted.append(not entry.get("ErrorCode"))
    return accepted


def observe(
    settings: WatchdogSettings, session: Any, store: CoverageStore, now: int
) -> tuple[Observation, Any]:
    from handler.enrichment.assumed_role import assumed_role_client_factory, organizations_client_factory

    if not settings.org_lookup_role_arn:
        raise WatchdogError(
            "the watchdog needs the lookup role (E2P_ORG_LOOKUP_ROLE_ARN) to read the organisation"
        )
    organizations = organizations_client_factory(session, settings.org_lookup_role_arn, None, SESSION_NAME)()
    members, management = reads.organisation_accounts(
        organizations, settings.units, settings.management_account_id
    )
    if not settings.management_regions:
        management = None
    instances = []
    if settings.stackset_name:
        cloudformation = assumed_role_client_factory(
            session, settings.org_lookup_role_arn, "cloudformation", session.region_name, SESSION_NAME
        )()
        instances = reads.stack_instances(cloudformation, settings.stackset_name)
    enabled: dict[str, frozenset[str] | None] = {}
    if settings.read_enabled_regions and regions_due(now, settings.heartbeat_minutes):
        account = assumed_role_client_factory(
            session, settings.org_lookup_role_arn, "account", session.region_name, SESSION_NAME
        )()
        ids = [a.account_id for a in members] + ([management.account_id] if management else [])
        enabled = reads.enabled_regions(account, ids, settings.management_account_id)
    depths = reads.queue_depths(session.client("sqs"), settings.watched_queue_urls)
    table = store.read()
    _, _, _, bus_region, bus_account = (settings.event_bus_arn.split(":", 5) + [""] * 6)[:5]
    observation = Observation(
        members=tuple(members),
        management=management,
        regions=settings.regions,
        management_regions=settings.management_regions,
        instances=tuple(instances),
        last_seen=table.last_seen,
        first_expected=table.first_expected,
        now=now,
        heartbeat_minutes=settings.heartbeat_minutes,
        missed_heartbeats=settings.missed_heartbeats,
        enabled_regions=enabled,
        queue_depths=depths,
        central_account=bus_account,
        central_region=bus_region,
    )
    return observation, table


def run(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    settings = load_watchdog_settings()
    now = _now(event)
    # A session of its own per run: it reads the credentials the function has now.
    session = boto3.Session()
    store = CoverageStore(session.client("dynamodb"), settings.coverage_table)
    observation, table = observe(settings, session, store, now)
    expected = expected_pairs(observation)
    unseen = [
        (account.account_id, region)
        for account, region in expected
        if (account.account_id, region) not in table.last_seen
        and (account.account_id, region) not in table.first_expected
    ]
    store.expect(unseen, now)
    found = carry_unread_regions(conditions(observation), table.open_alerts, observation)
    changes = transitions(found, table.open_alerts)
    ordered = [(c, ALARM) for c in changes.alarms] + [(c, "OK") for c in changes.clears]
    accepted = put_changes(session.client("events"), settings, ordered)
    # The table follows what the bus accepted: a refused clear is tried again next run.
    for (condition, state), ok in zip(ordered, accepted, strict=True):
        if not ok:
            continue
        if state == ALARM:
            store.open(condition, now)
        else:
            store.close(condition)
    summary = {
        "expected_pairs": len(expected),
        "heard_pairs": sum(1 for a, r in expected if (a.account_id, r) in observation.last_seen),
        "alarms": len(changes.alarms),
        "clears": len(changes.clears),
        "refused": accepted.count(False),
        "by_kind": _by_kind(changes.alarms),
    }
    logger.info("watchdog run", extra=summary)
    return summary


def regions_due(now: int, interval_minutes: int) -> bool:
    """Opted-in regions change rarely and cost one ListRegions call per account: they are read on
    the first run of each hour (every run when runs are an hour apart or more)."""
    interval_s = max(interval_minutes, 1) * 60
    return now % REGIONS_EVERY_S < interval_s or interval_s >= REGIONS_EVERY_S


def carry_unread_regions(
    found: list[Condition], open_alerts: Mapping[str, Condition], observation: Observation
) -> list[Condition]:
    """An open region alert of an account whose regions were not read this run (not due, or the call
    failed) still holds: nothing is cleared from what was not seen."""
    read = {account for account, regions in observation.enabled_regions.items() if regions is not None}
    held = {c.key for c in found}
    kept = [
        condition
        for key, condition in sorted(open_alerts.items())
        if condition.kind == REGION_NOT_FORWARDED and condition.account_id not in read and key not in held
    ]
    return found + kept


def _by_kind(found: Sequence[Condition]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for condition in found:
        counts[condition.kind] = counts.get(condition.kind, 0) + 1
    return counts
