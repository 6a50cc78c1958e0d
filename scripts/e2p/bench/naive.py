"""`naive_events_per_s`: the events sent the way the original per-account function sent them.

That function opened a new HTTPS connection for every message and sent one message at a time; it
mapped one event per invocation. Here: the same Panther bodies the handler sends, sequentially, a
new TCP + TLS connection for each, `Connection: close`. The TLS context is built once (as a
runtime's HTTPS agent keeps it); every connection still does a full handshake.
"""

from __future__ import annotations

import time
from typing import Final

from e2p.bench.minimal_http import open_connection, post
from e2p.bench.target import Target
from e2p.bench.workload import Workload

# The naive client is slow by design: its rate settles within a few hundred requests, and the
# run stays bounded whatever --events says.
MAX_NAIVE_RECORDS: Final = 300


def naive_rate(target: Target, workload: Workload, max_records: int = MAX_NAIVE_RECORDS) -> float:
    """Records per second, over the first `max_records` records of the workload."""
    records = min(workload.records, max_records)
    bodies = workload.flat_messages(records)
    context = target.ssl_context() if target.is_tls else None
    started = time.perf_counter()
    for body in bodies:
        connection = open_connection(target, context)
        try:
            post(connection, target, body, keep_alive=False)
        finally:
            connection.close()
    return records / (time.perf_counter() - started)
