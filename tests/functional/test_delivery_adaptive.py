"""Adaptive concurrency wired into delivery: the gate bounds the requests in flight and learns from
Panther's answers (handler.delivery.aimd, gate, policy.congestion_of), against a real HTTP server."""

from __future__ import annotations

import json
import re
import ssl
import threading
from datetime import UTC, datetime
from http.client import RemoteDisconnected
from pathlib import Path

import pytest
from panther_stub import Reply, close, error_reply
from urllib3.exceptions import ProtocolError, ReadTimeoutError, SSLError

from handler.delivery import DEADLINE_REASON, DeliveryStatus, Dispatcher
from handler.delivery.aimd import AimdLimit, AimdSettings
from handler.delivery.gate import ConcurrencyGate, Congestion
from handler.delivery.policy import Action, classify_error, classify_response, congestion_of

pytestmark = pytest.mark.functional

PROJECT = Path(__file__).resolve().parents[2]

TOKEN = "tok-0123456789abcdef0123456789ab"
BODY = json.dumps({"event": {"node": "prod/eu-west-1", "summary": "a test", "severity": 3}}).encode()
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def gate_of(maximum: int, initial: float) -> ConcurrencyGate:
    return ConcurrencyGate(AimdLimit(AimdSettings(maximum=maximum, initial=initial)))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"status": "Created"}', Congestion.ANSWERED),
        (400, b'{"error": {"name": "ValidationError", "message": "x"}}', Congestion.ANSWERED),
        (400, b'{"message": "Event discarded"}', Congestion.ANSWERED),
        (429, b"", Congestion.OVERLOADED),
        (503, b"busy", Congestion.OVERLOADED),
        (408, b"", Congestion.OVERLOADED),
        (401, b'{"error": {"message": "Auth service failed"}}', Congestion.OVERLOADED),
    ],
)
def test_answers_say_whether_panther_is_overloaded(status, body, expected):
    verdict = classify_response(status, {}, body, NOW)
    assert congestion_of(verdict, status) is expected


def test_failures_without_an_answer_are_overload_or_nothing():
    timeout = classify_error(ReadTimeoutError(None, "/", "read timed out"))
    assert congestion_of(timeout, None) is Congestion.OVERLOADED
    # A kept-alive connection dropped after Panther's idle timeout says nothing about its load.
    dropped = classify_error(ProtocolError("aborted", RemoteDisconnected("closed")))
    assert dropped.reconnect
    assert congestion_of(dropped, None) is Congestion.UNKNOWN
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate"
    untrusted = classify_error(SSLError(cause))
    assert untrusted.action is Action.PERMANENT
    assert congestion_of(untrusted, None) is Congestion.UNKNOWN


def test_gate_admits_up_to_the_limit_and_a_release_lets_the_next_in():
    gate = gate_of(maximum=4, initial=1)
    first = gate.acquire()
    assert first is not None
    assert gate.acquire(timeout_s=0.05) is None  # the limit is 1: no room
    gate.release(first, Congestion.ANSWERED)  # slow start: 1 -> 2
    assert gate.limit == 2
    assert gate.acquire(timeout_s=0) is not None
    assert gate.acquire(timeout_s=0) is not None
    assert gate.in_flight == 2


def test_a_waiting_worker_is_woken_when_a_slot_frees():
    gate = gate_of(maximum=1, initial=1)
    held = gate.acquire()
    assert held is not None
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire(timeout_s=10)))
    waiter.start()
    gate.release(held, Congestion.UNKNOWN)
    waiter.join(timeout=10)
    assert got and got[0] is not None


def test_429_cuts_the_instance_limit_and_the_message_is_still_delivered(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    gate = gate_of(maximum=16, initial=8)
    delivery_stub.script(
        Reply(status=429, body={"message": "slow down"}, headers={"Retry-After": "0"}), Reply()
    )
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), gate=gate)
    outcome = client.send(BODY, "evt-1")
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert gate.limit == 4  # halved by the 429; the 200 afterwards adds 1/4
    assert gate.in_flight == 0


