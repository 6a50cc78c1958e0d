"""One function instance of `e2p bench --instances`, in a process of its own (`python -m e2p.bench.instance`).

A Lambda function instance is a process with its own interpreter: N of them never share a lock,
so each runs here in its own process. It builds the real runtime (`build_runtime`, as the bench's
single-instance figure does) and asks the bench's queue (e2p.bench.instances, the parent) for one
batch after the other, as an SQS event source hands batches to whichever instance is free. It
answers each batch with the records the handler returned for retry, which go back to the queue.

Protocol, one JSON object per line: settings in; {"ready": true} out once built; then
{"returned": [indexes]} out (the last batch's records returned for retry; none at first) and
{"batch": [[index, receive_count, body], ...]} or {"stop": true} in, until stop; the counts out.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from e2p.bench.handler_run import LambdaContext, build_bench_runtime, handler_environment
from e2p.bench.logs import counted_handler_logs
from e2p.bench.target import Target
from e2p.bench.workload import sqs_record


@dataclass(frozen=True, slots=True)
class InstanceCounts:
    invocations: int
    records: int  # records handled, redeliveries included
    messages_delivered: int  # Panther answered 2xx (or discarded on purpose)
    delivery_attempts: int  # HTTP requests made
    dead_lettered: int  # records the handler parked in the dead-letter queue
    seconds: float
    cpu_seconds: float


def _send(stream: IO[str], document: dict[str, Any]) -> None:
    stream.write(json.dumps(document) + "\n")
    stream.flush()


def run_instance(settings: dict[str, Any], inbox: IO[str], outbox: IO[str]) -> InstanceCounts:
    from handler.app import handle
    from handler.counters import Count

    target = Target(settings["url"], settings["token"], settings.get("ca_bundle"))
    environ = handler_environment(target, Path(settings["accounts_file"]), settings.get("concurrency"))
    runtime = build_bench_runtime(environ, target.token)
    _send(outbox, {"ready": True})
    context = LambdaContext()
    invocations = records = delivered = attempts = dead_lettered = 0
    returned: list[int] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        while True:
            _send(outbox, {"returned": returned})
            order = json.loads(inbox.readline() or '{"stop": true}')
            if order.get("stop"):
                break
            batch = order["batch"]
            event_records = []
            for index, receives, body in batch:
                record = sqs_record(index, body)
                record["attributes"]["ApproximateReceiveCount"] = str(receives)
                event_records.append(record)
            report = handle({"Records": event_records}, context, runtime)
            invocations += 1
            records += len(batch)
            delivered += report.counters.get(Count.DELIVERED) + report.counters.get(Count.DISCARDED)
            attempts += report.counters.get(Count.DELIVERY_ATTEMPTS)
            dead_lettered += report.counters.get(Count.DEAD_LETTERED)
            failed = set(report.failed_message_ids)
            returned = [
                record_index
                for record_index, record in zip((item[0] for item in batch), event_records, strict=True)
                if record["messageId"] in failed
            ]
    finally:
        runtime.dispatcher.close()
    return InstanceCounts(
        invocations=invocations,
        records=records,
        messages_delivered=delivered,
        delivery_attempts=attempts,
        dead_lettered=dead_lettered,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


def main() -> None:
    settings = json.loads(sys.stdin.readline())
    # The handler logs to stdout, as in Lambda: counted and dropped, so that stdout stays this protocol.
    with counted_handler_logs():
        counts = run_instance(settings, sys.stdin, sys.stdout)
    _send(sys.stdout, asdict(counts))


if __name__ == "__main__":
    main()
