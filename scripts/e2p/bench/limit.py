"""`limit_events_per_s`: the most the receiver takes from a minimal keep-alive client.

`concurrency` threads, each on one kept-alive connection, send the workload's Panther bodies back
to back, with no batch boundaries, no mapping and no retry logic: what is left is the receiver's
latency and capacity. The handler's rate divided by this is its efficiency.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from e2p.bench.minimal_http import open_connection, post
from e2p.bench.target import Target
from e2p.bench.workload import Workload

# How long the workers may take to connect before the run is abandoned (a broken Barrier raises).
BARRIER_TIMEOUT_S: Final = 60.0


class _Feed:
    """Hands out the next body to whichever worker asks, until none is left."""

    def __init__(self, bodies: list[bytes]) -> None:
        self._bodies = bodies
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> bytes | None:
        with self._lock:
            if self._next >= len(self._bodies):
                return None
            body = self._bodies[self._next]
            self._next += 1
            return body


def _worker(target: Target, feed: _Feed, ready: threading.Barrier) -> None:
    context = target.ssl_context() if target.is_tls else None
    connection = open_connection(target, context)
    try:
        # Connected before the clock starts: the handshakes are not the steady state measured.
        try:
            connection.connect()
        except BaseException:
            ready.abort()  # release the others at once instead of at the barrier's timeout
            raise
        ready.wait()
        while (body := feed.take()) is not None:
            post(connection, target, body, keep_alive=True)
    finally:
        connection.close()


def limit_rate(target: Target, workload: Workload, concurrency: int) -> float:
    """Records per second the receiver absorbs at this concurrency (records / wall time)."""
    feed = _Feed(workload.flat_messages())
    ready = threading.Barrier(concurrency + 1, timeout=BARRIER_TIMEOUT_S)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-limit") as pool:
        futures = [pool.submit(_worker, target, feed, ready) for _ in range(concurrency)]
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            for future in futures:
                future.result()  # the worker's own error says why the barrier broke
            raise
        started = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    return workload.records / elapsed
