"""`map_events_per_s`: what one core does before any delivery, per record.

Exactly the pipeline's per-record CPU work: parse the SQS body into an envelope, map it, look the
account up in the warm directory (cached, as in a warm container), compose and encode each Panther
body. One thread, so the figure is per core.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Final

from e2p.bench.workload import Workload
from handler.enrichment.account import AccountInfo
from handler.envelope import envelope_from_text
from handler.exceptions import InvalidEnvelopeError
from handler.translate import translate

# Enough records for the figure to rest on a few hundred milliseconds of work, whatever --events is.
MIN_MAPPED_RECORDS: Final = 5000


def map_rate(
    workload: Workload, lookup: Callable[[str], AccountInfo], min_records: int = MIN_MAPPED_RECORDS
) -> float:
    """Records per second through envelope parsing, mapping, enrichment and body encoding."""
    count = max(workload.records, min_records)
    bodies = list(itertools.islice(itertools.cycle(workload.bodies), count))
    started = time.perf_counter()
    for body in bodies:
        try:
            envelope = envelope_from_text(body)
        except InvalidEnvelopeError:
            continue
        for message in translate(envelope, lookup).messages:
            message.body()
    return count / (time.perf_counter() - started)
