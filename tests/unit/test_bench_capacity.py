"""The pure parts of `e2p bench --instances`: the receiver's capacity model and the figures."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from e2p.bench.batch_queue import BatchQueue
from e2p.bench.capacity import CapacityModel
from e2p.bench.instance import InstanceCounts
from e2p.bench.instances import InstancesOptions, UniqueRecords, instances_figures, unique_records

LATENCY_S = 0.02


def test_without_a_capacity_every_request_is_answered_after_the_latency():
    model = CapacityModel(0, LATENCY_S)
    assert [model.admit(0.0) for _ in range(3)] == [LATENCY_S] * 3


def test_beyond_the_capacity_answers_queue_then_are_refused():
    # GIVEN a console that serves 100 requests per second and a proxy that waits at most 0.25 s
    model = CapacityModel(100, LATENCY_S, max_queue_s=0.25)
    # WHEN 30 requests arrive at once
    delays = [model.admit(10.0) for _ in range(30)]
    # THEN they are served one every 10 ms (the latency grows), and those past 0.25 s are refused
    served = [delay for delay in delays if delay is not None]
    assert served[:3] == pytest.approx([0.03, 0.04, 0.05])
    assert len(served) == 26  # starts at 0, 10, ..., 250 ms
    assert delays[26:] == [None] * 4
    # AND once the queue has drained, a request is served at once again
    assert model.admit(20.0) == pytest.approx(0.01 + LATENCY_S)


def test_negative_settings_are_refused():
    with pytest.raises(ValueError, match="negative"):
        CapacityModel(-1, LATENCY_S)


def test_every_record_gets_an_event_id_of_its_own():
    sample = json.dumps(
        {
            "version": "0",
            "id": "abc",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "account": "123456789012",
            "time": "2026-12-01T00:00:00Z",
            "region": "eu-west-1",
            "resources": [],
            "detail": {"instance-id": "i-0123", "state": "stopped"},
        }
    )
    records = unique_records([sample], 5, {})
    ids = [json.loads(body)["id"] for body in records.bodies]
    assert len(set(ids)) == 5
    assert records.event_ids == ids
    assert records.expected_ids == set(ids)
    assert records.messages == 5


def _counts(delivered: int, attempts: int, dead_lettered: int = 0) -> InstanceCounts:
    return InstanceCounts(
        invocations=1,
        records=delivered,
        messages_delivered=delivered,
        delivery_attempts=attempts,
        dead_lettered=dead_lettered,
        seconds=1.0,
        cpu_seconds=0.5,
    )


def test_an_event_the_receiver_never_stored_is_lost_even_if_the_instances_say_delivered():
    records = UniqueRecords(bodies=["a", "b", "c", "d"], event_ids=["a", "b", "c", None], messages=3)
    stats = {"stored": 2, "requests": 3, "refused": 0, "event_ids": ["a", "b"]}
    options = InstancesOptions(project_root=Path(), instances=1, capacity_per_s=4.0)
    result = instances_figures(options, records, [_counts(3, 3, dead_lettered=1)], 1.0, stats)
    assert result.lost == 1  # "c"; "d" gives no message (dead-lettered with its reason: not lost)
    assert result.dead_lettered == 1
    assert (result.events_per_s, result.capacity_share) == (2.0, 0.5)


def test_a_record_the_queue_gave_up_on_is_lost_once_even_if_the_receiver_also_misses_it():
    records = UniqueRecords(bodies=["a", "b"], event_ids=["a", "b"], messages=2)
    stats = {"stored": 1, "requests": 6, "refused": 5, "event_ids": ["a"]}
    options = InstancesOptions(project_root=Path(), instances=1, capacity_per_s=None)
    result = instances_figures(options, records, [_counts(1, 6)], 1.0, stats, given_up=[1])
    assert result.lost == 1
    without_receiver = instances_figures(options, records, [_counts(1, 6)], 1.0, None, given_up=[1])
    assert without_receiver.lost == 1


def test_retry_share_is_requests_beyond_one_per_message_over_all_requests():
    records = UniqueRecords(bodies=["a"] * 90, event_ids=["a"] * 90, messages=90)
    stats = {"stored": 90, "requests": 100, "refused": 10, "event_ids": ["a"]}
    options = InstancesOptions(project_root=Path(), instances=2, capacity_per_s=None)
    result = instances_figures(options, records, [_counts(45, 50), _counts(45, 50)], 2.0, stats)
    assert result.retry_share == pytest.approx(0.1)
    assert (result.lost, result.refused, result.capacity_share) == (0, 10, None)


def test_the_queue_hands_batches_and_takes_returned_records_back_until_their_last_receive():
    # GIVEN 5 records, batches of 2, a redrive policy after 2 receives
    queue = BatchQueue(5, 2, max_receives=2)
    first = queue.take()
    assert first == [(0, 1), (1, 1)]
    # WHEN record 1 is returned for retry, and later returned again
    queue.give_back(first, {1})
    assert queue.take() == [(2, 1), (3, 1)]
    queue.give_back([(2, 1), (3, 1)], set())
    assert queue.take() == [(4, 1), (1, 2)]  # redelivered with its receive count raised
    queue.give_back([(4, 1), (1, 2)], {1})
    # THEN it is lost after its last receive, and the queue is done
    assert queue.take() is None
    assert (queue.redelivered, queue.lost) == (1, [1])


def test_an_empty_queue_waits_for_batches_in_flight_that_may_give_records_back():
    queue = BatchQueue(1, 10)
    batch = queue.take()
    assert batch == [(0, 1)]
    waiter = ThreadPoolExecutor(1)
    pending = waiter.submit(queue.take)
    assert not pending.done()  # waits: the batch in flight may come back
    queue.give_back(batch, {0})
    assert pending.result(timeout=10) == [(0, 2)]
    waiter.shutdown()


def test_an_aborted_queue_releases_every_waiting_instance():
    queue = BatchQueue(1, 1)
    batch = queue.take()
    assert batch is not None
    with ThreadPoolExecutor(1) as waiter:
        pending = waiter.submit(queue.take)  # waits for the batch in flight
        queue.abort()  # its instance died
        assert pending.result(timeout=10) is None
    assert queue.take() is None
