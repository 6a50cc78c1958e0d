"""One step of a command that works across many accounts and regions: run it, and when AWS or the
CLI refuses it, record the failure against its account and region and go on (the exit status is
decided from all the results at the end, as c7n-org does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from e2p.aws.sessions import AWS_ERRORS, error_text
from e2p.console.output import Output
from e2p.console.results import Outcome, Results

T = TypeVar("T")


def attempt_step(  # noqa: PLR0917 -- the step's identity and its work, in the order they are reported
    results: Results, out: Output, step: str, account: str, region: str, work: Callable[[], T]
) -> T | None:
    """`work()`'s value, or None after recording and printing why it failed."""
    where = " ".join(part for part in (account, region) if part)
    try:
        with out.waiting(f"{step} {where}".strip()):
            return work()
    except AWS_ERRORS as exc:
        results.record(step, Outcome.FAILED, account, region, error_text(exc))
        out.error(f"{step} ({account} {region}): {error_text(exc)}")
        return None
