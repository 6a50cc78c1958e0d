"""How many requests one function instance keeps in flight: additive increase, multiplicative decrease.

Panther has no rate limit of its own (PANTHER-API.md): it slows down, or a proxy in front of it
answers 429/5xx, or requests time out. A fixed number of requests in flight per instance, times
the number of instances, either leaves a console's capacity unused or overloads it. Each instance
therefore probes, as TCP does for a network path:

- every answer that says "not overloaded" adds 1/limit (about one more request in flight per
  round trip), after a slow start that adds 1 per answer (doubling per round trip) until the first
  sign of overload;
- an overload sign (429, 5xx, 408, a timeout, a dropped or refused connection: policy.py says which
  verdicts are) or a smoothed latency above `latency_tolerance` x the recent fastest answer (Panther
  is queueing) multiplies the limit by a factor below 1, at most once per round trip: the requests
  that were already in flight when the limit was cut carry news of the old limit, not the new one.
  The latency is smoothed as TCP smooths its round-trip time (weight 1/8 per answer): one slow
  answer (the client's own process busy for a few milliseconds) is not a queue at Panther;
- the limit stays within [1, maximum] (the configured DeliveryConcurrency).

Pure and single-threaded: no clock, no lock. handler.delivery.gate holds it under its lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Cut on a sign that Panther refused work (429, 5xx, timeouts): halve, as TCP does.
OVERLOAD_DECREASE: Final = 0.5
# Cut on latency growth alone: Panther still answers, only slower; a gentler cut keeps the
# instance near the capacity instead of swinging far below it.
LATENCY_DECREASE: Final = 0.8
# An answer this many times slower than the recent fastest one means requests are queueing at Panther.
LATENCY_TOLERANCE: Final = 2.0
# Weight of each answer in the smoothed latency (TCP's SRTT gain, RFC 6298).
LATENCY_GAIN: Final = 0.125
# The fastest answer is remembered over two windows of this many answers, so that a console that
# moved farther away (a new baseline) is learnt within at most two windows.
BASELINE_WINDOW: Final = 200
INITIAL_LIMIT: Final = 1.0
MINIMUM_LIMIT: Final = 1.0


@dataclass(frozen=True, slots=True)
class AimdSettings:
    maximum: int
    initial: float = INITIAL_LIMIT
    overload_decrease: float = OVERLOAD_DECREASE
    latency_decrease: float = LATENCY_DECREASE
    latency_tolerance: float = LATENCY_TOLERANCE
    latency_gain: float = LATENCY_GAIN
    baseline_window: int = BASELINE_WINDOW

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError("the maximum number of requests in flight must be at least 1")
        if not 0 < self.overload_decrease < 1 or not 0 < self.latency_decrease < 1:
            raise ValueError("decrease factors must be between 0 and 1")
        if not 0 < self.latency_gain <= 1:
            raise ValueError("the latency gain must be between 0 and 1")
        if self.latency_tolerance <= 1:
            raise ValueError("the latency tolerance must be above 1")
        if self.baseline_window < 1:
            raise ValueError("the baseline window must hold at least one answer")


class AimdLimit:
    """The number of requests one instance may have in flight, learnt from Panther's answers.

    `epoch` counts the cuts. A request records the epoch when it starts; its outcome may cut the
    limit only if no cut happened since it started (one cut per round trip, however many requests
    of that round trip come back refused).
    """

    __slots__ = (
        "_baseline_count",
        "_current_min",
        "_limit",
        "_previous_min",
        "_settings",
        "_slow_start",
        "_smoothed",
        "epoch",
    )

    def __init__(self, settings: AimdSettings) -> None:
        self._settings = settings
        self._limit = min(max(settings.initial, MINIMUM_LIMIT), float(settings.maximum))
        self._slow_start = True
        self.epoch = 0
        self._current_min: float | None = None
        self._previous_min: float | None = None
        self._baseline_count = 0
        self._smoothed: float | None = None

    def __repr__(self) -> str:
        return f"AimdLimit(limit={self._limit:.2f}, maximum={self._settings.maximum}, epoch={self.epoch})"

    @property
    def limit(self) -> int:
        """Requests allowed in flight now: at least 1, at most the maximum."""
        return int(self._limit)

    @property
    def maximum(self) -> int:
        return self._settings.maximum

    @property
    def baseline_s(self) -> float | None:
        """The fastest recent answer (None before the first)."""
        candidates = [m for m in (self._current_min, self._previous_min) if m is not None]
        return min(candidates) if candidates else None

    def on_answer(self, latency_s: float, started_epoch: int) -> None:
        """Panther answered without a sign of overload, after `latency_s`."""
        baseline = self.baseline_s
        self._remember(latency_s)
        queued = baseline is not None and latency_s > self._settings.latency_tolerance * baseline
        if started_epoch != self.epoch:
            # Answers to requests sent before the last cut tell of the queue that cut was for:
            # no second cut, and no growth either when they queued.
            if queued:
                return
        else:
            previous = self._smoothed
            gain = self._settings.latency_gain
            smoothed = latency_s if previous is None else previous + gain * (latency_s - previous)
            self._smoothed = smoothed
            if baseline is not None and smoothed > self._settings.latency_tolerance * baseline:
                self._cut(self._settings.latency_decrease, started_epoch)
                return
        if self._slow_start:
            self._limit = min(self._limit + 1.0, float(self._settings.maximum))
        else:
            self._limit = min(self._limit + 1.0 / self._limit, float(self._settings.maximum))

    def on_overload(self, started_epoch: int) -> None:
        """Panther (or what is in front of it) refused the request or did not answer in time."""
        self._cut(self._settings.overload_decrease, started_epoch)

    def _cut(self, factor: float, started_epoch: int) -> None:
        self._slow_start = False
        if started_epoch != self.epoch:
            return  # this round trip's news was acted on already
        self._limit = max(self._limit * factor, MINIMUM_LIMIT)
        self.epoch += 1
        self._smoothed = None  # learnt afresh from the requests sent under the new limit

    def _remember(self, latency_s: float) -> None:
        if self._current_min is None or latency_s < self._current_min:
            self._current_min = latency_s
        self._baseline_count += 1
        if self._baseline_count >= self._settings.baseline_window:
            self._previous_min, self._current_min = self._current_min, None
            self._baseline_count = 0
