"""`e2p verify`: prove events flow from every targeted account x region to the central function.

Stack instance status says a rule exists; this says events arrive. For each cell (every account of
the targeted OUs x the StackSet's regions, and the management account x its regions) one marked
test event (source events2panther.test, the run id in `detail.test_id`) goes onto the default bus
of that account and region, through the role the CLI uses for members, so it must match the
deployed member rule, cross to the central bus, reach the buffer queue and be picked up by the
function.

How arrival is observed: the function logs one line per test event it receives ("test event
arrived", with the run id, account and region; handler.pipeline), and this command reads those
lines back with FilterLogEvents on the function's log group, one query for the whole run. That
works on real AWS with nothing added to the deployment (Lambda ships every log line to
/aws/lambda/<function>; the operator needs logs:FilterLogEvents on that group only), does not take
messages off the queue, and sees the event at the function whatever Panther then answers (delivery
to Panther is not observable from AWS). The local mode ships the in-process function's lines to
the same log group (e2p.local.function_logs).

A cell that does not arrive within the timeout gets the reason found where it can be seen: the
bus refused the event, the account cannot be reached, no rule targets the central bus (no stack
instance), the rule is disabled, or its dead-letter queue holds messages.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from e2p.aws.fanout import fan_out
from e2p.aws.function_logs import function_log_lines
from e2p.aws.organization import accounts_in_units, stackset_targets
from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.aws.stacks import deployed_outputs
from e2p.aws.stackset_ops import StackSetManager
from e2p.console.options import CommandContext
from e2p.exceptions import E2PError
from e2p.ops.test_event import TEST_DETAIL_TYPE, TEST_SOURCE

ARRIVED: Final = "arrived"
MISSING: Final = "missing"
# Lines logged in the minutes before the run can still be the run's (clock skew between hosts).
ARRIVAL_MESSAGE: Final = "test event arrived"
SEND_WORKERS: Final = 8

Cell = tuple[str, str]  # (account, region)


@dataclass(frozen=True, slots=True)
class CellResult:
    account: str
    region: str
    status: str
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"account": self.account, "region": self.region, "status": self.status, "reason": self.reason}


@dataclass
class VerifyReport:
    run_id: str
    cells: list[CellResult] = field(default_factory=list)

    @property
    def arrived(self) -> int:
        return sum(1 for cell in self.cells if cell.status == ARRIVED)

    @property
    def missing(self) -> int:
        return sum(1 for cell in self.cells if cell.status == MISSING)

    def as_json(self) -> dict[str, Any]:
        return {
            "arrived": self.arrived,
            "missing": self.missing,
            "cells": [cell.as_dict() for cell in self.cells],
            "run_id": self.run_id,
        }


@dataclass
class Sent:
    """What `send` put on the buses: the run's mark, when, and the cells that failed already."""

    run_id: str
    sent_at: datetime
    cells: list[Cell]
    failed: dict[Cell, str] = field(default_factory=dict)


def new_run_id() -> str:
    # Letters and digits only: a CloudWatch Logs filter term matches it as one token.
    return "e2pverify" + secrets.token_hex(8)


def verify_detail(run_id: str, account: str, region: str, sent_at: datetime) -> dict[str, str]:
    return {
        "test_id": run_id,
        "message": "Events2Panther coverage check sent by e2p verify",
        "sent_from_account": account,
        "sent_from_region": region,
        "sent_at": sent_at.isoformat(),
    }


def arrivals(lines: Sequence[str], run_id: str) -> set[Cell]:
    """The (account, region) of every "test event arrived" line of this run (JSON log lines)."""
    seen: set[Cell] = set()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("test_id") != run_id:
            continue
        if record.get("message") != ARRIVAL_MESSAGE:
            continue
        seen.add((str(record.get("test_account", "")), str(record.get("test_region", ""))))
    return seen


def matrix(cells: Sequence[Cell], arrived: set[Cell], reasons: dict[Cell, str]) -> list[CellResult]:
    return [
        CellResult(account, region, ARRIVED)
        if (account, region) in arrived
        else CellResult(account, region, MISSING, reasons.get((account, region), "not seen in time"))
        for account, region in cells
    ]


