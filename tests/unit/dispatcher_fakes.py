"""The pipeline hands the dispatcher one record's messages at a time (`submit`, a future); the
fake dispatchers of the unit tests answer lists of (correlation id, body) items at once
(`deliver_all`). This base class turns the one into the other, with the answer ready at once."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from handler.delivery.outcome import DeliveryOutcome


class AnswersAtOnce:
    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        raise NotImplementedError

    def submit(
        self, correlation_id: str, bodies: Sequence[bytes], deadline: float | None
    ) -> Future[list[DeliveryOutcome]]:
        answer: Future[list[DeliveryOutcome]] = Future()
        try:
            answer.set_result(self.deliver_all([(correlation_id, body) for body in bodies], deadline))
        except Exception as exc:  # noqa: BLE001 -- handed to the pipeline, as a worker's would be
            answer.set_exception(exc)
        return answer
