"""Account x region coverage of the member StackSet: pure functions over what AWS reported.

An expected pair is every active account below the targeted OUs (never the management account)
times every configured region. A pair is covered only by a healthy instance (CURRENT and, where
AWS reports it, SUCCEEDED); everything else, including no instance at all, is listed as missing
with the reason AWS gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from e2p.aws.organization import OrgAccount
from e2p.aws.stackset_ops import InstanceState

MISSING: Final = "MISSING"


@dataclass(frozen=True, slots=True)
class CoverageRow:
    account_id: str
    account_name: str
    region: str
    status: str
    reason: str
    healthy: bool

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["healthy"]
        return data


@dataclass(frozen=True, slots=True)
class Coverage:
    rows: tuple[CoverageRow, ...]
    # Instances outside the expected pairs (an account that left the OUs with retained stacks...).
    extra: tuple[InstanceState, ...]

    @property
    def missing(self) -> tuple[CoverageRow, ...]:
        return tuple(row for row in self.rows if not row.healthy)

    @property
    def complete(self) -> bool:
        return not self.missing


def compute_coverage(
    accounts: Sequence[OrgAccount], regions: Sequence[str], instances: Iterable[InstanceState]
) -> Coverage:
    by_pair = {(i.account, i.region): i for i in instances}
    rows = []
    for account in accounts:
        for region in regions:
            instance = by_pair.pop((account.account_id, region), None)
            if instance is None:
                rows.append(
                    CoverageRow(account.account_id, account.name, region, MISSING, "no stack instance", False)
                )
            else:
                # Drift does not stop forwarding, but an operator wants to see it next to the status.
                drift = f"drift: {instance.drift}" if instance.drift == "DRIFTED" else ""
                reason = "; ".join(part for part in (instance.reason, drift) if part)
                rows.append(
                    CoverageRow(
                        account.account_id, account.name, region, instance.label, reason, instance.healthy
                    )
                )
    return Coverage(tuple(rows), tuple(by_pair.values()))


def missing_pairs(coverage: Coverage, *, include_unhealthy: bool = False) -> list[tuple[str, str]]:
    """(account, region) pairs with no instance (or, optionally, with an unhealthy one)."""
    return [
        (row.account_id, row.region)
        for row in coverage.rows
        if row.status == MISSING or (include_unhealthy and not row.healthy)
    ]
