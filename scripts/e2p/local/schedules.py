"""A time-compressed schedule driver for the local AWS: moto stores schedules and never runs them.

Two kinds of schedule matter to this product:
- EventBridge Scheduler schedules (the member stacks' heartbeats): a templated EventBridge target
  (PutEvents with EventBridgeParameters Source/DetailType and the Input as detail) on an event bus.
  The driver plays Scheduler: it checks the execution role as AWS would use it (it exists in the
  schedule's account, trusts scheduler.amazonaws.com for that account, and may events:PutEvents on
  the target bus), then puts the event through the faithful EventBridge path, so it meets the
  forwarding rule, its role, its DLQ and the central bus policy like any event. A schedule whose
  role fails is counted as failed, and nothing is put (Scheduler would retry, then drop it).
- EventBridge schedule rules (ScheduleExpression) whose target is a Lambda function run in this
  process (the central stack's watchdog rule -> the scheduled function, see scheduled_host.py):
  the driver invokes the host with the rule's constant Input, plus "now", the driver's clock.

Time is a virtual clock: `advance(minutes)` moves it and fires every enabled schedule whose
`rate(...)` period has elapsed since it last fired, with the event's time set to the virtual time
(Scheduler's invocation time). Nothing waits: an hour of heartbeats takes a second.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from e2p.local.fidelity import iam, policy, switch

SCHEDULER_PRINCIPAL: Final = "scheduler.amazonaws.com"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES: Final = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}

# Invoked with (rule's constant input + "now") for a schedule rule's function target.
FunctionRunner = Callable[[Mapping[str, Any]], Any]


def rate_minutes(expression: str) -> int | None:
    """Minutes of a rate expression; None for cron/at expressions (not driven here)."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2)
    if (number == 1) != (unit in ("minute", "hour", "day")):
        return None  # AWS refuses "rate(1 minutes)" and "rate(5 minute)"
    return number * _UNIT_MINUTES[unit]


@dataclass(slots=True)
class FireReport:
    heartbeats: int = 0  # events put by schedules
    event_ids: list[str] = field(default_factory=list)  # their EventBridge ids
    failed: Counter[str] = field(default_factory=Counter)  # reason -> schedules whose role refused
    rule_runs: list[tuple[str, Any]] = field(default_factory=list)  # (rule name, what the function returned)


def _role_allows(role_arn: str, schedule_account: str, bus_arn: str) -> str:
    """Empty when Scheduler could use the role for PutEvents on the bus, else the reason."""
    role_account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    if role_account != schedule_account:
        return "role not in the schedule's account"
    role = iam.find_role(role_account, role_arn)
    if role is None:
        return "role does not exist"
    assume = policy.Request(
        action="sts:AssumeRole",
        resource=role_arn,
        service=SCHEDULER_PRINCIPAL,
        context={"aws:sourceaccount": schedule_account},
    )
    if policy.evaluate([policy.load(role.assume_role_policy_document)], assume, check_principal=True) is not (
        policy.Decision.ALLOW
    ):
        return f"role does not trust {SCHEDULER_PRINCIPAL}"
    documents = iam.identity_documents(role)
    put = policy.Request(action="events:PutEvents", resource=bus_arn, principal_arn=role_arn)
    if policy.evaluate(documents, put, check_principal=False) is not policy.Decision.ALLOW:
        return "role may not events:PutEvents on the target bus"
    return ""


class ScheduleDriver:
    def __init__(self, start: float | None = None) -> None:
        self.now = float(start if start is not None else time.time())
        self._last_fired: dict[str, float] = {}
        self._functions: dict[str, FunctionRunner] = {}
        self.total = FireReport()

    def attach_function(self, function_arn_suffix: str, runner: FunctionRunner) -> None:
        """Run `runner` for schedule rules whose target ARN ends with `function_arn_suffix`
        (":function:<name>")."""
        self._functions[function_arn_suffix] = runner

    def _due(self, key: str, period_min: int) -> bool:
        last = self._last_fired.get(key)
        if last is None or self.now - last >= period_min * 60 - 1e-6:
            self._last_fired[key] = self.now
            return True
        return False

    def advance(self, minutes: float) -> FireReport:
        """Move the clock, then fire what is due: every heartbeat schedule, then the schedule rules
        (so a watchdog run sees the heartbeats of the same instant)."""
        self.now += minutes * 60
        report = FireReport()
        self._fire_schedules(report)
        self._fire_rules(report)
        self.total.heartbeats += report.heartbeats
        self.total.event_ids += report.event_ids
        self.total.failed.update(report.failed)
        self.total.rule_runs += report.rule_runs
        return report

    def _fire_schedules(self, report: FireReport) -> None:
        from moto.events.models import events_backends
        from moto.scheduler.models import scheduler_backends

        moment = datetime.fromtimestamp(self.now, UTC)
        for account in list(scheduler_backends.keys()):
            for region in list(scheduler_backends[account].keys()):
                backend = scheduler_backends[account][region]
                for group in list(backend.schedule_groups.values()):
                    for schedule in list(group.schedules.values()):
                        period = rate_minutes(schedule.schedule_expression)
                        target = schedule.target
                        parameters = target.get("EventBridgeParameters")
                        if schedule.state != "ENABLED" or period is None or not parameters:
                            continue
                        if not self._due(schedule.arn, period):
                            continue
                        reason = _role_allows(str(target.get("RoleArn", "")), account, str(target["Arn"]))
                        if reason:
                            report.failed[reason] += 1
                            continue
                        bus_region = str(target["Arn"]).split(":")[3]
                        entry = {
                            "EventBusName": target["Arn"],
                            "Source": parameters["Source"],
                            "DetailType": parameters["DetailType"],
                            "Detail": target.get("Input") or "{}",
                            "Time": moment,
                        }
                        with switch.mode(True):
                            answer = events_backends[account][bus_region].put_events([entry])
                        if answer and answer[0].get("ErrorCode"):
                            report.failed[str(answer[0]["ErrorCode"])] += 1
                        else:
                            report.heartbeats += 1
                            report.event_ids.append(str(answer[0]["EventId"]))

    def _fire_rules(self, report: FireReport) -> None:
        from moto.events.models import events_backends

        for account in list(events_backends.keys()):
            for region in list(events_backends[account].keys()):
                backend = events_backends[account][region]
                for rule in [
                    r for bus in list(backend.event_buses.values()) for r in list(bus.rules.values())
                ]:
                    period = rate_minutes(getattr(rule, "scheduled_expression", None) or "")
                    if period is None or rule.state != "ENABLED":
                        continue
                    for target in list(rule.targets):
                        runner = next(
                            (
                                run
                                for suffix, run in self._functions.items()
                                if str(target["Arn"]).endswith(suffix)
                            ),
                            None,
                        )
                        if runner is None or not self._due(f"{rule.arn}|{target['Id']}", period):
                            continue
                        constant = json.loads(target.get("Input") or "{}")
                        report.rule_runs.append((rule.name, runner({**constant, "now": int(self.now)})))