class Verifier:
    def __init__(self, ctx: CommandContext, progress: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self._sessions = ctx.sessions
        self._say = progress or ctx.output.progress
        self._outputs: dict[str, str] | None = None

    # -- what to test --------------------------------------------------------------------------------

    def outputs(self) -> dict[str, str]:
        if self._outputs is None:
            central = self.ctx.settings.central
            cfn = self._sessions.client(self._sessions.central(), "cloudformation", central.region)
            self._outputs = deployed_outputs(
                cfn, central.stack_name, f"{central.account_id} {central.region}"
            )
        return self._outputs

    def cells(self) -> list[Cell]:
        definition = self.ctx.definition
        organizations = self._sessions.client(self._sessions.admin(), "organizations")
        management = self._sessions.management_account()
        accounts = stackset_targets(
            accounts_in_units(organizations, definition.organizational_units), management
        )
        cells = [(a.account_id, region) for a in accounts for region in definition.regions]
        if self.ctx.settings.management.deploy_member_stacks:
            cells += [(management, region) for region in self.ctx.settings.management.regions]
        return cells

    # -- the run -------------------------------------------------------------------------------------

    def run(self, timeout: float) -> VerifyReport:
        return self.collect(self.send(), timeout)

    def send(self) -> Sent:
        self.outputs()  # the central stack must exist before anything is sent
        sent = Sent(new_run_id(), datetime.now(UTC), self.cells())
        by_account: dict[str, list[str]] = {}
        for account, region in sent.cells:
            by_account.setdefault(account, []).append(region)
        self._say(f"e2p verify: {len(sent.cells)} account x region cells, run {sent.run_id}")

        def put(account: str) -> dict[Cell, str]:
            try:
                session = self._sessions.member(account)
            except AWS_ERRORS as exc:
                return {
                    (account, r): f"cannot reach the account: {error_text(exc)}" for r in by_account[account]
                }
            failures: dict[Cell, str] = {}
            for region in by_account[account]:
                reason = self._put(session, account, region, sent)
                if reason:
                    failures[(account, region)] = reason
            return failures

        for attempt in fan_out(sorted(by_account), put, workers=SEND_WORKERS):
            if attempt.value is not None:
                sent.failed.update(attempt.value)
            else:
                for region in by_account[attempt.item]:
                    sent.failed[(attempt.item, region)] = error_text(attempt.error or Exception())
        return sent

    def _put(self, session: Any, account: str, region: str, sent: Sent) -> str:
        events = self._sessions.client(session, "events", region)
        entry = {
            "Source": TEST_SOURCE,
            "DetailType": TEST_DETAIL_TYPE,
            "Detail": json.dumps(verify_detail(sent.run_id, account, region, sent.sent_at)),
            "EventBusName": "default",
        }
        try:
            answer = events.put_events(Entries=[entry])
        except AWS_ERRORS as exc:
            return f"bus refused: {error_text(exc)}"
        result = answer["Entries"][0]
        if answer.get("FailedEntryCount") or "EventId" not in result:
            return f"bus refused: {result.get('ErrorCode', '')} {result.get('ErrorMessage', '')}".strip()
        return ""

    def collect(self, sent: Sent, timeout: float) -> VerifyReport:
        """Wait up to `timeout` seconds for every cell sent to arrive, then explain the others."""
        expected = set(sent.cells) - set(sent.failed)
        poller = self.ctx.poller
        deadline = poller.clock() + timeout
        arrived: set[Cell] = set()
        while True:
            arrived = self._arrivals(sent) & expected
            if arrived == expected or poller.clock() >= deadline:
                break
            poller.sleep(max(min(poller.interval, deadline - poller.clock()), 0.0))
        missing = [cell for cell in sent.cells if cell not in arrived]
        reasons = dict(sent.failed)
        for cell in missing:
            if cell not in reasons:
                reasons[cell] = self._diagnose(*cell, timeout)
        report = VerifyReport(sent.run_id, matrix(sent.cells, arrived, reasons))
        self._say(f"e2p verify: {report.arrived} arrived, {report.missing} missing")
        return report

    def _arrivals(self, sent: Sent) -> set[Cell]:
        function = self.outputs().get("FunctionName")
        if not function:
            raise E2PError("the central stack has no FunctionName output")
        central = self.ctx.settings.central
        logs = self._sessions.client(self._sessions.central(), "logs", central.region)
        lines = function_log_lines(logs, function, sent.sent_at, sent.run_id)
        if lines is None:
            return set()  # no invocation has logged yet
        return arrivals(lines, sent.run_id)

    # -- why a cell is missing -----------------------------------------------------------------------

    def _diagnose(self, account: str, region: str, timeout: float) -> str:
        bus_arn = self.outputs().get("EventBusArn", "")
        try:
            events = self._sessions.client(self._sessions.member(account), "events", region)
            names = events.list_rule_names_by_target(TargetArn=bus_arn, EventBusName="default").get(
                "RuleNames", []
            )
            if not names:
                return "no rule targets the central bus: no stack instance here" + self._instance_note(
                    account, region
                )
            rule = events.describe_rule(Name=names[0], EventBusName="default")
            if rule.get("State") == "DISABLED":
                return f"rule {names[0]} is disabled"
            held = self._dead_letters(account, region, events, names[0])
        except AWS_ERRORS as exc:
            return f"not seen in {timeout:.0f}s; could not inspect the account: {error_text(exc)}"
        if held:
            return f"the rule's dead-letter queue holds {held} message(s)"
        return f"not seen in the function's log within {timeout:.0f}s (see `e2p status`)"

    def _instance_note(self, account: str, region: str) -> str:
        definition = self.ctx.definition
        try:
            cfn = self._sessions.client(self._sessions.admin(), "cloudformation", definition.region)
            found = StackSetManager(cfn, definition, self.ctx.poller).instances(account, region)
        except AWS_ERRORS:
            return ""
        return f" (stack instance {found[0].label})" if found else ""

    def _dead_letters(self, account: str, region: str, events: Any, rule: str) -> int:
        targets = events.list_targets_by_rule(Rule=rule, EventBusName="default").get("Targets", [])
        arns = [t.get("DeadLetterConfig", {}).get("Arn") for t in targets]
        sqs = self._sessions.client(self._sessions.member(account), "sqs", region)
        held = 0
        for arn in filter(None, arns):
            _, _, _, _, owner, name = str(arn).split(":", 5)
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=owner)["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            held += int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        return held
