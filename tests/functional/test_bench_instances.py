"""`e2p bench --instances`, small: the JSON contract, and the capacity receiver's answers.

No timing assertion: the rate depends on the machine. What must hold anywhere: every event reaches
the receiver (lost 0), and the last stdout line is one JSON object with the agreed keys.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from e2p.bench.instances import capacity_receiver, receiver_stats
from e2p.cli import main

pytestmark = pytest.mark.functional

# Spelled out here, not imported: renaming a key in the code must fail this test.
AGREED_KEYS = {"instances", "capacity_events_per_s", "events_per_s", "capacity_share", "retry_share", "lost"}
BODY = json.dumps({"event": {"node": "n", "summary": "s", "event_id": "evt-1"}}).encode()


def test_instances_json_ends_with_the_agreed_figures_and_nothing_is_lost() -> None:
    args = ["bench", "--instances", "2", "--events", "40", "--latency-ms", "1", "--output", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) >= AGREED_KEYS
    assert all(line.startswith("{") for line in lines)  # only JSON on stdout
    assert figures["instances"] == 2
    assert figures["capacity_events_per_s"] == 1500
    assert figures["lost"] == 0
    assert figures["events_per_s"] > 0
    assert 0 <= figures["retry_share"] < 1


def test_capacity_goes_with_instances_only() -> None:
    result = CliRunner().invoke(main, ["bench", "--capacity", "100"])
    assert result.exit_code == 2
    assert "--capacity goes with --instances" in result.output


def _post(url: str, token: str) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", parts.path, body=BODY, headers={"X-Api-Token": token})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_capacity_receiver_refuses_what_would_wait_too_long_and_checks_the_token() -> None:
    token = secrets.token_hex(16)
    # One request per second, no latency, plain HTTP: the first is served for a whole second, so a
    # second one arriving meanwhile would wait ~1 s, past the 0.25 s the receiver lets a request queue.
    with capacity_receiver(token, 1.0, 0.0, None) as receiver, ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, receiver["url"], token)
        while receiver_stats(receiver["stats_url"], None)["requests"] < 1:
            time.sleep(0.01)  # until the first has arrived: no race on which comes first
        assert _post(receiver["url"], token) == 429
        assert first.result() == 200
        assert _post(receiver["url"], "wrong-token") == 401
        stats = receiver_stats(receiver["stats_url"], None)
    assert (stats["stored"], stats["refused"], stats["unauthorised"], stats["requests"]) == (1, 1, 1, 3)
    assert stats["event_ids"] == ["evt-1"]
