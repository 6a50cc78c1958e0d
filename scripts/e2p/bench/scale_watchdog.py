"""The coverage watchdog's evaluation at scale (issue 12: "the watchdog evaluation, where it exists").

Real: its reads of the organisation (`handler.coverage.reads.organisation_accounts`, moto's
Organizations) and of the stack instances (`reads.stack_instances`, through the same modelled
ListStackInstances as the status figure: pages of 100, CloudFormation throttling on a virtual
clock), and its pure judgement (`evaluate.conditions`, `evaluate.transitions`) over every
account x region pair. Simulated: the coverage table's content (one heartbeat per pair, 1 pair in
500 silent), handed to the evaluation as the table's read would (a Scan of ~100 bytes per pair:
two 1 MB pages at 17,000 pairs, counted as such), and no dead-letter queue or enabled-region read.
"""

from __future__ import annotations

import time
from typing import Any, Final

from e2p.bench.call_count import counting_calls
from e2p.bench.scale_status import ModelledStackInstances, instance_records
from e2p.bench.scale_world import ScaleOrganisation

SILENT_EVERY: Final = 500
ITEM_BYTES: Final = 100
SCAN_PAGE_BYTES: Final = 1024 * 1024
HEARTBEAT_MINUTES: Final = 15
MISSED_HEARTBEATS: Final = 3


def measure_watchdog(
    boto3: Any, world: ScaleOrganisation, regions: tuple[str, ...], region: str
) -> dict[str, Any]:
    from handler.coverage import reads
    from handler.coverage.evaluate import Observation, conditions, transitions

    organizations = boto3.client("organizations", region_name=region)
    leaves = set(world.leaves)
    units = [ou for ou in world.ou_ids if ou not in leaves]
    cfn = ModelledStackInstances(instance_records(world, regions))
    now = int(time.time())
    with counting_calls() as calls:
        started = time.perf_counter()
        members, _management = reads.organisation_accounts(organizations, units, world.management_id)
        instances = reads.stack_instances(cfn, "events2panther-member")
        pairs = [(m.account_id, r) for m in members for r in regions]
        last_seen = {pair: now - 60 for index, pair in enumerate(pairs) if index % SILENT_EVERY}
        observation = Observation(
            members=tuple(members),
            management=None,
            regions=regions,
            management_regions=(),
            instances=tuple(instances),
            last_seen=last_seen,
            first_expected={pair: now - 86400 for pair in pairs},
            now=now,
            heartbeat_minutes=HEARTBEAT_MINUTES,
            missed_heartbeats=MISSED_HEARTBEATS,
        )
        judged = time.perf_counter()
        found = conditions(observation)
        changes = transitions(found, {})
        evaluate_s = time.perf_counter() - judged
        wall_s = time.perf_counter() - started
    scan_pages = max(1, -(-len(pairs) * ITEM_BYTES // SCAN_PAGE_BYTES))
    return {
        "watchdog_seconds": round(wall_s + cfn.bucket.waited_s, 3),
        "watchdog_evaluate_ms": round(evaluate_s * 1000, 1),
        "watchdog_api_calls": sum(calls.values()) + cfn.calls + scan_pages,
        "watchdog_calls_by_operation": {
            **dict(sorted(calls.items())),
            "cloudformation:ListStackInstances": cfn.calls,
            "dynamodb:Scan (modelled)": scan_pages,
        },
        "watchdog_alarms": len(changes.alarms),
        "watchdog_pairs": len(pairs),
    }
