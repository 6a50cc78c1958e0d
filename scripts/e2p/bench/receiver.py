"""The local Panther receiver of the bench, run as a process of its own (`python -m e2p.bench.receiver`).

In its own process the receiver's TLS and HTTP work runs on the other core instead of competing
with the client for one interpreter lock: the client figures are then the client's, as they are
against a remote Panther. It serves, on 127.0.0.1 with one throw-away CA, the LocalPanther that
answers after the configured latency (the WAN round trip to a hosted console) and a minimal sink
that answers at once (`sink`, for the memory measurement, which needs volume, not latency).

Protocol: the parent writes one JSON line on stdin (token, latency_s, tls_dir); the child answers
one JSON line on stdout (url, fast_url, ca_bundle) and serves until stdin closes, or at the latest
for MAX_LIFETIME_S, so that it always stops by itself.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from typing import Final

from e2p.bench.sink import SinkServer
from e2p.local import LocalPanther, local_tls
from e2p.local.panther_contract import CREATE_PATH

LOOPBACK: Final = "127.0.0.1"
MAX_LIFETIME_S: Final = 3600.0
# The receiver keeps recent events and requests for inspection; the bench never reads them.
KEPT: Final = 1000
POLL_S: Final = 1.0


def serve_until_released(lifetime_s: float = MAX_LIFETIME_S) -> None:
    """Block until the parent closes our stdin (or dies), or the lifetime is over."""
    deadline = time.monotonic() + lifetime_s
    stdin = sys.stdin.fileno()
    while time.monotonic() < deadline:
        readable, _, _ = select.select([stdin], [], [], POLL_S)
        if readable and not os.read(stdin, 4096):
            return


def main() -> None:
    config = json.loads(sys.stdin.readline())
    server_tls, ca_bundle = local_tls(config["tls_dir"])
    token = config["token"]
    latency_s = float(config["latency_s"])
    sink = SinkServer((LOOPBACK, 0), server_tls)
    sink.serve_in_background()
    sink_url = f"https://{LOOPBACK}:{sink.server_address[1]}{CREATE_PATH}"
    try:
        with LocalPanther(
            token, host=LOOPBACK, tls=server_tls, latency_s=latency_s, events_kept=KEPT, requests_kept=KEPT
        ) as wan:
            answer = {"url": wan.url, "fast_url": sink_url, "ca_bundle": str(ca_bundle)}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
            serve_until_released()
    finally:
        sink.shutdown()
        sink.server_close()


if __name__ == "__main__":
    main()
