"""`peak_rss_mb`: the memory high-water mark of one invocation with the largest SQS batch.

An SQS event source delivers at most 10,000 records per batch (with a batching window). The probe
process builds the runtime and processes one such batch through `handler.app.handle`, delivering
to the receiver that answers at once (memory depends on volume, not on latency). Lambda also caps
the invocation payload at 6 MB, so a real 10,000-record batch is only possible with records under
~600 bytes: with the sample events this is an upper bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from e2p.bench.target import Target, import_path_env
from e2p.bench.workload import MAX_SQS_BATCH, Workload
from e2p.exceptions import E2PError

PROBE_MODULE: Final = "e2p.bench.rss_probe"
PROBE_TIMEOUT_S: Final = 600.0


class PeakRssError(E2PError):
    """The probe failed, or did not deliver the whole batch."""


def peak_rss_mb(
    target: Target, workload: Workload, accounts_file: Path, concurrency: int, records: int = MAX_SQS_BATCH
) -> float:
    bodies = [workload.bodies[index % workload.records] for index in range(records)]
    expected = sum(len(workload.messages[index % workload.records]) for index in range(records))
    with tempfile.TemporaryDirectory(prefix="e2p-bench-rss-") as folder:
        bodies_file = Path(folder) / "bodies.json"
        bodies_file.write_text(json.dumps(bodies), encoding="utf-8")
        config = {
            "url": target.url,
            "token": target.token,
            "ca_bundle": target.ca_bundle,
            "bodies_file": str(bodies_file),
            "accounts_file": str(accounts_file),
            "concurrency": concurrency,
        }
        completed = subprocess.run(  # noqa: S603 -- our own interpreter and module
            [sys.executable, "-m", PROBE_MODULE],
            input=json.dumps(config) + "\n",
            env=import_path_env(),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise PeakRssError(f"peak-RSS probe failed ({completed.returncode}): {completed.stderr[-500:]}")
    answer = json.loads(lines[-1])
    if answer["retried"] or answer["delivered"] != expected:
        raise PeakRssError(
            f"peak-RSS probe delivered {answer['delivered']} of {expected} messages "
            f"({answer['retried']} records returned for retry)"
        )
    return float(answer["peak_rss_mb"])
