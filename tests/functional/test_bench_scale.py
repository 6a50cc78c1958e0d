"""`e2p bench --scale` as a smoke test: a small scale world, every figure present and consistent.

No timing is asserted (timings belong to benchmarks); the counts are exact consequences of the
world's shape and of AWS's page sizes, so they are.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from e2p.cli import main

pytestmark = pytest.mark.functional

KEYS = (
    "accounts",
    "regions",
    "stack_instances",
    "status_seconds",
    "status_api_calls",
    "directory_cold_read_ms",
    "directory_bytes",
    "directory_refresh_seconds",
    "directory_refresh_calls",
    "alias_refresh_seconds",
    "alias_refresh_calls",
)


def test_bench_scale_small_world_reports_every_figure() -> None:
    result = CliRunner().invoke(
        main, ["bench", "--scale", "--accounts", "12", "--regions", "2", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(key in figures for key in KEYS)
    assert (figures["accounts"], figures["regions"], figures["stack_instances"]) == (12, 2, 24)
    assert figures["coverage_pairs"] == 24
    # One AssumeRole + one ListAccountAliases per account, the management account included.
    assert figures["alias_refresh_calls"] == 2 * 13
    assert figures["aliases_resolved"] == 12 and figures["alias_failures"] == {}
    by_operation = figures["directory_refresh_calls_by_operation"]
    assert by_operation["organizations:ListAccounts"] == 1  # 13 accounts: one page of 20
    assert by_operation["organizations:ListTagsForResource"] == 13
    assert figures["directory_accounts"] == 13 and figures["directory_bytes"] > 0
    assert figures["large_directory_accounts"] == 10_000
    assert figures["watchdog_pairs"] == 24 and "watchdog_seconds" in figures
    # 12 accounts in 36 leaf OUs: the "new" (last) OU holds none.
    assert figures["teardown_plan_regions"] == 2 and figures["deploy_add_ou_missing_pairs"] == 0
