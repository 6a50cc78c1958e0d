"""`e2p demo`: the whole organisation flow on this machine, with the same templates and deploy code.

1. Start the embedded local AWS (moto, made faithful) and the local Panther.
2. Build an organisation: nested OUs, named and tagged accounts (demo_org.py).
3. `e2p deploy` it, through the very code path an operator runs against AWS.
4. Run the deployed function in-process behind its SQS event source mapping (function_host.py).
5. Emit real sample events from member accounts in several regions, enrol a new account by creating
   it in a targeted OU, and try an event from outside the organisation.
6. Let the function drain the buffer; replay the dead-letter queues while anything is parked.
7. Account for every event sent: delivered, dead-lettered, filtered on purpose, or lost.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from e2p.config.mappings_file import MappingsFile
from e2p.local.aws import LocalAws, emit_aws_event
from e2p.local.demo_accounting import Accounting, ParkedQueue, member_dead_letter_queues, scan_dead_letters
from e2p.local.demo_config import ACCESS_ROLE, LocalTarget, write_config
from e2p.local.demo_coverage import CoverageOutcome, CoveragePhase
from e2p.local.demo_directory import DemoDirectory, set_demo_aliases
from e2p.local.demo_events import Emission, emit_all, load_samples, plan_emissions
from e2p.local.demo_org import (
    DemoOrganization,
    build_demo_organization,
    create_account,
    demo_alias,
    set_account_alias,
)
from e2p.local.faults import FaultPlan
from e2p.local.fidelity import lambda_async
from e2p.local.function_host import LocalFunction, environment, read_deployed_function, role_session
from e2p.local.panther import LocalPanther
from e2p.ops.verify import VerifyReport

DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CENTRAL_REGION = "eu-west-1"
EVENTS_PER_ACCOUNT_REGION = 2
NEW_ACCOUNT = ("payments-dr", "Workloads/Prod/Payments", {"team": "payments", "environment": "dr"})
OUTSIDER_ACCOUNT = "999999999999"
STACKSET_NAME = "events2panther-member"
REPLAY_ROUNDS = 4
PANTHER_BACK_TIMEOUT_S = 120.0
DRAIN_SECONDS = 120.0
# The function has been drained when verify reads its log group: the lines are there or never will be.
VERIFY_TIMEOUT_S = 5.0
# The handler's default read timeout is 10 s: a "slow" answer must take longer to be slow.
SLOW_BEYOND_READ_TIMEOUT_S = 12.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_SESSION_TOKEN": "demo",
    "AWS_DEFAULT_REGION": CENTRAL_REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    # The function runs from this checkout in-process (function_host.py): the zip needs no wheels.
    "E2P_LAMBDA_DEPS": "none",
    "E2P_POLL_INTERVAL_SECONDS": "0.05",
}

Progress = Callable[[str], None]


@dataclass(slots=True)
class DemoResult:
    accounts: int = 0
    ous: int = 0
    regions: int = 0
    events_sent: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    filtered: int = 0
    refused_outsider: int = 0
    lost: int = 0
    duplicates: int = 0
    replayed: int = 0
    enrolled_account: str = ""
    alerts: int = 0
    faults: str = ""
    seconds: float = 0.0
    samples_not_forwarded: int = 0
    left_after_teardown: int | None = None
    per_account: dict[str, int] = field(default_factory=dict)
    per_severity: dict[str, int] = field(default_factory=dict)
    top_alerts: list[dict[str, Any]] = field(default_factory=list)
    fault_counts: dict[str, int] = field(default_factory=dict)
    # Coverage (demo_coverage.py): heartbeats recorded, the broken pair's alert and clear seen in
    # Panther, and the account x regions reported as enabled but not forwarded.
    heartbeats: int = 0
    silent_detected: int = 0
    silent_cleared: int = 0
    uncovered_regions: list[str] = field(default_factory=list)
    # Accounts whose IAM alias the directory refresh read from the account itself (no accounts file),
    # and the refreshes the forwarder asked for asynchronously (accounts it did not know).
    aliases_resolved: int = 0
    directory_refreshes_requested: int = 0
    # `e2p verify` after the deploy: account x region cells whose marked event reached the function.
    verify_arrived: int = 0
    verify_missing: int = 0
    # `--mappings FILE`: "<file name>: <n> entries", deployed with the function ("" without one).
    mappings: str = ""

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Demo:
    def __init__(
        self,
        project_root: Path,
        faults: FaultPlan | None,
        progress: Progress,
        *,
        teardown: bool = False,
        coverage: bool = True,
        lambda_settings: Mapping[str, int] | None = None,
        mappings: MappingsFile | None = None,
        coverage_checks: Callable[[CoveragePhase], None] | None = None,
    ) -> None:
        """`lambda_settings`: keys of the config's [central.lambda] section (e.g. max_receive_count).
        `mappings`: an organisation mappings file, deployed as `e2p deploy --mappings` does; the
        member pattern then also forwards the custom sources it maps (admit_sources)."""
        self.root = project_root
        self.plan = _slow_beyond_read_timeout(faults) if faults else None
        self.say = progress
        self.teardown = teardown
        # The coverage phase (heartbeats, a broken region detected and cleared): on unless a caller
        # that tests something else saves its seconds.
        self.with_coverage = coverage
        # Run after the coverage phase, in the same world (the end-to-end tests' further alerts).
        self.coverage_checks = coverage_checks
        self.lambda_settings = dict(lambda_settings or {})
        self.mappings = mappings
        self.token = secrets.token_hex(16)  # 32 characters, like a Panther API key
        # Kept after a run for the end-to-end tests to look into.
        self.org: DemoOrganization | None = None
        self.sent: dict[str, Emission] = {}
        self.received: list[dict[str, Any]] = []
        self.coverage: CoverageOutcome | None = None
        self.aliases: dict[str, str] = {}  # account id -> the IAM alias the demo set in it
        self.verify: VerifyReport | None = None

    def run(self) -> DemoResult:
        started = time.monotonic()
        result = DemoResult(faults=self.plan.describe() if self.plan else "")
        if self.mappings is not None:
            result.mappings = f"{self.mappings.path.name}: {self.mappings.organisation_entries} entries"
        with (
            tempfile.TemporaryDirectory(prefix="e2p-demo-") as workdir,
            LocalAws() as local,
            LocalPanther(self.token, faults=self.plan) as panther,
            environment({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": local.endpoint_url}),
        ):
            endpoint = local.endpoint_url
            local.reset()  # moto's state is per process: start from an empty AWS every run
            base = boto3.Session(region_name=CENTRAL_REGION)
            org = self._organization(base, endpoint)
            self.aliases = set_demo_aliases(
                org, base, lambda account: _account_session(base, endpoint, account), endpoint
            )
            target = write_config(
                Path(workdir),
                org,
                DEMO_REGIONS,
                CENTRAL_REGION,
                panther.url,
                lambda_settings=self.lambda_settings,
                event_pattern_file=self._member_pattern_file(Path(workdir)),
            )
            self._deploy(target, endpoint)
            central = role_session(base, endpoint, target.central_role_arn, CENTRAL_REGION)
            outputs = target.central_outputs(central, endpoint)
            function = self._function(central, endpoint, outputs["FunctionName"])
            lambda_async.clear()
            directory = DemoDirectory(central, endpoint, outputs, CENTRAL_REGION, self.say)
            directory.refresh()  # the schedule rule's first run after the deploy
            sent = self._send(base, org, endpoint, result)
            new_account, new_sent = self._enrol_new_account(base, org, endpoint, result)
            sent.update(new_sent)
            # The new account's CreateAccountResult event asks the refresh for it (before its stack
            # instances forward anything, in AWS); its alias is set as its owners would.
            set_account_alias(
                _account_session(base, endpoint, new_account).client("iam", endpoint_url=endpoint),
                demo_alias(NEW_ACCOUNT[0]),
            )
            self.aliases[new_account] = demo_alias(NEW_ACCOUNT[0])
            directory.refresh([new_account], "CreateAccountResult")
            result.refused_outsider = self._outsider(base, endpoint, outputs["EventBusArn"])
            panther.start_delivery_clock()
            self._deliver(function, target, endpoint, result, panther.url)
            if self.with_coverage:
                self._coverage(base, org, endpoint, central, outputs, function, panther, result)
            directory.run_requested()  # what the forwarder asked for (the outsider it did not know)
            result.aliases_resolved = directory.aliases_resolved()
            result.directory_refreshes_requested = directory.requested
            self._verify(target, endpoint, function, result)
            senders = {e.account for e in sent.values()}
            sessions = {a: _account_session(base, endpoint, a) for a in senders | {org.central.account_id}}
            queues = [
                ParkedQueue(org.central.account_id, CENTRAL_REGION, outputs["DeadLetterQueueUrl"]),
                ParkedQueue(org.central.account_id, CENTRAL_REGION, outputs["RuleDeadLetterQueueUrl"]),
            ]
            for account in senders:
                queues += member_dead_letter_queues(sessions[account], endpoint, account, DEMO_REGIONS)
            parked = scan_dead_letters(sessions, endpoint, queues)
            self.org, self.sent, self.received = org, sent, panther.events()
            if self.teardown:
                result.left_after_teardown = self._teardown(target, endpoint, org, sessions)
            self._account(
                result,
                org=org,
                new_account=new_account,
                sent=sent,
                panther=panther,
                function=function,
                parked=parked,
            )
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _organization(self, base: boto3.Session, endpoint: str) -> DemoOrganization:
        org = build_demo_organization(base.client("organizations", endpoint_url=endpoint))
        self.say(
            f"organisation {org.organization_id}: {len(org.accounts)} accounts in {len(org.ou_ids)} OUs "
            f"(management {org.management_account})"
        )
        return org

    def _deploy(self, target: LocalTarget, endpoint: str) -> None:
        from e2p.console.options import load_context
        from e2p.ops.deployment import Deployment

        self.say("e2p deploy: central stack, lookup role, StackSet to OUs x regions, management stacks")
        ctx = load_context(target.global_options(endpoint))
        # A fresh local organisation: trusted access for StackSets is activated as an operator would.
        results = Deployment(ctx, activate_trusted_access=True, mappings=self.mappings).run(self.token)
        if results.failed:
            failures = "; ".join(
                f"{item.step} {item.account} {item.region}: {item.detail}".replace("  ", " ")
                for item in results.failed
            )
            raise RuntimeError(f"the local deployment failed: {failures}")

    def _member_pattern_file(self, workdir: Path) -> Path | None:
        """The default member pattern plus a branch for the mappings file's custom sources."""
        if self.mappings is None or not self.mappings.custom_sources:
            return None
        from e2p.aws.cfn_template import load_template
        from e2p.config.mappings_file import admit_sources

        member = load_template((self.root / "member" / "template.yaml").read_text(), "member/template.yaml")
        pattern = admit_sources(member["Parameters"]["EventPattern"]["Default"], self.mappings.custom_sources)
        path = workdir / "member-pattern.json"
        path.write_text(pattern)
        return path

    def _function(self, central: boto3.Session, endpoint: str, function_name: str) -> LocalFunction:
        deployed = read_deployed_function(central, endpoint, function_name, CENTRAL_REGION)
        function_session = role_session(central, endpoint, deployed.role_arn, CENTRAL_REGION)
        return LocalFunction(deployed, function_session, endpoint)

    def _send(
        self, base: boto3.Session, org: DemoOrganization, endpoint: str, result: DemoResult
    ) -> dict[str, Emission]:
        pattern = _member_pattern(base, endpoint, org.members_in_targets()[0].account_id)
        samples, left_out = load_samples(self.root / "tests" / "events", pattern)
        result.samples_not_forwarded = left_out
        if self.mappings is not None:
            # The samples of the sources the mappings file maps go first: they are what it is about.
            sources = set(self.mappings.sources)
            samples.sort(key=lambda sample: sample.event.get("source") not in sources)
        senders = [a.account_id for a in org.members_in_targets()] + [org.management_account]
        plan = plan_emissions(senders, DEMO_REGIONS, samples, EVENTS_PER_ACCOUNT_REGION)
        sent = emit_all(plan, emit_aws_event)
        result.accounts = len(org.accounts) + 1  # + the management account
        result.ous = len(org.ou_ids)
        result.regions = len(DEMO_REGIONS)
        self.say(
            f"sent {len(sent)} real sample events from {len(senders)} accounts x {len(DEMO_REGIONS)} regions "
            f"({EVENTS_PER_ACCOUNT_REGION} per account and region, drawn from the {len(samples)} samples "
            "the member rule forwards)"
        )
        return sent

    def _enrol_new_account(
        self, base: boto3.Session, org: DemoOrganization, endpoint: str, result: DemoResult
    ) -> tuple[str, dict[str, Emission]]:
        name, ou_path, tags = NEW_ACCOUNT
        organizations = base.client("organizations", endpoint_url=endpoint)
        account_id = create_account(organizations, name, org.ou_ids[ou_path], org.root_id, tags)
        cfn = base.client("cloudformation", endpoint_url=endpoint, region_name=CENTRAL_REGION)
        instances = cfn.list_stack_instances(StackSetName=STACKSET_NAME)["Summaries"]
        enrolled = sorted(i["Region"] for i in instances if i["Account"] == account_id)
        if enrolled != sorted(DEMO_REGIONS):
            raise RuntimeError(
                f"new account {account_id} was enrolled in {enrolled}, expected {DEMO_REGIONS}"
            )
        result.accounts += 1
        result.enrolled_account = f"{name} ({account_id}) in Root/{ou_path}: {', '.join(enrolled)}"
        self.say(f"new account {result.enrolled_account}: enrolled automatically by the StackSet")
        samples, _ = load_samples(self.root / "tests" / "events", _member_pattern(base, endpoint, account_id))
        return account_id, emit_all(plan_emissions([account_id], DEMO_REGIONS, samples, 1), emit_aws_event)

    def _outsider(self, base: boto3.Session, endpoint: str, bus_arn: str) -> int:
        outsider = _account_session(base, endpoint, OUTSIDER_ACCOUNT)
        answer = outsider.client("events", endpoint_url=endpoint).put_events(
            Entries=[
                {
                    "EventBusName": bus_arn,
                    "Source": "outsider.app",
                    "DetailType": "Injected",
                    "Detail": json.dumps({"message": "an account outside the organisation"}),
                }
            ]
        )
        refused = [e for e in answer["Entries"] if e.get("ErrorCode")]
        codes = ", ".join(sorted({str(e["ErrorCode"]) for e in refused})) or "accepted!"
        self.say(
            f"outsider account {OUTSIDER_ACCOUNT}: {len(refused)} of 1 events refused by the bus ({codes})"
        )
        return len(refused)

    def _deliver(
        self,
        function: LocalFunction,
        target: LocalTarget,
        endpoint: str,
        result: DemoResult,
        panther_url: str,
    ) -> None:
        stats = function.event_source().drain(DRAIN_SECONDS)
        self.say(f"function: {stats.invocations} invocations, {stats.records} records")
        for _ in range(REPLAY_ROUNDS):
            # An operator replays once Panther answers again; replaying into an outage only parks
            # the messages a second time.
            _wait_until_listening(panther_url, PANTHER_BACK_TIMEOUT_S)
            moved = _replay(target, endpoint)
            if not moved:
                break
            result.replayed += moved
            self.say(f"e2p replay: moved {moved} dead-lettered messages back to the buffer")
            function.event_source().drain(DRAIN_SECONDS)

    def _verify(
        self, target: LocalTarget, endpoint: str, function: LocalFunction, result: DemoResult
    ) -> None:
        """`e2p verify` through the command's own code; the function runs when driven, so it is
        drained between sending and reading its log group."""
        from e2p.console.options import load_context
        from e2p.ops.verify import Verifier

        verifier = Verifier(load_context(target.global_options(endpoint)), self.say)
        sent = verifier.send()
        function.event_source().drain(DRAIN_SECONDS)
        self.verify = verifier.collect(sent, VERIFY_TIMEOUT_S)
        function.close()
        result.verify_arrived, result.verify_missing = self.verify.arrived, self.verify.missing
        for cell in self.verify.cells:
            if cell.status != "arrived":
                self.say(f"  verify: {cell.account} {cell.region} missing: {cell.reason}")

    def _coverage(  # noqa: PLR0917 - the run's pieces, passed along
        self,
        base: boto3.Session,
        org: DemoOrganization,
        endpoint: str,
        central: boto3.Session,
        outputs: Mapping[str, str],
        function: LocalFunction,
        panther: LocalPanther,
        result: DemoResult,
    ) -> None:
        accounts = {a.name: a.account_id for a in org.accounts}
        phase = CoveragePhase(
            management=base,
            member_session=lambda account: _account_session(base, endpoint, account),
            central=central,
            endpoint=endpoint,
            region=CENTRAL_REGION,
            outputs=outputs,
            function=function,
            panther_events=panther.events,
            accounts=accounts,
            say=self.say,
        )
        self.coverage = phase.run()
        if self.coverage_checks is not None:
            self.coverage_checks(phase)
        result.heartbeats = self.coverage.heartbeats
        result.silent_detected = self.coverage.silent_detected
        result.silent_cleared = self.coverage.silent_cleared
        result.uncovered_regions = self.coverage.uncovered_regions

    def _account(
        self,
        result: DemoResult,
        *,
        org: DemoOrganization,
        new_account: str,
        sent: dict[str, Emission],
        panther: LocalPanther,
        function: LocalFunction,
        parked: set[str],
    ) -> None:
        accounting = Accounting(set(sent), panther.events(), parked, function.filtered)
        result.events_sent = len(sent)
        result.delivered = len(accounting.delivered)
        result.dead_lettered = len(accounting.dead_lettered)
        result.filtered = len(accounting.filtered)
        result.lost = len(accounting.lost)
        result.duplicates = accounting.duplicates
        # The name Panther shows (the handler's account directory reads it from Organizations),
        # so that the table and the alerts call one account by one name.
        by_account = Counter(str(e.get("account_name") or e["account_id"]) for e in accounting.messages)
        result.per_account = dict(sorted(by_account.items()))
        by_severity = Counter(int(e["severity"]) for e in accounting.messages)
        result.per_severity = {str(k): v for k, v in sorted(by_severity.items())}
        alerts = panther.alerts()
        result.alerts = len(alerts)
        ranked = sorted(alerts, key=lambda a: (-int(a.get("tally", 0)), -int(a.get("severity", 0))))
        result.top_alerts = [
            {k: a.get(k) for k in ("node", "severity", "summary", "tally", "account_alias")}
            for a in ranked[:8]
        ]
        result.fault_counts = panther.fault_counts()

    def _teardown(
        self, target: LocalTarget, endpoint: str, org: DemoOrganization, sessions: dict[str, boto3.Session]
    ) -> int:
        """`e2p teardown`, then count what is left: stacks in every account x region, the StackSet."""
        from e2p.console.options import load_context
        from e2p.ops.teardown import Teardown

        results = Teardown(load_context(target.global_options(endpoint))).run()
        if results.failed:
            self.say(f"e2p teardown: {len(results.failed)} steps failed")
        accounts = set(sessions) | {org.management_account}
        left = 0
        for account in accounts:
            session = sessions.get(account) or boto3.Session(region_name=CENTRAL_REGION)
            for region in DEMO_REGIONS:
                cfn = session.client("cloudformation", endpoint_url=endpoint, region_name=region)
                stacks = cfn.list_stacks()["StackSummaries"]
                left += sum(1 for s in stacks if s["StackStatus"] != "DELETE_COMPLETE")
        cfn = boto3.Session(region_name=CENTRAL_REGION).client("cloudformation", endpoint_url=endpoint)
        left += sum(1 for s in cfn.list_stack_sets()["Summaries"] if s.get("Status") != "DELETED")
        self.say(f"e2p teardown: {left} stacks or stack sets left")
        return left


