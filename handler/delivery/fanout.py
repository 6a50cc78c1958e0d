"""Deliver a batch concurrently, with bounded concurrency and per-event ordering.

The thread pool lives as long as the Dispatcher: create one per container (at cold start) and reuse
it across invocations, so that no invocation pays for starting threads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, Protocol

from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus

logger = logging.getLogger(__name__)

THREAD_NAME_PREFIX: Final = "panther-delivery"
SKIPPED_REASON: Final = "not sent: an earlier message with the same correlation id is retryable"


class Sender(Protocol):
    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome: ...


class Dispatcher:
    """At most `concurrency` requests in flight; messages sharing a correlation id (several messages
    from one source event) go one after the other, in input order, on one worker."""

    def __init__(self, client: Sender, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._client = client
        self._concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=THREAD_NAME_PREFIX)

    def __repr__(self) -> str:
        return f"Dispatcher(client={self._client!r}, concurrency={self._concurrency})"

    def submit(
        self, correlation_id: str, bodies: Sequence[bytes], deadline: float | None
    ) -> Future[list[DeliveryOutcome]]:
        """Start delivering one correlation id's messages, in order, on one worker; the future
        gives one outcome per body. The pipeline submits each record as soon as it is mapped, so
        the first requests are in flight while the rest of the batch is still being mapped.
        The future only raises on a bug in a worker."""
        return self._pool.submit(self._deliver_group, correlation_id, bodies, deadline)

    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        """One outcome per (correlation_id, body) item, in input order."""
        groups: dict[str, list[int]] = {}
        for index, (correlation_id, _body) in enumerate(items):
            groups.setdefault(correlation_id, []).append(index)
        futures = [
            (indexes, self.submit(items[indexes[0]][0], [items[i][1] for i in indexes], deadline))
            for indexes in groups.values()
        ]
        outcomes: dict[int, DeliveryOutcome] = {}
        for indexes, future in futures:
            # A worker only raises on a bug; let it surface so the whole batch is retried by SQS.
            outcomes.update(zip(indexes, future.result(), strict=True))
        return [outcomes[index] for index in range(len(items))]

    def _deliver_group(
        self, correlation_id: str, bodies: Sequence[bytes], deadline: float | None
    ) -> list[DeliveryOutcome]:
        results: list[DeliveryOutcome] = []
        blocked = False
        for body in bodies:
            if blocked:
                # Sending later messages of the event now would put them before the earlier one,
                # which comes back with the record's redelivery.
                results.append(DeliveryOutcome(DeliveryStatus.RETRYABLE, 0, None, SKIPPED_REASON, 0.0))
                continue
            outcome = self._client.send(body, correlation_id, deadline)
            results.append(outcome)
            blocked = outcome.status is DeliveryStatus.RETRYABLE
        if blocked:
            logger.warning(
                "Panther delivery stopped for this correlation id after a retryable failure",
                extra={"correlation_id": correlation_id, "messages": len(bodies)},
            )
        return results

    def close(self) -> None:
        """Wait for running deliveries and stop the workers (tests; a Lambda container just ends)."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
