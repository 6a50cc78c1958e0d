"""`e2p load` end to end at a small N: every event accounted for, none delivered twice."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from e2p.cli import main

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
    assert report["peak_rss_mb"] > 0
