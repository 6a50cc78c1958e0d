"""`e2p status` at scale: the account x region coverage over every stack instance, measured.

What is real: the organisation (moto's Organizations, paginated 20 per page as AWS does), the
status code path (`accounts_in_units`, `stackset_targets`, `StackSetManager.instances`,
`compute_coverage`, the same functions `e2p status` calls). What is simulated: the stack instance
records. Deploying 17,000 member stacks is what costs in moto, and `e2p status` only reads the
records, so they are served by `ModelledStackInstances`: one record per account x region (a few
unhealthy, as a real estate has), in pages of 100 (the most ListStackInstances returns), with
CloudFormation's request-rate throttling modelled as a token bucket: every page beyond the bucket
waits for a token on a virtual clock (no real sleeping), and that wait is added to the wall time.
AWS publishes no per-API rate for CloudFormation; `CFN_RATE_PER_S` and `CFN_BURST` are assumptions
(low, so the figure errs on the slow side): see docs/performance.md.

The parts of `e2p status` left out here cost the same at any scale: the central stack's queues
(3 GetQueueAttributes), its alarms (1-2 DescribeAlarms) and the management stacks (one
DescribeStacks per management region).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

from e2p.bench.call_count import counting_calls
from e2p.bench.scale_world import TOP_LEVEL_OUS, ScaleOrganisation

PAGE_SIZE: Final = 100  # ListStackInstances MaxResults: 1-100
CFN_RATE_PER_S: Final = 4.0
CFN_BURST: Final = 10.0
UNHEALTHY_EVERY: Final = 997  # one record in this many is OUTDATED (a failed instance)
CONSTANT_STATUS_CALLS: Final = 6  # queues, alarms, central stack outputs: the same at any scale
REGIONS: Final = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ca-central-1", "sa-east-1",
)  # fmt: skip


@dataclass
class TokenBucket:
    """A virtual-time token bucket: `take()` returns how long the caller would have waited."""

    rate_per_s: float
    burst: float
    tokens: float = 0.0
    waited_s: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, elapsed_s: float) -> float:
        self.tokens = min(self.burst, self.tokens + elapsed_s * self.rate_per_s)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.rate_per_s
        self.tokens = 0.0
        self.waited_s += wait
        return wait


@dataclass
class ModelledStackInstances:
    """The CloudFormation client `StackSetManager` reads instances through (paginator only)."""

    records: list[dict[str, Any]]
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(CFN_RATE_PER_S, CFN_BURST))
    calls: int = 0

    def get_paginator(self, operation: str) -> ModelledStackInstances:
        if operation != "list_stack_instances":
            raise NotImplementedError(operation)
        return self

    def paginate(self, **_identity: Any) -> Any:
        last = time.perf_counter()
        for start in range(0, len(self.records), PAGE_SIZE):
            now = time.perf_counter()
            self.bucket.take(now - last)
            last = now
            self.calls += 1
            yield {"Summaries": self.records[start : start + PAGE_SIZE]}


def instance_records(world: ScaleOrganisation, regions: tuple[str, ...]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for index, account in enumerate(world.accounts):
        for region in regions:
            broken = len(records) % UNHEALTHY_EVERY == UNHEALTHY_EVERY - 1
            records.append(
                {
                    "Account": account,
                    "Region": region,
                    "Status": "OUTDATED" if broken else "CURRENT",
                    "StatusReason": "ResourceLogicalId:ForwardRule, ResourceStatusReason:..."
                    if broken
                    else "",
                    "StackInstanceStatus": {"DetailedStatus": "FAILED" if broken else "SUCCEEDED"},
                    "OrganizationalUnitId": world.leaves[index % len(world.leaves)],
                    "DriftStatus": "NOT_CHECKED",
                    "StackId": f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-e2p-{index}/x",
                }
            )
    return records


def measure_status(
    boto3: Any, world: ScaleOrganisation, regions: tuple[str, ...], region: str
) -> dict[str, Any]:
    from e2p.aws.organization import accounts_in_units, stackset_targets
    from e2p.aws.polling import Poller
    from e2p.aws.stackset_definition import StackSetDefinition
    from e2p.aws.stackset_ops import StackSetManager
    from e2p.ops.coverage import compute_coverage

    organizations = boto3.client("organizations", region_name=region)
    leaves = set(world.leaves)
    top_level = [ou for ou in world.ou_ids if ou not in leaves]  # the StackSet targets the 4 top OUs
    assert len(top_level) == len(TOP_LEVEL_OUS)
    definition = StackSetDefinition(
        name="events2panther-member",
        description="",
        region=region,
        call_as="SELF",
        organizational_units=tuple(top_level),
        regions=regions,
    )
    cfn = ModelledStackInstances(instance_records(world, regions))
    with counting_calls() as calls:
        started = time.perf_counter()
        accounts = stackset_targets(
            accounts_in_units(organizations, definition.organizational_units), world.management_id
        )
        instances = StackSetManager(cfn, definition, Poller()).instances()
        coverage = compute_coverage(accounts, regions, instances)
        wall_s = time.perf_counter() - started
    return {
        "stack_instances": len(instances),
        "status_seconds": round(wall_s + cfn.bucket.waited_s, 3),
        "status_wall_seconds": round(wall_s, 3),
        "status_throttle_wait_seconds": round(cfn.bucket.waited_s, 3),
        "status_api_calls": sum(calls.values()) + cfn.calls + CONSTANT_STATUS_CALLS,
        "status_calls_by_operation": {
            **dict(sorted(calls.items())),
            "cloudformation:ListStackInstances": cfn.calls,
        },
        "coverage_pairs": len(coverage.rows),
        "coverage_missing": len(coverage.missing),
    }


def measure_plans(
    boto3: Any, world: ScaleOrganisation, regions: tuple[str, ...], region: str
) -> dict[str, Any]:
    """`e2p deploy` adding one OU and `e2p teardown` planning, at the same scale.

    Deploy: the new OU's accounts have no instance yet (the last leaf OU's records are left out of
    the simulated listing); the deploy's own steps, as `Deployment._stackset`/`_instances` run them:
    the organisation walk, the instance listing, the coverage and its missing pairs, then one
    CreateStackInstances for the OU (counted, with one DescribeStackSetOperation poll) and the
    listing again. Teardown: the listing and the OU x region plan `Teardown._stackset` derives from
    it before its DeleteStackInstances call.
    """
    from e2p.aws.organization import accounts_in_units, stackset_targets
    from e2p.aws.polling import Poller
    from e2p.aws.stackset_definition import StackSetDefinition
    from e2p.aws.stackset_ops import StackSetManager
    from e2p.ops.coverage import compute_coverage, missing_pairs

    organizations = boto3.client("organizations", region_name=region)
    leaves = set(world.leaves)
    top_level = tuple(ou for ou in world.ou_ids if ou not in leaves)
    definition = StackSetDefinition(
        name="events2panther-member",
        description="",
        region=region,
        call_as="SELF",
        organizational_units=top_level,
        regions=regions,
    )
    new_ou = world.leaves[-1]
    records = [r for r in instance_records(world, regions) if r["OrganizationalUnitId"] != new_ou]
    cfn = ModelledStackInstances(records)
    with counting_calls() as calls:
        started = time.perf_counter()
        manager = StackSetManager(cfn, definition, Poller())
        expected = stackset_targets(accounts_in_units(organizations, top_level), world.management_id)
        coverage = compute_coverage(expected, regions, manager.instances())
        missing = missing_pairs(coverage)
        manager.instances()  # the listing after the operation
        deploy_s = time.perf_counter() - started
    deploy_calls = sum(calls.values()) + cfn.calls + 2  # + CreateStackInstances, one operation poll
    deploy_wait = cfn.bucket.waited_s
    cfn = ModelledStackInstances(instance_records(world, regions))
    started = time.perf_counter()
    instances = StackSetManager(cfn, definition, Poller()).instances()
    units = sorted({i.organizational_unit for i in instances if i.organizational_unit})
    plan_regions = sorted({i.region for i in instances})
    teardown_s = time.perf_counter() - started
    return {
        "deploy_add_ou_seconds": round(deploy_s + deploy_wait, 3),
        "deploy_add_ou_api_calls": deploy_calls,
        "deploy_add_ou_missing_pairs": len(missing),
        "teardown_plan_seconds": round(teardown_s + cfn.bucket.waited_s, 3),
        "teardown_plan_api_calls": cfn.calls + 1,  # + DeleteStackInstances (one call: <= 50 OUs)
        "teardown_plan_units": len(units),
        "teardown_plan_regions": len(plan_regions),
    }
