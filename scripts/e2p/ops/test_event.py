"""`e2p send-test-event`: put a recognisable event where a real one would start, and look for it.

What proves the path is the member rule itself: the event goes onto a member account's default
bus, must match the deployed rule's pattern, cross to the central bus, reach the buffer queue and
be picked up by the function. The default pattern forwards AWS sources only, so the rule matches
the test source only if the pattern has a branch for it; the command checks that first
(TestEventPattern against the deployed rule) and says so instead of waiting in vain. `--central`
skips the member hop and puts the event straight on the central bus, from the central account in
the central region (proving the central rule, the queue and the function).

SQS cannot be peeked without taking a message from the function, so the proof looked for is the
function's own log line carrying the event id (the handler logs it as its correlation id). Delivery
to Panther itself is not observable from AWS; the command says so.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.aws.function_logs import function_log_lines
from e2p.aws.polling import Poller
from e2p.aws.sessions import error_text
from e2p.aws.stacks import deployed_outputs
from e2p.console.options import CommandContext
from e2p.exceptions import E2PError, PollTimeoutError

TEST_SOURCE: Final = "events2panther.test"
TEST_DETAIL_TYPE: Final = "Events2Panther Test Event"
# Log lines of the minutes before the event was sent can still hold it (clock skew between hosts).
SHOWN_LOG_LINES: Final = 3


class CentralTestEventError(E2PError):
    """`--central` asked for with another account or region: the central bus has only one of each."""


def central_conflict(
    central_account: str, central_region: str, account: str | None, region: str | None
) -> str:
    """Why `--central` cannot be sent from `account`/`region` ("" when it can)."""
    if region and region != central_region:
        return f"--central puts the event on the central bus in {central_region}; drop --region {region}"
    if account and account != central_account:
        return (
            f"--central puts the event from the central account {central_account}; drop --account {account}"
        )
    return ""


class Verdict:
    VERIFIED = "verified"
    NOT_VERIFIED = "not verified"
    FAILED = "failed"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    verdict: str
    detail: str = ""


@dataclass
class TestEventReport:
    account: str
    region: str
    destination: str
    test_id: str
    event_id: str = ""
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, verdict: str, detail: str = "") -> None:
        self.checks.append(Check(name, verdict, detail))

    @property
    def verified(self) -> bool:
        return any(c.name == "handler" and c.verdict == Verdict.VERIFIED for c in self.checks) and not any(
            c.verdict == Verdict.FAILED for c in self.checks
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account,
            "region": self.region,
            "destination": self.destination,
            "test_id": self.test_id,
            "event_id": self.event_id,
            "checks": [asdict(c) for c in self.checks],
            "verified": self.verified,
        }


def test_envelope(account: str, region: str, test_id: str, sent_at: datetime) -> dict[str, Any]:
    """The event as EventBridge would deliver it, for TestEventPattern."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": TEST_DETAIL_TYPE,
        "source": TEST_SOURCE,
        "account": account,
        "time": sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": test_detail(account, region, test_id, sent_at),
    }


def test_detail(account: str, region: str, test_id: str, sent_at: datetime) -> dict[str, str]:
    return {
        "test_id": test_id,
        "message": "Events2Panther test event sent by e2p send-test-event",
        "sent_from_account": account,
        "sent_from_region": region,
        "sent_at": sent_at.isoformat(),
    }


