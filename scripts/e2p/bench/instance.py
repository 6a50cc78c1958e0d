"""One function instance of `e2p bench --instances`, in a process of its own (`python -m e2p.bench.instance`).

A Lambda function instance is a process with its own interpreter: N of them never share a lock,
so each runs here in its own process. It builds the real runtime (`build_runtime`, as the bench's
single-instance figure does) and works through its share of the records the way an SQS event
source feeds one instance: batches of `batch_size`, one invocation after the other. A record the
handler returns for retry comes back later with its receive count raised, as SQS redelivers it
after the visibility timeout; one that has been received `max_receives` times is lost (the queue's
redrive policy would move it to the dead-letter queue).

Protocol: one JSON line in (the settings), "ready" out once built, a line in to start, one JSON line
out with the counts when done.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from e2p.bench.handler_run import LambdaContext, build_bench_runtime, handler_environment
from e2p.bench.logs import counted_handler_logs
from e2p.bench.target import Target
from e2p.bench.workload import sqs_record

READY: Final = "ready"
# The central template's maxReceiveCount for the buffer queue's redrive policy.
MAX_RECEIVES: Final = 5


@dataclass(frozen=True, slots=True)
class InstanceCounts:
    records: int  # distinct records handled
    invocations: int
    messages_delivered: int  # Panther answered 2xx (or discarded on purpose)
    delivery_attempts: int  # HTTP requests made
    redelivered: int  # records returned for retry and handled again
    lost: int  # records dead-lettered by the handler or past max_receives
    seconds: float
    cpu_seconds: float


def run_instance(settings: dict[str, Any], bodies: list[str]) -> InstanceCounts:
    from handler.app import handle
    from handler.counters import Count

    target = Target(settings["url"], settings["token"], settings.get("ca_bundle"))
    environ = handler_environment(target, Path(settings["accounts_file"]), settings.get("concurrency"))
    runtime = build_bench_runtime(environ, target.token)
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    sys.stdin.readline()  # the start signal: every instance starts together
    started, cpu_started = time.perf_counter(), time.process_time()
    queue: deque[tuple[int, int]] = deque((index, 1) for index in range(len(bodies)))
    context = LambdaContext()
    batch_size, max_receives = int(settings["batch_size"]), int(settings.get("max_receives", MAX_RECEIVES))
    invocations = delivered = attempts = redelivered = lost = 0
    try:
        while queue:
            batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
            records = []
            for index, receives in batch:
                record = sqs_record(index, bodies[index])
                record["attributes"]["ApproximateReceiveCount"] = str(receives)
                records.append(record)
            report = handle({"Records": records}, context, runtime)
            invocations += 1
            delivered += report.counters.get(Count.DELIVERED) + report.counters.get(Count.DISCARDED)
            attempts += report.counters.get(Count.DELIVERY_ATTEMPTS)
            lost += report.counters.get(Count.DEAD_LETTERED)
            failed = set(report.failed_message_ids)
            for index, receives in batch:
                if sqs_record(index, "")["messageId"] not in failed:
                    continue
                if receives >= max_receives:
                    lost += 1
                else:
                    redelivered += 1
                    queue.append((index, receives + 1))
    finally:
        runtime.dispatcher.close()
    return InstanceCounts(
        records=len(bodies),
        invocations=invocations,
        messages_delivered=delivered,
        delivery_attempts=attempts,
        redelivered=redelivered,
        lost=lost,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


def main() -> None:
    settings = json.loads(sys.stdin.readline())
    bodies = json.loads(Path(settings["bodies_file"]).read_text(encoding="utf-8"))
    # The handler logs to stdout, as in Lambda: counted and dropped, so that stdout stays this protocol.
    with counted_handler_logs():
        counts = run_instance(settings, bodies)
    sys.stdout.write(json.dumps(asdict(counts)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
