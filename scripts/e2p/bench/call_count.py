"""Counting the AWS API calls a piece of code makes, by operation, in this process (benchmarks only).

Every botocore client's `_make_api_call` passes through here while counting: clients made by any
session (the refresher's own botocore sessions for assumed roles included) are seen, with the
service and operation name. Retries are not separate calls here: botocore retries below this point.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()


@contextmanager
def counting_calls() -> Iterator[Counter[str]]:
    """Yields a Counter of "service:Operation" filled while the block runs."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private in botocore's stubs

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        with _lock:
            calls[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
        return original(self, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010 - private in botocore's stubs
    try:
        yield calls
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010