def test_a_dropped_kept_alive_connection_leaves_the_limit_alone(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    gate = gate_of(maximum=16, initial=8)
    delivery_stub.script(close(), Reply())
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), gate=gate)
    assert client.send(BODY, "evt-1").status is DeliveryStatus.DELIVERED
    assert gate.limit == 9  # no cut; the answer's slow-start step only


def test_permanent_refusals_release_their_slot(delivery_tokens, delivery_stub, delivery_client_factory):
    gate = gate_of(maximum=2, initial=1)
    delivery_stub.responder = lambda _request: error_reply(400, "bad", "ValidationError")
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), gate=gate)
    for index in range(3):
        assert client.send(BODY, f"evt-{index}").status is DeliveryStatus.PERMANENT
    assert gate.in_flight == 0


def test_no_slot_before_the_deadline_leaves_the_message_retryable_unsent(
    delivery_tokens, delivery_stub, delivery_client_factory, delivery_time
):
    gate = gate_of(maximum=1, initial=1)
    held = gate.acquire()
    assert held is not None
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), gate=gate)
    # Room for one attempt (0.5 s connect + 0.2 s read) and 50 ms of waiting for a slot.
    deadline = delivery_time.clock() + 0.7 + 0.05
    outcome = client.send(BODY, "evt-1", deadline)
    assert (outcome.status, outcome.attempts, outcome.reason) == (
        DeliveryStatus.RETRYABLE,
        0,
        DEADLINE_REASON,
    )
    assert delivery_stub.received == []


def test_the_dispatcher_keeps_its_workers_but_panther_sees_only_the_learnt_limit(
    delivery_tokens, delivery_stub, delivery_client_factory
):
    # GIVEN 8 delivery workers and a gate that has learnt a limit of 3 (a 429 cut it from 6)
    gate = gate_of(maximum=8, initial=6)
    gate.release(gate.acquire() or pytest.fail("no slot"), Congestion.OVERLOADED)
    assert gate.limit == 3
    # Every request waits a little, so that the workers overlap if the gate lets them.
    delivery_stub.responder = lambda _request: Reply(delay_s=0.03)
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), gate=gate)
    with Dispatcher(client, concurrency=8) as dispatcher:
        items = [(f"evt-{index}", BODY) for index in range(12)]
        outcomes = dispatcher.deliver_all(items, deadline=None)
    assert {outcome.status for outcome in outcomes} == {DeliveryStatus.DELIVERED}
    # THEN never more than the limit in flight (it may grow by 1 per round trip of 3 answers)
    assert delivery_stub.max_in_flight <= gate.limit
    assert gate.limit < 8


def test_the_function_delivers_through_a_gate_bounded_by_delivery_concurrency_the_templates_default(
    tmp_path,
):
    # GIVEN the function's runtime built from the template's environment, DeliveryConcurrency left
    # to its default
    from e2p.bench.handler_run import build_bench_runtime, handler_environment
    from e2p.bench.target import Target

    accounts = tmp_path / "accounts.json"
    accounts.write_text('{"accounts": []}', encoding="utf-8")
    target = Target("http://127.0.0.1:9/api/event/create", TOKEN)
    runtime = build_bench_runtime(handler_environment(target, accounts, None), TOKEN)
    try:
        client = runtime.dispatcher._client  # the PantherClient itself (no ledger: no table set)
        template = (PROJECT / "central" / "template.yaml").read_text(encoding="utf-8")
        default = re.search(r"\n  DeliveryConcurrency:\n(?:    .*\n)*?    Default: (\d+)\n", template)
        assert default is not None
        # THEN every attempt passes an adaptive gate whose maximum is that default, starting low
        assert client.gate is not None
        assert client.gate.maximum == runtime.settings.delivery_concurrency == int(default.group(1))
        assert client.gate.limit == 1
    finally:
        runtime.dispatcher.close()
