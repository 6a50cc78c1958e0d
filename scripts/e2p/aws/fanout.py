"""Run one function over many (account, region) targets in threads, collecting every outcome.

A failure of one target never stops the others; the caller decides what a failure means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from e2p.aws.sessions import AWS_ERRORS

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Attempt(Generic[T, R]):
    item: T
    value: R | None = None
    error: BaseException | None = None


def fan_out(
    items: Sequence[T], work: Callable[[T], R], workers: int = DEFAULT_WORKERS
) -> list[Attempt[T, R]]:
    """`work(item)` for each item; results in the order of `items`.

    Only errors a step is expected to meet are caught (AWS client errors and the CLI's own);
    a programming error still surfaces as a traceback.
    """

    def guarded(item: T) -> Attempt[T, R]:
        try:
            return Attempt(item, value=work(item))
        except AWS_ERRORS as exc:
            return Attempt(item, error=exc)

    if workers <= 1 or len(items) <= 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(guarded, items))
