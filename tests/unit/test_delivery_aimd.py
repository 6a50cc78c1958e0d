"""The adaptive concurrency's controller: additive increase, multiplicative decrease, pure."""

from __future__ import annotations

import pytest

from handler.delivery.aimd import AimdLimit, AimdSettings

RTT = 0.020  # seconds: a hosted console's round trip


def answers(limit: AimdLimit, count: int, latency_s: float = RTT) -> None:
    for _ in range(count):
        limit.on_answer(latency_s, limit.epoch)


def test_slow_start_doubles_per_round_trip_up_to_the_maximum_and_never_beyond():
    # GIVEN a fresh instance allowed 16 requests in flight
    limit = AimdLimit(AimdSettings(maximum=16))
    assert limit.limit == 1
    # WHEN the answers of one round trip come back (1, then 2, then 4 requests)
    answers(limit, 1)
    assert limit.limit == 2
    answers(limit, 2)
    assert limit.limit == 4
    answers(limit, 100)
    # THEN it reaches the configured maximum and stays there
    assert limit.limit == 16


def test_overload_halves_once_per_round_trip():
    limit = AimdLimit(AimdSettings(maximum=32, initial=32))
    started = limit.epoch  # 32 requests start together; several of them come back 429
    limit.on_overload(started)
    limit.on_overload(started)
    limit.on_overload(started)
    assert limit.limit == 16  # one cut for the round trip, not 32 -> 4
    limit.on_overload(limit.epoch)  # a request that started after the cut: news of the new limit
    assert limit.limit == 8


def test_after_a_cut_the_limit_grows_by_about_one_per_round_trip():
    limit = AimdLimit(AimdSettings(maximum=64, initial=20))
    limit.on_overload(limit.epoch)
    assert limit.limit == 10
    answers(limit, 10)  # one round trip at 10 in flight
    assert limit.limit == 10  # 10 + 10 x 1/~10.5: just under 11
    answers(limit, 12)
    assert limit.limit == 12


def test_one_slow_answer_is_not_a_queue_but_sustained_latency_growth_cuts_gently():
    limit = AimdLimit(AimdSettings(maximum=20, initial=20))
    answers(limit, 5, RTT)
    limit.on_answer(RTT * 3, limit.epoch)  # one answer late: the client was busy, say
    answers(limit, 5, RTT * 1.5)  # slower, within the tolerance (2x the fastest recent answer)
    assert limit.limit == 20
    # WHEN Panther queues: every answer 3x the fastest
    sent_before = limit.epoch
    while limit.epoch == sent_before:
        limit.on_answer(RTT * 3, sent_before)
    # THEN the limit is cut by 0.8, once: answers to requests sent before the cut change nothing
    assert limit.limit == 16
    answers_before_cut = [limit.on_answer(RTT * 3, sent_before) for _ in range(20)]
    assert len(answers_before_cut) == 20
    assert limit.limit == 16
    # AND answers to requests sent under the new limit are judged afresh
    limit.on_answer(RTT, limit.epoch)
    assert limit.limit == 16  # 16 + 1/16


def test_the_limit_never_drops_below_one_request():
    limit = AimdLimit(AimdSettings(maximum=8, initial=8))
    for _ in range(20):
        limit.on_overload(limit.epoch)
    assert limit.limit == 1


def test_a_console_that_moved_farther_away_becomes_the_new_baseline():
    # GIVEN a baseline of 20 ms learnt over full windows
    limit = AimdLimit(AimdSettings(maximum=10, initial=10, baseline_window=5))
    answers(limit, 10, RTT)
    # WHEN every answer now takes 100 ms (a new route, not a queue)
    for _ in range(12):
        limit.on_answer(0.100, limit.epoch)
    # THEN within two windows 100 ms is the baseline and the limit grows again
    assert limit.baseline_s == pytest.approx(0.100)
    low = limit.limit
    answers(limit, 50, 0.100)
    assert limit.limit > low


@pytest.mark.parametrize(
    "options",
    [
        {"maximum": 0},
        {"maximum": 4, "overload_decrease": 1.0},
        {"maximum": 4, "latency_decrease": 0.0},
        {"maximum": 4, "latency_tolerance": 1.0},
        {"maximum": 4, "latency_gain": 0.0},
        {"maximum": 4, "baseline_window": 0},
    ],
)
def test_settings_out_of_range_are_refused(options):
    with pytest.raises(ValueError, match="must"):
        AimdSettings(**options)


def test_initial_limit_is_clamped_to_the_maximum():
    assert AimdLimit(AimdSettings(maximum=4, initial=50)).limit == 4
