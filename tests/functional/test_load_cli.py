"""`e2p load` end to end at a small N: every event accounted for, none delivered twice."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from e2p.cli import main
from e2p.load.source import EventIds
from e2p.load.tally import PantherTally

pytestmark = pytest.mark.functional

KEYS = {
    "sent",
    "delivered",
    "dead_lettered",
    "filtered",
    "lost",
    "duplicates",
    "peak_rss_mb",
    "seconds",
    "events_per_s",
    "bookkeeping_mb",
    "ledger_items",
    "faults",
    "fault_counts",
}


def test_a_small_burst_is_fully_accounted_for() -> None:
    outcome = CliRunner().invoke(main, ["load", "--events", "200", "--output", "json"])

    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.stdout)
    assert report.keys() >= KEYS
    assert report["sent"] == 200
    assert report["lost"] == 0
    assert report["delivered"] + report["dead_lettered"] + report["filtered"] == report["sent"]
    assert report["duplicates"] == 0
    assert report["delivered"] > 0
    assert report["peak_rss_mb"] > report["bookkeeping_mb"] >= 0
    # Every message delivered left one completed record in the ledger.
    assert report["ledger_items"] == report["messages_distinct"]
    assert report["faults"] == ""
    assert report["foreign_events"] == 0


def test_a_burst_through_failing_panther_loses_and_duplicates_nothing() -> None:
    # 5xx for a share of requests: retried within the invocation, then by SQS redelivery, where the
    # ledger skips the messages of a record that did reach Panther.
    outcome = CliRunner().invoke(
        main, ["load", "--events", "100", "--faults", "error=0.3,seed=3", "--output", "json"]
    )

    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.stdout)
    assert report["faults"] == "error=0.3,seed=3"
    assert report["fault_counts"]["error"] > 0
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["delivered"] + report["dead_lettered"] + report["filtered"] == report["sent"]


def test_a_malformed_fault_spec_is_a_usage_error() -> None:
    outcome = CliRunner().invoke(main, ["load", "--events", "10", "--faults", "error=2"])

    assert outcome.exit_code == 2
    assert "--faults" in outcome.output


def test_event_ids_carry_their_ordinal_and_stay_version_4_uuids() -> None:
    ids = EventIds()
    for n in (0, 7, 8, 99_999, 2**56 - 1):
        made = uuid.UUID(ids.make(n))
        assert (made.version, made.variant) == (4, uuid.RFC_4122)
        assert ids.ordinal(str(made)) == n
    assert ids.ordinal(str(uuid.uuid4())) is None
    assert EventIds().ordinal(ids.make(3)) is None  # another run's id
    assert ids.ordinal("not-an-id") is None


def test_the_tally_keeps_a_bit_per_event_and_counts_duplicates() -> None:
    ids = EventIds()
    tally = PantherTally(ids, 10)
    message = {"event_id": ids.make(3), "identifier": "a", "summary": "s", "severity": "info", "tag": "t"}

    tally.observe(message)
    tally.observe({**message, "identifier": "b"})  # another message of the same event
    tally.observe(message)  # the first one again
    tally.observe({**message, "event_id": "someone-else"})

    assert (tally.received, tally.messages, tally.duplicates) == (4, 3, 1)
    assert (tally.events_seen, tally.foreign) == (2, 1)
    # Dead-lettered or filtered events count once, whether or not Panther saw them too.
    assert tally.accounted([ids.make(3), ids.make(9), ids.make(9)]) == 3
