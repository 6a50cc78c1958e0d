"""The queue of `e2p bench --instances`: batches to whichever instance asks, retried records back in.

As an SQS event source does for a function: a free instance gets the next batch; a record the
handler returns for retry comes back later with its receive count raised (SQS redelivers it
after the visibility timeout), and one already received `max_receives` times is lost (the queue's
redrive policy would move it to the dead-letter queue). Thread-safe: the bench serves each instance
from a thread of its own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Sequence
from typing import Final

# The central template's MaxReceiveCount default (the buffer queue's redrive policy).
MAX_RECEIVES: Final = 5

Batch = list[tuple[int, int]]  # (record index, receive count)


class BatchQueue:
    def __init__(self, records: int, batch_size: int, max_receives: int = MAX_RECEIVES) -> None:
        if batch_size < 1 or max_receives < 1:
            raise ValueError("batch size and receives must be at least 1")
        self._waiting: deque[tuple[int, int]] = deque((index, 1) for index in range(records))
        self._batch_size = batch_size
        self._max_receives = max_receives
        self._in_flight = 0
        self._condition = threading.Condition()
        self._aborted = False
        self.redelivered = 0
        self.lost: list[int] = []

    def take(self) -> Batch | None:
        """The next batch; None once every record is done. Waits while the queue is empty but
        batches in flight may still give records back."""
        with self._condition:
            self._condition.wait_for(lambda: bool(self._waiting) or self._in_flight == 0 or self._aborted)
            if not self._waiting or self._aborted:
                return None
            count = min(self._batch_size, len(self._waiting))
            batch = [self._waiting.popleft() for _ in range(count)]
            self._in_flight += count
            return batch

    def abort(self) -> None:
        """No more batches for anyone (an instance failed: the others stop instead of waiting for
        its batch to come back)."""
        with self._condition:
            self._aborted = True
            self._condition.notify_all()

    def give_back(self, batch: Sequence[tuple[int, int]], returned: Collection[int]) -> None:
        """`batch` is done; the indexes in `returned` were returned for retry."""
        with self._condition:
            for index, receives in batch:
                if index not in returned:
                    continue
                if receives >= self._max_receives:
                    self.lost.append(index)
                else:
                    self.redelivered += 1
                    self._waiting.append((index, receives + 1))
            self._in_flight -= len(batch)
            self._condition.notify_all()