class TestEventSender:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        self._sessions = ctx.sessions

    def _central_outputs(self) -> dict[str, str]:
        central = self.ctx.settings.central
        cfn = self._sessions.client(self._sessions.central(), "cloudformation", central.region)
        return deployed_outputs(cfn, central.stack_name, f"{central.account_id} {central.region}")

    def run(self, account: str | None, region: str | None, central: bool, timeout: float) -> TestEventReport:
        outputs = self._central_outputs()
        bus_arn = outputs.get("EventBusArn", "")
        if not bus_arn:
            raise E2PError("the central stack has no EventBusArn output")
        if central:
            # The central bus is in the central account and region; PutEvents addresses a bus in the
            # endpoint's own region, and the bus policy admits only the forwarder roles of other
            # accounts, so the central account itself puts the event (no bus policy is needed there).
            home = self.ctx.settings.central
            conflict = central_conflict(home.account_id, home.region, account, region)
            if conflict:
                raise CentralTestEventError(conflict)
            account, region = home.account_id, home.region
            session = self._sessions.central()
        else:
            account = account or self._sessions.management_account()
            region = region or self.ctx.definition.regions[0]
            session = self._sessions.member(account)
        events = self._sessions.client(session, "events", region)
        report = TestEventReport(account, region, bus_arn if central else "default bus", str(uuid.uuid4()))
        sent_at = datetime.now(UTC)
        if not central and not self._rule_forwards(events, bus_arn, report, sent_at):
            return report
        entry = {
            "Source": TEST_SOURCE,
            "DetailType": TEST_DETAIL_TYPE,
            "Detail": json.dumps(test_detail(account, region, report.test_id, sent_at)),
            "EventBusName": bus_arn if central else "default",
        }
        response = events.put_events(Entries=[entry])
        result = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in result:
            report.add(
                "put_events",
                Verdict.FAILED,
                f"{result.get('ErrorCode', '')} {result.get('ErrorMessage', '')}".strip(),
            )
            return report
        report.event_id = str(result["EventId"])
        report.add(
            "put_events", Verdict.VERIFIED, f"accepted in {account} {region}, event id {report.event_id}"
        )
        self._look_in_logs(outputs, report, sent_at, timeout)
        report.add(
            "panther",
            Verdict.NOT_CHECKED,
            f"not observable from AWS: look for the '{TEST_DETAIL_TYPE}' alert "
            f"(test id {report.test_id}) in Panther",
        )
        return report

    def _rule_forwards(self, events: Any, bus_arn: str, report: TestEventReport, sent_at: datetime) -> bool:
        """Does an enabled rule on the default bus target the central bus and match the test event?"""
        names = events.list_rule_names_by_target(TargetArn=bus_arn, EventBusName="default").get(
            "RuleNames", []
        )
        if not names:
            report.add(
                "member rule",
                Verdict.FAILED,
                f"no rule on the default bus of {report.account} {report.region} targets {bus_arn}",
            )
            return False
        rule = events.describe_rule(Name=names[0], EventBusName="default")
        if rule.get("State") == "DISABLED":
            report.add("member rule", Verdict.FAILED, f"rule {names[0]} is DISABLED")
            return False
        envelope = test_envelope(report.account, report.region, report.test_id, sent_at)
        try:
            matches = events.test_event_pattern(
                EventPattern=rule["EventPattern"], Event=json.dumps(envelope)
            ).get("Result")
        except ClientError as exc:
            matches = None
            report.add("member rule", Verdict.NOT_CHECKED, f"TestEventPattern failed: {error_text(exc)}")
        if matches is False:
            report.add(
                "member rule",
                Verdict.FAILED,
                f"the pattern of rule {names[0]} does not match source {TEST_SOURCE} (the template's "
                "default forwards AWS sources only): use --central, or add a branch for that source "
                "to the member EventPattern",
            )
            return False
        if matches is True:
            report.add("member rule", Verdict.VERIFIED, f"rule {names[0]} matches the test event")
        elif not any(c.name == "member rule" for c in report.checks):
            report.add("member rule", Verdict.NOT_CHECKED, "TestEventPattern gave no answer on this backend")
        return True

    def _look_in_logs(
        self, outputs: dict[str, str], report: TestEventReport, sent_at: datetime, timeout: float
    ) -> None:
        function = outputs.get("FunctionName")
        if not function:
            report.add("handler", Verdict.NOT_CHECKED, "the central stack has no FunctionName output")
            return
        central = self.ctx.settings.central
        logs = self._sessions.client(self._sessions.central(), "logs", central.region)
        group = f"/aws/lambda/{function}"
        # The id the handler logs; the test id as well, for backends that give forwarded events a new id.
        needles = [report.event_id, report.test_id]

        def found() -> list[str] | None:
            for needle in needles:
                lines = function_log_lines(logs, function, sent_at, needle, max_items=SHOWN_LOG_LINES)
                if lines is None:
                    return None
                if lines:
                    return [line.strip() for line in lines]
            return None

        interval = min(self.ctx.poller.interval, timeout)
        poller = Poller(
            interval=interval, timeout=timeout, sleep=self.ctx.poller.sleep, clock=self.ctx.poller.clock
        )
        started = time.monotonic()
        try:
            lines = poller.until(found, f"the event in {group}")
        except PollTimeoutError:
            report.add(
                "handler",
                Verdict.NOT_VERIFIED,
                f"no log line in {group} mentions the event within {timeout:.0f}s "
                "(check the buffer queue, the dead-letter queues and `e2p status`)",
            )
            return
        shown = " | ".join(line[:200] for line in lines[:SHOWN_LOG_LINES])
        report.add(
            "handler",
            Verdict.VERIFIED,
            f"logged by {function} after {time.monotonic() - started:.0f}s: {shown}",
        )
