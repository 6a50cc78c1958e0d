"""`e2p bench` end to end, small: the last line of --output json is a contract other checks rely on.

No timing assertion: the figures depend on the machine. What must hold anywhere: the run finishes,
the last line is one JSON object with exactly the agreed keys, and every figure is a positive number
(a zero or a missing figure means a measurement did not happen).
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from e2p.cli import main

pytestmark = pytest.mark.functional

# Spelled out here, not imported: renaming a key in the code must fail this test.
AGREED_KEYS = {
    "events_per_s",
    "naive_events_per_s",
    "ratio",
    "limit_events_per_s",
    "efficiency",
    "map_events_per_s",
    "cold_start_ms",
    "peak_rss_mb",
    "lambda_gb_s_per_million",
}


def test_json_output_ends_with_exactly_the_agreed_figures() -> None:
    # GIVEN a small run against the local receiver
    args = ["bench", "--events", "50", "--repeat", "1", "--latency-ms", "1", "--output", "json"]
    # WHEN it runs
    result = CliRunner().invoke(main, args)
    # THEN it succeeds and its last stdout line carries every figure, positive and finite
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) == AGREED_KEYS
    for key, value in figures.items():
        assert isinstance(value, int | float), key
        assert math.isfinite(value), key
        assert value > 0, key
