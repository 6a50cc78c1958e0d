"""The whole organisation flow on the embedded local AWS, exactly as `e2p demo` runs it.

One run per scenario (each takes tens of seconds): a normal run, ending with `e2p teardown`, and a
run during which Panther is down for its first seconds of delivery. The normal run also raises and
clears the watchdog's uncovered and dead_letters alerts after the demo's coverage phase.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from e2p.local.demo import CENTRAL_REGION, DEMO_REGIONS, NEW_ACCOUNT, Demo, DemoResult
from e2p.local.demo_coverage import CoveragePhase
from e2p.local.faults import FaultPlan

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import DeploymentTargetsTypeDef

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


# The pair made uncovered after the demo's coverage phase: an account of a targeted OU (not one the
# phase itself breaks) in a region the phase leaves alone.
UNCOVERED_ACCOUNT = "web-staging"
UNCOVERED_REGION = "us-east-1"


@dataclass
class FurtherConditions:
    """Uncovered and dead_letters, raised then cleared after the demo's coverage phase, in the same
    deployed organisation (a second deploy would cost seconds). Each step moves the virtual clock one
    heartbeat interval: heartbeats, a watchdog run, then the forwarder drains the buffer queue into the
    local Panther. `raised`/`cleared`: the Panther events of those two kinds after each step."""

    account_id: str = ""
    dead_letter_queue: str = ""
    raised: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, phase: CoveragePhase) -> None:
        organizations = phase.management.client("organizations", endpoint_url=phase.endpoint)
        cloudformation = phase.management.client("cloudformation", endpoint_url=phase.endpoint)
        sqs = phase.central.client("sqs", endpoint_url=phase.endpoint)
        self.account_id = phase.accounts[UNCOVERED_ACCOUNT]
        (parent,) = organizations.list_parents(ChildId=self.account_id)["Parents"]
        # The StackSet the watchdog compares with (the scheduled function's own configuration).
        stackset = phase.host.deployed.environment["E2P_STACKSET_NAME"]
        targets: DeploymentTargetsTypeDef = {
            "OrganizationalUnitIds": [parent["Id"]],
            "Accounts": [self.account_id],
            "AccountFilterType": "INTERSECTION",
        }
        # Uncovered: the pair's stack instance is removed (its stack with it), as a failed rollout or an
        # operator's DeleteStackInstances would leave it; the account stays in its targeted OU.
        cloudformation.delete_stack_instances(
            StackSetName=stackset, DeploymentTargets=targets, Regions=[UNCOVERED_REGION], RetainStacks=False
        )
        # Dead letters: a message parked in the central buffer queue's dead-letter queue, which the
        # watchdog watches (E2P_WATCHED_QUEUE_URLS).
        dlq = phase.outputs["DeadLetterQueueUrl"]
        self.dead_letter_queue = dlq.rsplit("/", 1)[-1]
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"parked": "by the e2e test"}))
        phase.advance(1)
        phase.drain()  # the watchdog run's alerts reach Panther
        self.raised = _further(phase)

        # Repaired: the instance is created again (a fresh member stack), the message taken off the queue.
        cloudformation.create_stack_instances(
            StackSetName=stackset, DeploymentTargets=targets, Regions=[UNCOVERED_REGION]
        )
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]:
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
        phase.advance(1)
        phase.drain()
        self.cleared = _further(phase)


def _further(phase: CoveragePhase) -> list[dict[str, Any]]:
    return [
        e
        for e in phase.panther_events()
        if e.get("tag") == "Coverage" and e.get("coverage_kind") in ("uncovered", "dead_letters")
    ]


@pytest.fixture(scope="module")
def further_conditions() -> FurtherConditions:
    return FurtherConditions()


@pytest.fixture(scope="module")
def normal_run(further_conditions: FurtherConditions) -> tuple[Demo, DemoResult]:
    demo = Demo(ROOT, None, print, teardown=True, coverage_checks=further_conditions)
    return demo, demo.run()


def test_every_event_sent_from_the_organisation_is_delivered(normal_run: tuple[Demo, DemoResult]) -> None:
    _, result = normal_run
    assert result.events_sent > 40
    assert result.lost == 0
    assert result.dead_lettered == 0
    assert result.delivered + result.filtered == result.events_sent
    assert result.duplicates == 0


def test_verify_proves_every_account_and_region_after_the_deploy(normal_run: tuple[Demo, DemoResult]) -> None:
    # `e2p verify` ran after the deploy: a marked event from every account x region, the management
    # account's and the account enrolled during the run included, reached the function.
    demo, result = normal_run
    assert demo.org is not None and demo.verify is not None
    cells = {(c.account, c.region) for c in demo.verify.cells}
    accounts = {account for account, _ in cells}
    assert {region for _, region in cells} == set(DEMO_REGIONS)
    assert demo.org.management_account in accounts
    assert any(a.name == "payments-prod" and a.account_id in accounts for a in demo.org.accounts)
    enrolled = re.search(r"\((\d{12})\)", result.enrolled_account)
    assert enrolled is not None and enrolled.group(1) in accounts
    assert len(cells) == len(accounts) * len(DEMO_REGIONS)
    assert result.verify_missing == 0
    assert result.verify_arrived == len(cells)
    assert result.summary()["verify_arrived"] == len(cells)


def test_events_arrive_enriched_with_the_sending_account_name_and_ou(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    demo, _ = normal_run
    assert demo.org is not None
    accounts = {a.account_id: a for a in demo.org.accounts}
    checked = 0
    for event in demo.received:
        emission = demo.sent.get(event["event_id"])
        if emission is None or emission.account not in accounts:
            continue
        account = accounts[emission.account]
        assert event["account_id"] == account.account_id
        assert event["account_name"] == account.name
        assert event["ou_path"] == account.ou_path
        assert event["region"] == emission.region
        assert event["node"].startswith(f"{account.name}/{emission.region}".lower())
        assert event["account_tag_team"] == account.tags["team"]
        checked += 1
    assert checked >= 30


def test_every_account_shows_the_iam_alias_read_from_the_account_itself(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    # No accounts file in the demo: each alias was set inside its account and read by the directory
    # refresh through that account's alias-reader role (issue 16).
    demo, result = normal_run
    assert demo.aliases and result.aliases_resolved >= len(demo.aliases)
    checked = 0
    for event in demo.received:
        emission = demo.sent.get(event["event_id"])
        if emission is None or emission.account not in demo.aliases:
            continue
        assert event["account_alias"] == demo.aliases[emission.account]
        checked += 1
    assert checked >= 30
    assert all(alert["account_alias"] for alert in result.top_alerts)


def test_member_accounts_in_several_regions_and_the_management_account_forward(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    demo, _ = normal_run
    assert demo.org is not None
    regions_by_account: dict[str, set[str]] = defaultdict(set)
    for event in demo.received:
        regions_by_account[event["account_id"]].add(event["region"])
    assert regions_by_account[demo.org.management_account] == set(DEMO_REGIONS)
    payments = next(a for a in demo.org.accounts if a.name == "payments-prod")  # three OUs deep
    assert regions_by_account[payments.account_id] == set(DEMO_REGIONS)


def test_an_account_created_in_a_targeted_ou_is_enrolled_and_forwards(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    demo, result = normal_run
    assert result.enrolled_account.startswith(NEW_ACCOUNT[0])
    new_account_events = [e for e in demo.received if e.get("account_name") == NEW_ACCOUNT[0]]
    assert {e["region"] for e in new_account_events} == set(DEMO_REGIONS)
    assert all(e["ou_path"] == f"Root/{NEW_ACCOUNT[1]}" for e in new_account_events)


def test_an_outsider_is_refused_by_the_bus(normal_run: tuple[Demo, DemoResult]) -> None:
    demo, result = normal_run
    assert result.refused_outsider == 1
    assert not [e for e in demo.received if e.get("source") == "outsider.app"]


def test_teardown_leaves_nothing(normal_run: tuple[Demo, DemoResult]) -> None:
    _, result = normal_run
    assert result.left_after_teardown == 0


def test_every_account_x_region_beats_and_a_broken_region_is_alerted_then_cleared_in_panther(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    demo, result = normal_run
    assert demo.coverage is not None and demo.org is not None
    # Every forwarding account (targeted members, the enrolled one, the management account) x region
    # beats at each of the 6 intervals; the broken pair's 4 silent heartbeats were put but never
    # forwarded. The driver found no heartbeat role Scheduler could not use.
    pairs = (len(demo.org.members_in_targets()) + 2) * len(DEMO_REGIONS)
    assert demo.coverage.heartbeats_put == pairs * 6
    assert result.heartbeats == pairs * 6 - 4
    assert demo.coverage.heartbeat_failures == {}
    silent = [e for e in demo.coverage.coverage_alerts if e["coverage_kind"] == "silent"]
    (alarm,) = [e for e in silent if e["coverage_state"] == "ALARM"]
    (clear,) = [e for e in silent if e["coverage_state"] == "OK"]
    # The alert names the pair (not the central account that reported it) and its clear pairs with it.
    assert alarm["node"] == clear["node"] == "payments-prod/ap-southeast-2"
    assert (
        alarm["summary"]
        == clear["summary"]
        == ("no events from payments-prod/ap-southeast-2 for 45 min: forwarding is broken")
    )
    assert (alarm["severity"], clear["severity"]) == (4, 0)
    assert (result.silent_detected, result.silent_cleared) == (1, 1)


def test_a_region_opted_in_outside_the_configuration_is_reported_and_nothing_else_alerts(
    normal_run: tuple[Demo, DemoResult],
) -> None:
    demo, result = normal_run
    assert demo.coverage is not None
    assert result.uncovered_regions == ["data-dev/ap-east-1"]
    kinds = {(e["coverage_kind"], e["coverage_state"], e["node"]) for e in demo.coverage.coverage_alerts}
    assert kinds == {
        ("silent", "ALARM", "payments-prod/ap-southeast-2"),
        ("silent", "OK", "payments-prod/ap-southeast-2"),
        ("region_not_forwarded", "ALARM", "data-dev/ap-east-1"),
    }
    summary = result.summary()
    assert {"heartbeats", "silent_detected", "silent_cleared", "uncovered_regions"} <= set(summary)


def test_a_panther_outage_is_survived_by_dead_letters_and_replay(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # One receive before the buffer queue dead-letters: a 15 s outage outlasts that invocation's retries.
    # The coverage phase is tested by the normal run; this one saves its seconds.
    demo = Demo(
        ROOT, FaultPlan.parse("outage=15"), print, lambda_settings={"max_receive_count": 1}, coverage=False
    )
    result = demo.run()
    assert result.fault_counts["outage"] == 1
    assert result.replayed > 0, "the outage should have sent messages to the dead-letter queue"
    assert result.lost == 0
    assert result.dead_lettered == 0
    assert result.delivered + result.filtered == result.events_sent
    # exactly once into Panther's aggregation: no message counted twice
    assert result.duplicates == 0
    # the token appears nowhere in what the whole run printed or logged, nor in its report
    captured = capsys.readouterr()
    everything = captured.out + captured.err + caplog.text + json.dumps(result.summary())
    assert len(caplog.records) > 100
    assert demo.token not in everything


def test_an_account_without_a_stack_instance_is_alerted_then_cleared_in_panther(
    normal_run: tuple[Demo, DemoResult], further_conditions: FurtherConditions
) -> None:
    _, result = normal_run
    further = further_conditions
    pair = f"{UNCOVERED_ACCOUNT}/{UNCOVERED_REGION}"
    summary = f"{pair} has no Events2Panther stack instance: its events are not forwarded"
    # After the removal: exactly one alert, naming the member account and region (not the central
    # account that reported it), MAJOR, with the instance state the watchdog saw.
    (alarm,) = [e for e in further.raised if e["coverage_kind"] == "uncovered"]
    assert alarm["coverage_state"] == "ALARM"
    assert alarm["node"] == pair
    assert (alarm["account_id"], alarm["region"]) == (further.account_id, UNCOVERED_REGION)
    assert alarm["summary"] == summary
    assert alarm["severity"] == 4
    assert alarm["stack_status"] == "no stack instance"
    # After the instance is created again: one clear with the very node and summary, severity 0.
    uncovered = [e for e in further.cleared if e["coverage_kind"] == "uncovered"]
    assert [e["coverage_state"] for e in uncovered] == ["ALARM", "OK"]
    clear = uncovered[1]
    assert (clear["node"], clear["summary"], clear["severity"]) == (pair, summary, 0)
    # The recreated instance forwards again: `e2p verify` (run after this) heard every pair.
    assert result.verify_missing == 0


def test_messages_waiting_in_the_central_dead_letter_queue_are_alerted_then_cleared_in_panther(
    normal_run: tuple[Demo, DemoResult], further_conditions: FurtherConditions
) -> None:
    demo, result = normal_run
    further = further_conditions
    assert demo.org is not None
    summary = f"events wait in the Events2Panther {further.dead_letter_queue} (e2p replay)"
    (alarm,) = [e for e in further.raised if e["coverage_kind"] == "dead_letters"]
    assert alarm["coverage_state"] == "ALARM"
    assert alarm["summary"] == summary
    assert alarm["severity"] == 3
    assert alarm["messages_waiting"] == "1"
    # The queue is the central account's own resource: the node names that account, its region and
    # the queue (no member pair is at fault).
    central = demo.org.central
    assert alarm["node"] == f"{central.name}/{CENTRAL_REGION}/{further.dead_letter_queue.lower()}"
    assert (alarm["account_id"], alarm["region"]) == (central.account_id, CENTRAL_REGION)
    dead_letters = [e for e in further.cleared if e["coverage_kind"] == "dead_letters"]
    assert [e["coverage_state"] for e in dead_letters] == ["ALARM", "OK"]
    clear = dead_letters[1]
    assert (clear["node"], clear["summary"], clear["severity"]) == (alarm["node"], summary, 0)
    # The test's message was taken off the queue before the run's dead-letter scan.
    assert result.dead_lettered == 0
