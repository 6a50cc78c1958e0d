"""`run_load`: N records through the real handler runtime, a local Panther and an in-process moto.

    report = run_load(LoadPlan(events=100_000, idempotency=True), project_root)

lost = sent - (events seen by Panther | dead-lettered | filtered): an event counted in two of those
(some messages delivered, then the record dead-lettered) is counted once.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from e2p.bench.corpus import CorpusChoice, load_corpus
from e2p.load.mapping import EventSourceMapping
from e2p.load.source import envelopes, records
from e2p.load.tally import PantherTally
from e2p.load.world import Context, aws_world, fake_aws_environment, settings_for
from e2p.local import LocalPanther
from handler import app
from handler.counters import Count
from handler.runtime import build_runtime

BATCH_SIZE: Final = 10
MAX_RECEIVE_COUNT: Final = 5  # the buffer queue's redrive policy
CONCURRENCY: Final = 5  # the template's MaximumConcurrency
EVENTS_KEPT: Final = 100  # the receiver's own window; the tally counts everything


@dataclass(frozen=True)
class LoadPlan:
    events: int = 100_000
    idempotency: bool = True
    concurrency: int = CONCURRENCY


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def run_load(plan: LoadPlan, project_root: Path) -> dict[str, Any]:
    samples = envelopes([sample.body for sample in load_corpus(project_root, CorpusChoice.BUNDLED)])
    token = "load-" + uuid.uuid4().hex
    tally = PantherTally()
    rss_before = peak_rss_mb()
    quiet = logging.getLogger("handler")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the handler logs each retry and dead letter; the report counts them
    try:
        with (
            fake_aws_environment(),
            aws_world(token, idempotency=plan.idempotency) as world,
            LocalPanther(token, latency_s=0.0, discard=tally.observe, events_kept=EVENTS_KEPT) as panther,
        ):
            # Plain HTTP on loopback (E2P_ALLOW_INSECURE_HTTP=true follows from the http:// URL).
            settings = settings_for(world, panther.url, idempotency=plan.idempotency)
            # One runtime per concurrent invocation, as each function instance builds its own.
            runtimes = [build_runtime(settings, world.session) for _ in range(plan.concurrency)]
            invokers = [lambda event, rt=rt: app.handle(event, Context(), rt) for rt in runtimes]
            started = time.monotonic()
            mapping = EventSourceMapping(
                records(samples, plan.events), batch_size=BATCH_SIZE, max_receives=MAX_RECEIVE_COUNT
            )
            result = mapping.run(invokers)
            seconds = time.monotonic() - started
            dlq_depth = _queue_depth(world.session.client("sqs"), world.dlq_url)
            for runtime in runtimes:
                runtime.dispatcher.close()
    finally:
        quiet.setLevel(level)
    seen = tally.event_ids()
    dead = result.dead_lettered | result.redriven
    accounted = len(seen | dead | result.filtered)
    return {
        "sent": plan.events,
        "delivered": len(seen),
        "dead_lettered": len(dead),
        "filtered": len(result.filtered),
        "lost": plan.events - accounted,
        "duplicates": tally.duplicates,
        "messages_received": tally.received,
        "messages_distinct": tally.messages,
        "dead_lettered_by_handler": len(result.dead_lettered),
        "redriven": len(result.redriven),
        "dead_letter_queue_depth": dlq_depth,
        "dead_letter_reasons": dict(result.reasons),
        "retries": result.retries,
        "invocations": result.invocations,
        "failed_invocations": result.failed_invocations,
        "duplicates_skipped_by_store": result.counters.get(Count.DUPLICATES_SKIPPED.value, 0),
        "idempotency": plan.idempotency,
        "concurrency": plan.concurrency,
        "batch_size": BATCH_SIZE,
        "samples": len(samples),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "seconds": round(seconds, 2),
        "events_per_s": round(plan.events / seconds, 1) if seconds > 0 else None,
    }


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
