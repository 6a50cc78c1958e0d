"""`e2p status`: is every account x region forwarding, and is anything waiting in a dead-letter queue?

Healthy means: every account below the targeted OUs has a healthy stack instance in every
configured region, the management account has its member stack in each of its regions, the
dead-letter queues are empty (and readable), and no alarm of the deployment is in ALARM.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from e2p.aws.directory_snapshot import AccountAlias, aliases_of, read_snapshot
from e2p.aws.fanout import fan_out
from e2p.aws.organization import OrgAccount, accounts_in_units, stackset_targets
from e2p.aws.queue_depths import QueueDepth, queue_depth
from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.aws.stacks import SUCCESS, deployed_outputs, describe, outputs_of, stack_resources
from e2p.aws.stackset_ops import InstanceState, StackSetManager
from e2p.console.options import CommandContext
from e2p.exceptions import E2PError
from e2p.ops.coverage import Coverage, compute_coverage
from e2p.ops.heard import Heard, opted_in_regions, ou_names, pairs_heard, read_last_heard

T = TypeVar("T")

CENTRAL_QUEUES: Final = {
    "buffer": "BufferQueueUrl",
    "buffer_dlq": "DeadLetterQueueUrl",
    "rule_dlq": "RuleDeadLetterQueueUrl",
}
DEAD_LETTER_QUEUES: Final = ("buffer_dlq", "rule_dlq")
ALARM_TYPE: Final = "AWS::CloudWatch::Alarm"
# DescribeAlarms takes at most 100 names per call.
ALARM_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class StackStatus:
    account_id: str
    region: str
    stack_name: str
    status: str
    reason: str = ""

    @property
    def healthy(self) -> bool:
        return self.status in SUCCESS

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "region": self.region,
            "stack_name": self.stack_name,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MemberQueue:
    account_id: str
    region: str
    depth: QueueDepth | None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "region": self.region,
            **(self.depth.as_dict() if self.depth else {"url": "", "total": None}),
            "error": self.error,
        }


@dataclass
class StatusReport:
    coverage: Coverage
    management: list[StackStatus] = field(default_factory=list)
    queues: dict[str, QueueDepth] = field(default_factory=dict)
    member_queues: list[MemberQueue] = field(default_factory=list)
    alarms: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # account id -> its IAM alias from the directory snapshot (empty before the first refresh).
    aliases: dict[str, AccountAlias] = field(default_factory=dict)
    # Coverage feature (informational: the watchdog alerts on it): last heard per expected pair,
    # opt-in regions enabled outside the configuration, each account's OU, and what could not be read.
    heard: list[Heard] = field(default_factory=list)
    uncovered_regions: list[dict[str, str]] = field(default_factory=list)
    account_ous: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    generated_at: float = field(default_factory=time.time)

    @property
    def dead_letters(self) -> int:
        central = sum(self.queues[name].total for name in DEAD_LETTER_QUEUES if name in self.queues)
        return central + sum(q.depth.total for q in self.member_queues if q.depth is not None)

    def problems(self) -> list[str]:
        found = []
        if not self.coverage.complete:
            found.append(f"{len(self.coverage.missing)} account x region pair(s) without a healthy instance")
        unhealthy = [m for m in self.management if not m.healthy]
        if unhealthy:
            found.append(f"{len(unhealthy)} management-account stack(s) not healthy")
        if self.dead_letters:
            found.append(f"{self.dead_letters} message(s) in dead-letter queues")
        if self.alarms:
            found.append(f"{len(self.alarms)} alarm(s) in ALARM")
        if self.errors:
            found.append(f"{len(self.errors)} check(s) could not be made")
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()

    def as_json(self) -> dict[str, Any]:
        queues: dict[str, Any] = {name: depth.as_dict() for name, depth in self.queues.items()}
        if self.member_queues:
            queues["member_dlqs"] = [q.as_dict() for q in self.member_queues]
        return {
            "coverage": [row.as_dict() for row in self.coverage.rows],
            "missing": [row.as_dict() for row in self.coverage.missing],
            "management": [m.as_dict() for m in self.management],
            "queues": queues,
            "alarms": self.alarms,
            "aliases": {account: alias.as_dict() for account, alias in sorted(self.aliases.items())},
            "errors": self.errors,
            "last_heard": [h.as_dict(self.generated_at) for h in self.heard],
            "uncovered_regions": self.uncovered_regions,
            "notes": self.notes,
            "problems": self.problems(),
            "healthy": self.healthy,
        }


def _recorded(lines: list[str], what: str, work: Callable[[], T]) -> T | None:
    """`work()`'s value, or None after adding why it failed to `lines`."""
    try:
        return work()
    except AWS_ERRORS as exc:
        lines.append(f"{what}: {error_text(exc)}")
        return None


