"""Will Lambda accept the function's reserved concurrency in this account and region?

Lambda refuses a reservation that leaves fewer than 100 executions unreserved (PutFunctionConcurrency,
API Reference); an account whose quota is below 100 (new accounts often have 10) cannot reserve at all.
CloudFormation would fail the central stack half-way with that error, so `e2p deploy` reads
GetAccountSettings first and says what to ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

MINIMUM_UNRESERVED: Final = 100
QUOTA_NAME: Final = "Lambda 'Concurrent executions' (Service Quotas code L-B99A9384)"


@dataclass(frozen=True, slots=True)
class ConcurrencyVerdict:
    ok: bool
    detail: str


def minimum_unreserved(quota: int) -> int:
    return min(MINIMUM_UNRESERVED, quota)


def check_concurrency(
    settings: dict[str, Any], reserved: int, maximum_concurrency: int, already_reserved: int = 0
) -> ConcurrencyVerdict:
    """`settings`: GetAccountSettings' answer; `already_reserved`: the function's current reservation."""
    limit = settings.get("AccountLimit", {})
    quota = int(limit.get("ConcurrentExecutions", 0))
    unreserved = int(limit.get("UnreservedConcurrentExecutions", quota)) + already_reserved
    floor = minimum_unreserved(quota)
    facts = f"account quota {quota}, unreserved {unreserved - already_reserved}"
    if reserved:
        left = unreserved - reserved
        if left < floor:
            # Other functions' reservations stay; the quota must also cover this one and the 100.
            needed = (quota - unreserved) + reserved + MINIMUM_UNRESERVED
            return ConcurrencyVerdict(
                False,
                f"ReservedConcurrency {reserved} would leave {left} unreserved; Lambda requires at least "
                f"{floor}. Set reserved_concurrency to 0 (MaximumConcurrency still caps the queue) or ask "
                f"for a {QUOTA_NAME} of at least {needed} ({facts})",
            )
        return ConcurrencyVerdict(True, f"reserving {reserved} leaves {left} unreserved ({facts})")
    if unreserved < maximum_concurrency:
        return ConcurrencyVerdict(
            False,
            f"MaximumConcurrency {maximum_concurrency} exceeds the {unreserved} unreserved executions: the "
            f"queue's invocations would be throttled; ask for a higher {QUOTA_NAME} ({facts})",
        )
    return ConcurrencyVerdict(True, f"no reservation; MaximumConcurrency {maximum_concurrency} ({facts})")
