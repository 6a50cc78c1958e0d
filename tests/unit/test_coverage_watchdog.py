"""The watchdog's judgement (pure): which pairs should forward, silence after K intervals, uncovered
pairs, regions enabled but not forwarded, dead letters, and exactly one clear when a condition ends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handler.coverage.evaluate import Account, Condition, Instance, Observation, conditions, transitions

pytestmark = pytest.mark.unit

A = Account("111111111111", "payments-prod", "ou-1")
B = Account("222222222222", "data-dev", "ou-1")
M = Account("999999999999", "management")
REGIONS = ("us-east-1", "eu-west-1")
NOW = 1_800_000_000
MINUTE = 60


def observation(**changes: object) -> Observation:
    base = Observation(
        members=(A, B),
        management=M,
        regions=REGIONS,
        management_regions=("us-east-1",),
        instances=tuple(Instance(a.account_id, r, "CURRENT") for a in (A, B) for r in REGIONS),
        last_seen={(a.account_id, r): NOW - 10 * MINUTE for a in (A, B, M) for r in REGIONS},
        first_expected={},
        now=NOW,
        heartbeat_minutes=15,
        missed_heartbeats=3,
        central_account="333333333333",
        central_region="eu-west-1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def kinds(found: list[Condition]) -> list[tuple[str, str, str]]:
    return [(c.kind, c.account_id, c.region) for c in found]


def test_everything_heard_recently_is_healthy() -> None:
    assert conditions(observation()) == []


def test_a_pair_silent_for_more_than_k_intervals_is_reported_with_the_threshold() -> None:
    last_seen = dict(observation().last_seen)
    last_seen[(A.account_id, "eu-west-1")] = NOW - 46 * MINUTE
    last_seen[(B.account_id, "eu-west-1")] = NOW - 44 * MINUTE  # within 3 x 15 min: not yet
    (found,) = conditions(observation(last_seen=last_seen))
    assert kinds([found]) == [("silent", A.account_id, "eu-west-1")]
    assert found.detail["minutes"] == "45"
    assert found.detail["account_name"] == "payments-prod"


def test_a_pair_never_heard_gets_k_intervals_from_when_it_was_first_expected() -> None:
    last_seen = dict(observation().last_seen)
    del last_seen[(B.account_id, "us-east-1")]
    fresh = observation(last_seen=last_seen, first_expected={(B.account_id, "us-east-1"): NOW - 5 * MINUTE})
    assert conditions(fresh) == []
    old = observation(last_seen=last_seen, first_expected={(B.account_id, "us-east-1"): NOW - 50 * MINUTE})
    (found,) = conditions(old)
    assert kinds([found]) == [("silent", B.account_id, "us-east-1")]
    assert found.detail["last_seen"] == "never"


def test_the_management_accounts_own_stacks_must_beat_too() -> None:
    last_seen = dict(observation().last_seen)
    last_seen[(M.account_id, "us-east-1")] = NOW - 3600
    assert kinds(conditions(observation(last_seen=last_seen))) == [("silent", M.account_id, "us-east-1")]


def test_a_member_without_a_healthy_instance_is_uncovered_not_also_silent() -> None:
    instances = tuple(
        i for i in observation().instances if (i.account_id, i.region) != (B.account_id, "eu-west-1")
    )
    instances += (Instance(A.account_id, "us-east-1", "FAILED (OUTDATED)"),)
    instances = tuple(i for i in instances if i != Instance(A.account_id, "us-east-1", "CURRENT"))
    last_seen = {k: NOW - 5 * 3600 for k in observation().last_seen}
    found = conditions(observation(instances=instances, last_seen=last_seen))
    uncovered = [c for c in found if c.kind == "uncovered"]
    assert kinds(uncovered) == [
        ("uncovered", A.account_id, "us-east-1"),
        ("uncovered", B.account_id, "eu-west-1"),
    ]
    assert uncovered[0].detail["stack_status"] == "FAILED (OUTDATED)"
    assert uncovered[1].detail["stack_status"] == "no stack instance"
    silent = {(c.account_id, c.region) for c in found if c.kind == "silent"}
    assert (A.account_id, "us-east-1") not in silent and (B.account_id, "eu-west-1") not in silent


def test_heartbeats_off_means_no_silence_alert_but_coverage_is_still_checked() -> None:
    found = conditions(observation(heartbeat_minutes=0, last_seen={}, instances=()))
    assert {c.kind for c in found} == {"uncovered"}


def test_an_enabled_region_outside_the_configured_ones_is_reported_once_per_account() -> None:
    enabled = {
        A.account_id: frozenset({*REGIONS, "ap-east-1"}),
        B.account_id: None,  # unreadable: nothing concluded
        M.account_id: frozenset({"us-east-1", "eu-west-1"}),  # the management stacks cover us-east-1 only
    }
    found = conditions(observation(enabled_regions=enabled))
    assert kinds(found) == [
        ("region_not_forwarded", A.account_id, "ap-east-1"),
        ("region_not_forwarded", M.account_id, "eu-west-1"),
    ]


def test_dead_letters_are_reported_per_queue_with_the_count() -> None:
    found = conditions(observation(queue_depths={"buffer-dlq": 12, "rule-dlq": 0}))
    assert kinds(found) == [("dead_letters", "333333333333", "buffer-dlq")]
    assert found[0].detail["messages_waiting"] == "12"


def test_holding_conditions_are_sent_every_run_and_an_ended_one_is_cleared_once() -> None:
    silent = Condition("silent", A.account_id, "eu-west-1", {"minutes": "45"})
    gone = Condition("uncovered", B.account_id, "us-east-1", {"stack_status": "no stack instance"})
    step = transitions([silent], {silent.key: silent, gone.key: gone})
    assert step.alarms == (silent,)
    assert step.clears == (gone,)  # with the detail it was raised with: same node and summary
    assert transitions([silent], {silent.key: silent}).clears == ()


def test_opted_in_regions_are_read_on_the_first_run_of_each_hour() -> None:
    from handler.scheduled.watchdog import regions_due

    hour = 1_800_000_000  # a multiple of 3600
    assert [regions_due(hour + m * MINUTE, 15) for m in (0, 14, 15, 30, 45, 60)] == [
        True,
        True,
        False,
        False,
        False,
        True,
    ]
    assert regions_due(hour + 30 * MINUTE, 60)  # runs an hour apart: every run reads


def test_a_region_alert_of_an_account_not_read_this_run_is_kept_not_cleared() -> None:
    from handler.scheduled.watchdog import carry_unread_regions

    region = Condition("region_not_forwarded", A.account_id, "ap-east-1", {"account_name": "payments-prod"})
    other = Condition("region_not_forwarded", B.account_id, "ap-east-1", {})
    silent = Condition("silent", A.account_id, "eu-west-1", {})
    opened = {c.key: c for c in (region, other, silent)}
    # A's regions were not read (not due, or the call failed); B's were, and no longer show the region.
    unread = observation(enabled_regions={A.account_id: None, B.account_id: frozenset()})
    kept = carry_unread_regions([], opened, unread)
    assert kept == [region]
    assert sorted(c.key for c in transitions(kept, opened).clears) == sorted([silent.key, other.key])


class Pages:
    def __init__(self, summaries: list[dict[str, object]]) -> None:
        self.summaries = summaries

    def get_paginator(self, name: str) -> Pages:
        assert name == "list_stack_instances"
        return self

    def paginate(self, **_: object) -> list[dict[str, object]]:
        return [{"Summaries": self.summaries}]


@pytest.mark.parametrize(
    ("status", "detailed", "covered"),
    [
        ("CURRENT", "SUCCEEDED", True),
        ("CURRENT", "RUNNING", True),  # an update in progress: the stack still forwards
        ("CURRENT", "", True),
        ("OUTDATED", "FAILED", False),
        ("OUTDATED", "RUNNING", False),  # being created: nothing forwards yet
        ("CURRENT", "SKIPPED_SUSPENDED_ACCOUNT", False),
        ("INOPERABLE", "INOPERABLE", False),
    ],
)
def test_which_stack_instances_cover_their_pair(status: str, detailed: str, covered: bool) -> None:
    from handler.coverage.reads import stack_instances

    summary = {"Account": A.account_id, "Region": "eu-west-1", "Status": status}
    if detailed:
        summary["StackInstanceStatus"] = {"DetailedStatus": detailed}
    (instance,) = stack_instances(Pages([summary]), "members")
    found = conditions(
        observation(instances=(instance,), members=(A,), regions=("eu-west-1",), management=None)
    )
    assert (not [c for c in found if c.kind == "uncovered"]) is covered
