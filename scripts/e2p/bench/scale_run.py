"""`e2p bench --scale`: the organisation dimension, measured in one process against moto.

Builds the scale world (scale_world.py: N accounts in 40 OUs, tags and an IAM alias in every
account), then measures `e2p status`'s coverage at N x R stack instances (scale_status.py), the watchdog's
evaluation over the same pairs (scale_watchdog.py), the
directory refresh with tags and aliases and a forwarder's cold read of the snapshot
(scale_directory.py), and the cold read of a 10,000-account snapshot. Returns one flat dict whose
keys are the JSON interface (add keys, never rename).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from e2p.bench.scale_status import REGIONS

FAKE_AWS: Final = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION: Final = "us-east-1"
LARGE_SNAPSHOT_ACCOUNTS: Final = 10_000
LARGE_KEY: Final = "directory/large.json.gz"


@dataclass(frozen=True, slots=True)
class ScaleOptions:
    accounts: int = 1000
    regions: int = len(REGIONS)
    large_accounts: int = LARGE_SNAPSHOT_ACCOUNTS


def run_scale(options: ScaleOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    saved = {name: os.environ.get(name) for name in [*FAKE_AWS, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(FAKE_AWS)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # nothing may reach a real or local endpoint
    os.environ.pop("AWS_PROFILE", None)
    try:
        return _run(options, progress)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(options: ScaleOptions, progress: Callable[[str], None]) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from e2p.bench.scale_directory import measure_cold_read, measure_refresh, synthesise_snapshot
    from e2p.bench.scale_status import measure_plans, measure_status
    from e2p.bench.scale_watchdog import measure_watchdog
    from e2p.bench.scale_world import build_organisation

    regions = REGIONS[: options.regions]
    with mock_aws():
        started = time.perf_counter()
        world = build_organisation(boto3, options.accounts, REGION)
        progress(
            f"scale world: {len(world.accounts)} accounts in {len(world.ou_ids)} OUs, tags and aliases "
            f"({time.perf_counter() - started:.1f} s to build in moto)"
        )
        status = measure_status(boto3, world, regions, REGION)
        progress(
            f"e2p status coverage: {status['stack_instances']} stack instances, {status['status_api_calls']} "
            f"calls, {status['status_seconds']} s (of which modelled throttling "
            f"{status['status_throttle_wait_seconds']} s)"
        )
        plans = measure_plans(boto3, world, regions, REGION)
        progress(
            f"deploy adding one OU: {plans['deploy_add_ou_missing_pairs']} pairs to create, "
            f"{plans['deploy_add_ou_api_calls']} calls, {plans['deploy_add_ou_seconds']} s; teardown plan: "
            f"{plans['teardown_plan_api_calls']} calls, {plans['teardown_plan_seconds']} s"
        )
        watchdog = measure_watchdog(boto3, world, regions, REGION)
        progress(
            f"watchdog evaluation: {watchdog['watchdog_pairs']} pairs, "
            f"{watchdog['watchdog_api_calls']} calls, {watchdog['watchdog_seconds']} s "
            f"(judgement {watchdog['watchdog_evaluate_ms']} ms), "
            f"{watchdog['watchdog_alarms']} alarms"
        )
        refresh = measure_refresh(boto3, world, REGION)
        progress(
            f"directory refresh: names+tags {refresh['directory_refresh_seconds']} s / "
            f"{refresh['directory_refresh_calls']} calls; aliases {refresh['alias_refresh_seconds']} s / "
            f"{refresh['alias_refresh_calls']} calls ({refresh['aliases_resolved']} resolved)"
        )
        cold = measure_cold_read(boto3, REGION)
        synthesise_snapshot(boto3, REGION, options.large_accounts, LARGE_KEY)
        large = measure_cold_read(boto3, REGION, LARGE_KEY)
        progress(
            f"cold read: {cold['accounts']} accounts {cold['directory_bytes']} bytes "
            f"{cold['directory_cold_read_ms']} ms; {large['accounts']} accounts "
            f"{large['directory_bytes']} bytes {large['directory_cold_read_ms']} ms"
        )
    return {
        "accounts": len(world.accounts),
        "regions": len(regions),
        "ous": len(world.ou_ids),
        **status,
        **watchdog,
        **plans,
        "directory_cold_read_ms": cold["directory_cold_read_ms"],
        "directory_bytes": cold["directory_bytes"],
        "directory_accounts": cold["accounts"],
        **{k: v for k, v in refresh.items() if k != "directory_accounts"},
        "large_directory_accounts": large["accounts"],
        "large_directory_cold_read_ms": large["directory_cold_read_ms"],
        "large_directory_bytes": large["directory_bytes"],
    }