def _wait_until_listening(url: str, timeout_s: float) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
                return
        except OSError:
            time.sleep(0.2)


def _account_session(base: boto3.Session, endpoint: str, account: str) -> boto3.Session:
    return role_session(base, endpoint, f"arn:aws:iam::{account}:role/{ACCESS_ROLE}", CENTRAL_REGION)


def _slow_beyond_read_timeout(plan: FaultPlan) -> FaultPlan:
    if plan.slow and plan.slow_delay_s <= SLOW_BEYOND_READ_TIMEOUT_S - 2:
        return dataclasses.replace(plan, slow_delay_s=SLOW_BEYOND_READ_TIMEOUT_S)
    return plan


def _member_pattern(base: boto3.Session, endpoint: str, account_id: str) -> Callable[[Any], bool]:
    """What the deployed member rule of `account_id` really forwards: its pattern, in its state
    (read-only CloudTrail calls named Get*/List*/Describe* reach only a rule in
    ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS)."""
    from moto.events.models import EventPattern

    from e2p.local.fidelity.events import rule_receives

    member = _account_session(base, endpoint, account_id)
    events = member.client("events", endpoint_url=endpoint, region_name="us-east-1")
    rules = events.list_rules(EventBusName="default")["Rules"]
    if not rules:
        raise RuntimeError(f"account {account_id} has no forwarding rule in us-east-1")
    pattern = EventPattern.load(rules[0]["EventPattern"])
    state = rules[0].get("State")
    return lambda event: rule_receives(state, event) and bool(pattern.matches_event(event))


def _replay(target: LocalTarget, endpoint: str) -> int:
    """`e2p replay` of both central dead-letter queues, through the command's own code."""
    from e2p.console.options import load_context
    from e2p.ops.replay import SOURCES, Replayer, replay_dead_letters

    replayer = Replayer(load_context(target.global_options(endpoint)))
    return sum(replay_dead_letters(replayer, source, None, False).moved or 0 for source in SOURCES)
