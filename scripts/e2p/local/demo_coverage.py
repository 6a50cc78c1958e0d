"""The demo's coverage phase: heartbeats from every account x region, a broken region detected and
cleared in Panther, and a region enabled outside the configuration reported.

Time is compressed by the schedule driver (e2p.local.schedules): one `advance` is one heartbeat
interval of the deployed member stacks, in well under a second. Each watchdog run (the central
stack's schedule rule) first lets the forwarder drain what arrived, as the real buffer queue would
have by then, then runs the scheduled function in-process (scheduled_host.py); the watchdog's alert
events then take the forwarder's path to the local Panther.

1. Trusted access for AWS Account Management is enabled in the organisation (an operator's
   prerequisite for the watchdog's ListRegions), then one interval passes: every pair beats.
2. The forwarding rule of one member account x region is disabled (what an operator or a broken
   rollout could do): four intervals later (more than K = 3) the watchdog raises "no events from
   ... for 45 min: forwarding is broken" (MAJOR).
3. The rule is enabled again and an opt-in region is enabled in another account: at the next
   interval the heartbeat is back and the watchdog sends the clear, and it reports the region as
   enabled but not forwarded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import boto3

from e2p.local.function_host import LocalFunction
from e2p.local.scheduled_host import ScheduledFunctionHost
from e2p.local.schedules import ScheduleDriver

BROKEN_ACCOUNT: Final = "payments-prod"
BROKEN_REGION: Final = "ap-southeast-2"
NEW_REGION_ACCOUNT: Final = "data-dev"
NEW_REGION: Final = "ap-east-1"
HEALTHY_INTERVALS: Final = 1
# Intervals the broken pair stays silent: the watchdog alerts after more than K (3) of them.
SILENT_INTERVALS: Final = 4
DRAIN_SECONDS: Final = 60.0


@dataclass(slots=True)
class CoverageOutcome:
    heartbeats: int = 0  # recorded by the forwarder (put by a schedule and forwarded)
    heartbeats_put: int = 0  # put on a default bus by a schedule
    silent_detected: int = 0
    silent_cleared: int = 0
    uncovered_regions: list[str] = field(default_factory=list)
    watchdog_runs: int = 0
    heartbeat_failures: dict[str, int] = field(default_factory=dict)
    coverage_alerts: list[dict[str, Any]] = field(default_factory=list)


def _coverage_events(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in received if e.get("tag") == "Coverage"]


class CoveragePhase:
    def __init__(
        self,
        *,
        management: boto3.Session,
        member_session: Callable[[str], boto3.Session],
        central: boto3.Session,
        endpoint: str,
        region: str,
        outputs: Mapping[str, str],
        function: LocalFunction,
        panther_events: Callable[[], list[dict[str, Any]]],
        accounts: Mapping[str, str],  # name -> account id
        heartbeat_minutes: int = 15,
        say: Callable[[str], None] = print,
    ) -> None:
        # Public for the end-to-end tests that raise further conditions in the same world.
        self.management = management
        self.central = central
        self.endpoint = endpoint
        self.outputs = dict(outputs)
        self.panther_events = panther_events
        self.accounts = dict(accounts)  # name -> account id
        self._member_session = member_session
        self._function = function
        self._minutes = heartbeat_minutes
        self._say = say
        self.host = ScheduledFunctionHost.from_deployment(
            central, endpoint, outputs["ScheduledFunctionName"], region
        )
        # The watchdog reads opted-in regions on the first run of each hour: the virtual clock starts so
        # that the phase's last interval (where the opted-in region must be reported) is on the hour.
        intervals = HEALTHY_INTERVALS + SILENT_INTERVALS + 1
        self.driver = ScheduleDriver(start=(time.time() // 3600) * 3600 - intervals * heartbeat_minutes * 60)
        self.driver.attach_function(f":function:{outputs['ScheduledFunctionName']}", self._watchdog_run)

    def drain(self) -> None:
        """Let the forwarder deliver what waits in the buffer queue (the watchdog's alerts included)."""
        self._function.event_source().drain(DRAIN_SECONDS)

    def _watchdog_run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        self.drain()  # the heartbeats of this instant are recorded before the watchdog looks
        return self.host.invoke(event)

    def advance(self, intervals: int) -> None:
        """Move the virtual clock by heartbeat intervals: heartbeats, then a watchdog run, each time."""
        # The watchdog's alerts of one interval are drained with the next interval's heartbeats.
        for _ in range(intervals):
            self.driver.advance(self._minutes)

    def _forwarding_rule(self, account_id: str, region: str) -> tuple[Any, str]:
        events = self._member_session(account_id).client(
            "events", endpoint_url=self.endpoint, region_name=region
        )
        rules = events.list_rules(EventBusName="default")["Rules"]
        (rule,) = [r for r in rules if "EventPattern" in r]
        return events, str(rule["Name"])

    def run(self) -> CoverageOutcome:
        outcome = CoverageOutcome()
        organizations = self.management.client("organizations", endpoint_url=self.endpoint)
        organizations.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
        self.advance(HEALTHY_INTERVALS)
        before = len(_coverage_events(self.panther_events()))
        self._say(
            f"coverage: {self.driver.total.heartbeats} heartbeats in {HEALTHY_INTERVALS} interval(s), "
            f"{before} coverage alerts"
        )

        broken = self.accounts[BROKEN_ACCOUNT]
        events, rule = self._forwarding_rule(broken, BROKEN_REGION)
        events.disable_rule(Name=rule, EventBusName="default")
        self._say(f"coverage: forwarding rule of {BROKEN_ACCOUNT}/{BROKEN_REGION} disabled")
        self.advance(SILENT_INTERVALS)
        events.enable_rule(Name=rule, EventBusName="default")
        account = self.management.client("account", endpoint_url=self.endpoint)
        account.enable_region(AccountId=self.accounts[NEW_REGION_ACCOUNT], RegionName=NEW_REGION)
        self._say(
            f"coverage: forwarding rule of {BROKEN_ACCOUNT}/{BROKEN_REGION} enabled again; "
            f"region {NEW_REGION} enabled in {NEW_REGION_ACCOUNT}"
        )
        self.advance(1)
        self.drain()  # the last watchdog run's alerts reach Panther

        alerts = _coverage_events(self.panther_events())
        silent = [e for e in alerts if e.get("coverage_kind") == "silent"]
        outcome.silent_detected = sum(1 for e in silent if e.get("coverage_state") == "ALARM")
        outcome.silent_cleared = sum(1 for e in silent if e.get("coverage_state") == "OK")
        # The node, as the operator reads it in Panther: <account name>/<region>.
        outcome.uncovered_regions = sorted(
            {
                str(e.get("node"))
                for e in alerts
                if e.get("coverage_kind") == "region_not_forwarded" and e.get("coverage_state") == "ALARM"
            }
        )
        outcome.heartbeats_put = self.driver.total.heartbeats
        # The function's decision per event id: "ack" with the reason "heartbeat recorded".
        outcome.heartbeats = sum(
            1 for i in self.driver.total.event_ids if self._function.outcomes.get(i) == "ack"
        )
        outcome.heartbeat_failures = dict(self.driver.total.failed)
        outcome.watchdog_runs = len(self.host.invocations)
        outcome.coverage_alerts = alerts
        self._say(
            f"coverage: silent detected {outcome.silent_detected}, cleared {outcome.silent_cleared}; "
            f"enabled but not forwarded: {', '.join(outcome.uncovered_regions) or 'none'}"
        )
        return outcome
