"""Waiting for what AWS does asynchronously: check first, then sleep, until done or out of time.

Checking before the first sleep means a backend that finishes at once (moto) never waits, and a
test never sleeps; the clock and the sleep are injectable for the same reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from e2p.exceptions import PollTimeoutError

T = TypeVar("T")

DEFAULT_INTERVAL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 3600.0
# The local mode answers at once; it shortens the interval so that a wait on its background work
# (a test event reaching the function) does not cost whole seconds.
INTERVAL_VARIABLE = "E2P_POLL_INTERVAL_SECONDS"


@dataclass(frozen=True, slots=True)
class Poller:
    interval: float = DEFAULT_INTERVAL_SECONDS
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)

    def until(self, check: Callable[[], T | None], what: str) -> T:
        """Call `check` until it returns something other than None; raise PollTimeoutError after `timeout`."""
        deadline = self.clock() + self.timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise PollTimeoutError(f"gave up waiting for {what} after {self.timeout:.0f}s")
            self.sleep(self.interval)


def poller_from_environment(environ: Mapping[str, str] | None = None) -> Poller:
    environ = os.environ if environ is None else environ
    raw = environ.get(INTERVAL_VARIABLE, "").strip()
    try:
        interval = float(raw) if raw else DEFAULT_INTERVAL_SECONDS
    except ValueError:
        interval = DEFAULT_INTERVAL_SECONDS
    return Poller(interval=max(interval, 0.0))
