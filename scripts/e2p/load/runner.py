"""`run_load`: N records through the real handler runtime, a local Panther and an in-process moto.

    report = run_load(LoadPlan(events=100_000, idempotency=True), project_root)

lost = sent - (events seen by Panther | dead-lettered | filtered): an event counted in two of those
(some messages delivered, then the record dead-lettered) is counted once.

Memory: the receiver keeps only its last EVENTS_KEPT events and requests (its counters count
them all); what the run must keep per event (the tally's message digests and event ids, the
mapping's filtered and dead-lettered ids) is reported as `bookkeeping_mb`, so that peak RSS minus
it is the pipeline's (handler, moto, receiver). `ledger_items` is what moto's idempotency table
holds at the end (in AWS that lives in DynamoDB, not in the function).
"""

from __future__ import annotations

import logging
import resource
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from e2p.bench.corpus import CorpusChoice, load_corpus
from e2p.console.ticker import Ticker
from e2p.load.mapping import EventSourceMapping
from e2p.load.source import EventIds, envelopes, records
from e2p.load.tally import PantherTally
from e2p.load.world import Context, aws_world, fake_aws_environment, settings_for
from e2p.local import LocalPanther
from e2p.local.faults import FaultPlan
from handler import app
from handler.counters import Count
from handler.runtime import build_runtime

BATCH_SIZE: Final = 10
MAX_RECEIVE_COUNT: Final = 5  # the buffer queue's redrive policy
CONCURRENCY: Final = 5  # the template's MaximumConcurrency
EVENTS_KEPT: Final = 100  # the receiver's own window (events and requests); the tally counts everything


@dataclass(frozen=True)
class LoadPlan:
    events: int = 100_000
    idempotency: bool = True
    concurrency: int = CONCURRENCY
    faults: FaultPlan | None = None  # injected by the local Panther (as `e2p demo --faults`)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def run_load(
    plan: LoadPlan, project_root: Path, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """`progress` gets a line every few seconds: events Panther received so far, and the rate."""
    samples = envelopes([sample.body for sample in load_corpus(project_root, CorpusChoice.BUNDLED)])
    token = "load-" + uuid.uuid4().hex
    ids = EventIds()
    tally = PantherTally(ids, plan.events)
    rss_before = peak_rss_mb()
    quiet = logging.getLogger("handler")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the handler logs each retry and dead letter; the report counts them
    try:
        with (
            fake_aws_environment(),
            aws_world(token, idempotency=plan.idempotency) as world,
            LocalPanther(
                token,
                latency_s=0.0,
                discard=tally.observe,
                events_kept=EVENTS_KEPT,
                requests_kept=EVENTS_KEPT,
                faults=plan.faults,
            ) as panther,
        ):
            # Plain HTTP on loopback (E2P_ALLOW_INSECURE_HTTP=true follows from the http:// URL).
            settings = settings_for(world, panther.url, idempotency=plan.idempotency)
            # One runtime per concurrent invocation, as each function instance builds its own.
            runtimes = [build_runtime(settings, world.session) for _ in range(plan.concurrency)]
            invokers = [lambda event, rt=rt: app.handle(event, Context(), rt) for rt in runtimes]
            started = time.monotonic()
            mapping = EventSourceMapping(
                records(samples, plan.events, ids), batch_size=BATCH_SIZE, max_receives=MAX_RECEIVE_COUNT
            )

            def tick() -> None:
                if progress is not None:
                    seen = tally.events_seen
                    rate = seen / max(time.monotonic() - started, 1e-9)
                    progress(f"{seen:,} of {plan.events:,} events delivered ({rate:,.0f}/s)")

            with Ticker(tick):
                result = mapping.run(invokers)
            seconds = time.monotonic() - started
            dlq_depth = _queue_depth(world.session.client("sqs"), world.dlq_url)
            ledger_items = _item_count(world.session.client("dynamodb"), world.table) if world.table else 0
            for runtime in runtimes:
                runtime.dispatcher.close()
            fault_counts = panther.fault_counts()
    finally:
        quiet.setLevel(level)
    bookkeeping = tally.footprint_bytes() + result.footprint_bytes()
    dead = result.dead_lettered | result.redriven
    accounted = tally.accounted(dead | result.filtered)
    return {
        "sent": plan.events,
        "delivered": tally.events_seen,
        "dead_lettered": len(dead),
        "filtered": len(result.filtered),
        "lost": plan.events - accounted,
        "duplicates": tally.duplicates,
        "messages_received": tally.received,
        "messages_distinct": tally.messages,
        "foreign_events": tally.foreign,
        "dead_lettered_by_handler": len(result.dead_lettered),
        "redriven": len(result.redriven),
        "dead_letter_queue_depth": dlq_depth,
        "dead_letter_reasons": dict(result.reasons),
        "retries": result.retries,
        "invocations": result.invocations,
        "failed_invocations": result.failed_invocations,
        "duplicates_skipped_by_store": result.counters.get(Count.DUPLICATES_SKIPPED.value, 0),
        # The handler's own counts, summed (DeliveryAttempts above MessagesDelivered: retries within
        # an invocation, e.g. after a read timeout, the one way to a duplicate the ledger cannot stop).
        "handler_counts": dict(sorted(result.counters.items())),
        "idempotency": plan.idempotency,
        "faults": plan.faults.describe() if plan.faults else "",
        "fault_counts": fault_counts,
        "concurrency": plan.concurrency,
        "batch_size": BATCH_SIZE,
        "samples": len(samples),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "bookkeeping_mb": round(bookkeeping / (1024 * 1024), 1),
        "ledger_items": ledger_items,
        "seconds": round(seconds, 2),
        "events_per_s": round(plan.events / seconds, 1) if seconds > 0 else None,
    }


def _item_count(dynamodb: Any, table: str) -> int:
    return int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
