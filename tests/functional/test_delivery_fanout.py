"""Dispatcher: bounded concurrency, per-correlation-id order, results in input order."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator

import pytest
from panther_stub import Reply, error_reply

from handler.delivery import DEADLINE_REASON, DeliveryOutcome, DeliveryStatus, Dispatcher
from handler.delivery.fanout import SKIPPED_REASON

pytestmark = pytest.mark.functional

TOKEN = "tok-0123456789abcdef0123456789ab"


def body(correlation_id: str, seq: int, kind: str = "ok") -> bytes:
    summary = f"{correlation_id}#{seq}:{kind}"
    return json.dumps({"event": {"node": "n", "summary": summary}}).encode()


def parse(request_body: bytes) -> tuple[str, int, str]:
    summary = json.loads(request_body)["event"]["summary"]
    head, kind = summary.split(":")
    correlation_id, seq = head.split("#")
    return correlation_id, int(seq), kind


def answer_by_kind(request) -> Reply:
    """ok -> 200, drop -> Panther discards it, bad -> validation error, down -> 500."""
    kind = parse(request.body)[2]
    if kind == "drop":
        return Reply(status=400, body={"message": "Event discarded"})
    if kind == "bad":
        return error_reply(400, "summary too long", name="ValidationError")
    if kind == "down":
        return Reply(status=500, body=b"down")
    return Reply()


@pytest.fixture
def make_dispatcher() -> Iterator:
    made: list[Dispatcher] = []

    def make(client, concurrency: int) -> Dispatcher:
        dispatcher = Dispatcher(client, concurrency)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close()


def test_outcomes_come_back_in_input_order(
    delivery_stub, delivery_tokens, delivery_client_factory, make_dispatcher
):
    # GIVEN a mix of events Panther accepts, discards and refuses, under several correlation ids
    delivery_stub.responder = answer_by_kind
    kinds = ["ok", "bad", "drop", "ok", "bad", "ok", "drop", "ok"]
    items = [(f"evt-{i % 3}", body(f"evt-{i % 3}", i, kind)) for i, kind in enumerate(kinds)]
    dispatcher = make_dispatcher(delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)), 3)
    # WHEN delivered together
    outcomes = dispatcher.deliver_all(items, None)
    # THEN outcome i belongs to item i
    expected = {
        "ok": DeliveryStatus.DELIVERED,
        "drop": DeliveryStatus.DISCARDED,
        "bad": DeliveryStatus.PERMANENT,
    }
    assert [o.status for o in outcomes] == [expected[k] for k in kinds]
    assert sorted(r.body for r in delivery_stub.received) == sorted(b for _, b in items)


def test_in_flight_requests_never_exceed_the_concurrency(
    delivery_stub, delivery_tokens, delivery_client_factory, make_dispatcher
):
    # GIVEN a Panther that holds each request until 3 are in flight (so 3 are reached if allowed)
    delivery_stub.hold_until_in_flight = 3
    items = [(f"evt-{i}", body(f"evt-{i}", 0)) for i in range(12)]
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), read_timeout_s=5.0)
    dispatcher = make_dispatcher(client, 3)
    # WHEN 12 independent events are delivered with a concurrency of 3
    outcomes = dispatcher.deliver_all(items, None)
    # THEN all arrive, exactly 3 at a time at most
    assert all(o.status is DeliveryStatus.DELIVERED for o in outcomes)
    assert len(delivery_stub.received) == 12
    assert delivery_stub.max_in_flight == 3


def test_messages_of_one_correlation_id_are_sent_in_order_one_at_a_time(
    delivery_stub, delivery_tokens, delivery_client_factory, make_dispatcher
):
    # GIVEN 3 ids x 3 messages, more workers than ids, and first messages that Panther is slow to
    # answer: a later message would overtake its predecessor if they were sent side by side
    delivery_stub.responder = lambda request: Reply(delay_s=0.05 if parse(request.body)[1] == 0 else 0.0)
    delivery_stub.hold_until_in_flight = 3  # the three ids start together
    items = [(cid, body(cid, seq)) for seq in range(3) for cid in ("evt-a", "evt-b", "evt-c")]
    dispatcher = make_dispatcher(delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)), 6)
    outcomes = dispatcher.deliver_all(items, None)
    assert all(o.status is DeliveryStatus.DELIVERED for o in outcomes)
    # THEN per id, each message arrived only after the previous one was answered (a causal order:
    # the answer is stamped before it is written, the next request after it was read)
    for cid in ("evt-a", "evt-b", "evt-c"):
        requests = [r for r in delivery_stub.received if parse(r.body)[0] == cid]
        assert [parse(r.body)[1] for r in requests] == [0, 1, 2]
        for earlier, later in itertools.pairwise(requests):
            assert later.arrived >= earlier.answered > 0
    # ... while different ids did run side by side, one request each
    assert delivery_stub.max_in_flight == 3


def test_a_retryable_failure_holds_back_the_rest_of_its_correlation_id(
    delivery_stub, delivery_tokens, delivery_client_factory, make_dispatcher
):
    delivery_stub.responder = answer_by_kind
    items = [
        ("evt-a", body("evt-a", 0, "down")),
        ("evt-b", body("evt-b", 0)),
        ("evt-a", body("evt-a", 1)),
        ("evt-a", body("evt-a", 2)),
    ]
    client = delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN), max_attempts=1)
    outcomes = make_dispatcher(client, 2).deliver_all(items, None)
    assert [o.status for o in outcomes] == [
        DeliveryStatus.RETRYABLE,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.RETRYABLE,
        DeliveryStatus.RETRYABLE,
    ]
    assert [(o.attempts, o.reason) for o in outcomes[2:]] == [(0, SKIPPED_REASON)] * 2
    assert sorted(parse(r.body)[:2] for r in delivery_stub.received) == [("evt-a", 0), ("evt-b", 0)]


def test_a_permanent_failure_does_not_hold_back_its_correlation_id(
    delivery_stub, delivery_tokens, delivery_client_factory, make_dispatcher
):
    delivery_stub.responder = answer_by_kind
    items = [("evt-a", body("evt-a", 0, "bad")), ("evt-a", body("evt-a", 1))]
    outcomes = make_dispatcher(
        delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)), 2
    ).deliver_all(items, None)
    assert [o.status for o in outcomes] == [DeliveryStatus.PERMANENT, DeliveryStatus.DELIVERED]


def test_nothing_is_sent_after_the_deadline(
    delivery_stub, delivery_tokens, delivery_client_factory, delivery_time, make_dispatcher
):
    items = [(f"evt-{i}", body(f"evt-{i}", 0)) for i in range(4)]
    dispatcher = make_dispatcher(delivery_client_factory(delivery_stub.url, delivery_tokens(TOKEN)), 2)
    outcomes = dispatcher.deliver_all(items, delivery_time.now)
    assert [(o.status, o.attempts) for o in outcomes] == [(DeliveryStatus.RETRYABLE, 0)] * 4
    assert outcomes[0].reason == DEADLINE_REASON
    assert delivery_stub.received == []


def test_empty_batch(make_dispatcher):
    class NeverCalled:
        def send(self, body, correlation_id, deadline=None):
            raise AssertionError("nothing to send")

    assert make_dispatcher(NeverCalled(), 2).deliver_all([], None) == []


def test_the_pool_is_reused_across_batches(make_dispatcher):
    # GIVEN a sender that notes which thread ran it
    threads: set[int] = set()

    class Recorder:
        def send(self, body, correlation_id, deadline=None):
            threads.add(threading.get_ident())
            return DeliveryOutcome(DeliveryStatus.DELIVERED, 1, 200, "HTTP 200", 0.0)

    dispatcher = make_dispatcher(Recorder(), 2)
    # WHEN many batches go through one dispatcher (one per container)
    for batch in range(10):
        dispatcher.deliver_all([(f"evt-{batch}-{i}", b"{}") for i in range(4)], None)
    # THEN the same two workers did all of it, none of them the caller
    assert len(threads) <= 2
    assert threading.get_ident() not in threads


def test_a_bug_in_a_worker_surfaces(make_dispatcher):
    class Broken:
        def send(self, body, correlation_id, deadline=None):
            raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        make_dispatcher(Broken(), 2).deliver_all([("evt-1", b"{}")], None)


def test_concurrency_must_be_positive():
    with pytest.raises(ValueError, match="concurrency"):
        Dispatcher(object(), 0)  # type: ignore[arg-type]