class StatusCheck:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        self._sessions = ctx.sessions

    def _guard(self, report: StatusReport, what: str, work: Callable[[], T]) -> T | None:
        return _recorded(report.errors, what, work)

    def run(self, member_dlqs: bool) -> StatusReport:
        definition = self.ctx.definition
        sessions = self._sessions
        report = StatusReport(Coverage((), ()))
        admin = sessions.admin()
        management_id = sessions.management_account()
        organizations = sessions.client(admin, "organizations")
        accounts = self._guard(
            report,
            "organization",
            lambda: stackset_targets(
                accounts_in_units(organizations, definition.organizational_units), management_id
            ),
        )
        manager = StackSetManager(
            sessions.client(admin, "cloudformation", definition.region), definition, self.ctx.poller
        )
        instances: list[InstanceState] = (
            self._guard(report, f"StackSet {definition.name}", manager.instances) or []
        )
        report.coverage = compute_coverage(accounts or [], definition.regions, instances)
        report.management = self._management_stacks(report, management_id)
        central_outputs = self._guard(report, "central stack", self._central_outputs) or {}
        self._central_queues(report, central_outputs)
        self._aliases(report, central_outputs)
        self._alarms(report, management_id)
        if member_dlqs:
            self._member_queues(report, instances, management_id)
        self._coverage_feature(report, central_outputs, accounts or [], management_id)
        return report

    def _note(self, report: StatusReport, what: str, work: Callable[[], T]) -> T | None:
        """Like _guard, but what it cannot read is a note, not a failed check: the coverage
        feature may be off (no table output, no trusted access for Account Management)."""
        return _recorded(report.notes, what, work)

    def _coverage_feature(
        self, report: StatusReport, outputs: dict[str, str], accounts: list[OrgAccount], management_id: str
    ) -> None:
        sessions = self._sessions
        definition = self.ctx.definition
        management = self.ctx.settings.management
        expected = [(row.account_id, row.region) for row in report.coverage.rows]
        if management.deploy_member_stacks:
            expected += [(management_id, region) for region in management.regions]
        table = outputs.get("CoverageTableName")
        last_seen: dict[tuple[str, str], int] = {}
        if table:
            central = self.ctx.settings.central
            dynamodb = sessions.client(sessions.central(), "dynamodb", central.region)
            last_seen = self._note(report, "coverage table", lambda: read_last_heard(dynamodb, table)) or {}
        else:
            report.notes.append("central stack has no CoverageTableName output: last heard unknown")
        report.heard = pairs_heard(expected, last_seen)
        admin = sessions.admin()
        account_client = sessions.client(admin, "account", "us-east-1")
        names = {a.account_id: a.name for a in accounts}
        configured = {a.account_id: set(definition.regions) for a in accounts}
        if management.deploy_member_stacks:
            configured[management_id] = set(management.regions)
        for account_id, regions in sorted(configured.items()):
            opted = self._note(
                report,
                f"enabled regions of {account_id}",
                functools.partial(opted_in_regions, account_client, account_id, management_id),
            )
            for region in sorted((opted or set()) - regions):
                report.uncovered_regions.append(
                    {"account_id": account_id, "account_name": names.get(account_id, ""), "region": region}
                )
        organizations = sessions.client(admin, "organizations")
        parents = {a.account_id: a.parent_id for a in accounts}
        units = self._note(report, "OU names", lambda: ou_names(organizations, parents.values())) or {}
        report.account_ous = {account: units.get(parent, parent) for account, parent in parents.items()}

    def _management_stacks(self, report: StatusReport, management_id: str) -> list[StackStatus]:
        management = self.ctx.settings.management
        if not management.deploy_member_stacks:
            return []
        session = self._guard(report, "management account", self._sessions.management)
        if session is None:
            return []

        def read(region: str) -> StackStatus:
            cfn = self._sessions.client(session, "cloudformation", region)
            stack = describe(cfn, management.member_stack_name)
            if stack is None:
                return StackStatus(management_id, region, management.member_stack_name, "MISSING", "no stack")
            return StackStatus(
                management_id,
                region,
                management.member_stack_name,
                stack["StackStatus"],
                stack.get("StackStatusReason", ""),
            )

        statuses = []
        for attempt in fan_out(list(management.regions), read):
            if attempt.value is not None:
                statuses.append(attempt.value)
            else:
                statuses.append(
                    StackStatus(
                        management_id,
                        attempt.item,
                        management.member_stack_name,
                        "UNKNOWN",
                        error_text(attempt.error or Exception()),
                    )
                )
        return statuses

    def _central_outputs(self) -> dict[str, str]:
        central = self.ctx.settings.central
        cfn = self._sessions.client(self._sessions.central(), "cloudformation", central.region)
        return deployed_outputs(cfn, central.stack_name, f"{central.account_id} {central.region}")

    def _aliases(self, report: StatusReport, outputs: dict[str, str]) -> None:
        uri = outputs.get("DirectorySnapshotUri", "")
        if not uri:
            return
        central = self.ctx.settings.central
        s3 = self._sessions.client(self._sessions.central(), "s3", central.region)
        snapshot = self._guard(report, "account directory snapshot", lambda: read_snapshot(s3, uri))
        report.aliases = aliases_of(snapshot)

    def _central_queues(self, report: StatusReport, outputs: dict[str, str]) -> None:
        if not outputs:
            return
        central = self.ctx.settings.central
        sqs = self._sessions.client(self._sessions.central(), "sqs", central.region)
        for name, output in CENTRAL_QUEUES.items():
            url = outputs.get(output)
            if not url:
                report.errors.append(f"central stack has no {output} output")
                continue
            depth = self._guard(report, f"queue {name}", functools.partial(queue_depth, sqs, url))
            if depth is not None:
                report.queues[name] = depth

    def _alarms(self, report: StatusReport, management_id: str) -> None:
        """Alarms in ALARM among the central stack's and the management stacks' own alarms."""
        central = self.ctx.settings.central
        management = self.ctx.settings.management
        targets = [(self._sessions.central, central.account_id, central.region, central.stack_name)]
        if management.deploy_member_stacks:
            targets += [
                (self._sessions.management, management_id, region, management.member_stack_name)
                for region in management.regions
            ]
        for session_of, account, region, stack in targets:
            firing = self._guard(
                report,
                f"alarms of {stack} ({account} {region})",
                functools.partial(self._alarms_in, session_of, account, region, stack),
            )
            report.alarms.extend(firing or [])

    def _alarms_in(
        self, session_of: Callable[[], Any], account: str, region: str, stack_name: str
    ) -> list[dict[str, str]]:
        session = session_of()
        cfn = self._sessions.client(session, "cloudformation", region)
        if describe(cfn, stack_name) is None:
            return []
        names = [
            resource["PhysicalResourceId"]
            for resource in stack_resources(cfn, stack_name)
            if resource.get("ResourceType") == ALARM_TYPE and resource.get("PhysicalResourceId")
        ]
        cloudwatch = self._sessions.client(session, "cloudwatch", region)
        firing = []
        for start in range(0, len(names), ALARM_BATCH):
            response = cloudwatch.describe_alarms(
                AlarmNames=names[start : start + ALARM_BATCH], StateValue="ALARM"
            )
            # Filtered again here: some backends apply StateValue only when no names are given.
            for alarm in response.get("MetricAlarms", []):
                if alarm.get("StateValue") != "ALARM":
                    continue
                firing.append(
                    {
                        "name": str(alarm["AlarmName"]),
                        "account_id": account,
                        "region": region,
                        "reason": str(alarm.get("StateReason", "")),
                    }
                )
        return firing

    def _member_queues(
        self, report: StatusReport, instances: Iterable[InstanceState], management_id: str
    ) -> None:
        """Dead-letter queues of every member stack; needs the member access role in each account."""
        targets: list[tuple[str, str, str]] = [
            (i.account, i.region, i.stack_id) for i in instances if i.stack_id
        ]
        management = self.ctx.settings.management
        if management.deploy_member_stacks:
            targets += [
                (management_id, region, management.member_stack_name) for region in management.regions
            ]

        def read(target: tuple[str, str, str]) -> MemberQueue:
            account, region, stack = target
            session = self._sessions.member(account)
            found = describe(self._sessions.client(session, "cloudformation", region), stack)
            url = outputs_of(found or {}).get("DeadLetterQueueUrl")
            if not url:
                raise E2PError(f"stack {stack} has no DeadLetterQueueUrl output")
            return MemberQueue(
                account, region, queue_depth(self._sessions.client(session, "sqs", region), url)
            )

        for attempt in fan_out(targets, read):
            account, region, _stack = attempt.item
            if attempt.value is not None:
                report.member_queues.append(attempt.value)
            else:
                message = error_text(attempt.error or Exception())
                report.member_queues.append(MemberQueue(account, region, None, message))
                report.errors.append(f"member DLQ {account} {region}: {message}")
