"""The peak-memory probe, run as `python -m e2p.bench.rss_probe` by `peak_rss`.

Reads its configuration as one JSON line on stdin (the token travels there, never in argv), builds
the handler's runtime as `handler_run` does, hands it one Lambda event of all the records, and
prints `{"peak_rss_mb": ..., "delivered": ...}` as its last line. ru_maxrss is the whole process's
high-water mark: interpreter, imports, the event, and everything the batch allocated.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Final

from e2p.bench.handler_run import LambdaContext, build_bench_runtime, handler_environment
from e2p.bench.logs import counted_handler_logs
from e2p.bench.target import Target
from e2p.bench.workload import sqs_events

KIB_PER_MIB: Final = 1024  # Linux reports ru_maxrss in KiB


def main() -> None:
    config = json.loads(sys.stdin.readline())
    target = Target(config["url"], config["token"], config["ca_bundle"])
    bodies = json.loads(Path(config["bodies_file"]).read_text(encoding="utf-8"))
    environ = handler_environment(target, Path(config["accounts_file"]), config["concurrency"])
    from handler.app import handle
    from handler.counters import Count

    runtime = build_bench_runtime(environ, target.token)
    (event,) = sqs_events(bodies, len(bodies))
    del bodies
    with counted_handler_logs():
        report = handle(event, LambdaContext(), runtime)
    delivered = report.counters.get(Count.DELIVERED) + report.counters.get(Count.DISCARDED)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB
    sys.stdout.write(
        json.dumps(
            {"peak_rss_mb": peak_mb, "delivered": delivered, "retried": len(report.failed_message_ids)}
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
