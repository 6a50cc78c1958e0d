"""From the measured time per event to what a million events cost.

Lambda bills wall time (GB-s = configured memory in GB x seconds). The handler spends most of an
invocation waiting for Panther, so its GB-s per event is its wall time per event in the batch run.
Prices are AWS list prices for us-east-1 as read from the stored pricing pages (docs/performance.md
says where); they change, so they are constants here and in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MB_PER_GB: Final = 1024
PER_MILLION: Final = 1_000_000
LAMBDA_ARM64_USD_PER_GB_S: Final = 0.0000133334
LAMBDA_USD_PER_MILLION_REQUESTS: Final = 0.20
EVENTBRIDGE_USD_PER_MILLION_CUSTOM_EVENTS: Final = 1.00
SQS_USD_PER_MILLION_REQUESTS: Final = 0.40
CLOUDWATCH_LOGS_USD_PER_GB_INGESTED: Final = 0.50
SQS_RECEIVE_BATCH: Final = 10  # the event source receives (and deletes) up to 10 messages per call
BYTES_PER_GB: Final = 1024**3


def gb_s_per_million(memory_mb: float, seconds_per_event: float) -> float:
    return memory_mb / MB_PER_GB * seconds_per_event * PER_MILLION


@dataclass(frozen=True, slots=True)
class CostPerMillion:
    """US dollars per million forwarded events, by line."""

    eventbridge: float
    sqs: float
    lambda_duration: float
    lambda_requests: float
    logs: float

    @property
    def total(self) -> float:
        return self.eventbridge + self.sqs + self.lambda_duration + self.lambda_requests + self.logs


def cost_per_million(gb_s: float, batch_size: int, log_bytes_per_event: float) -> CostPerMillion:
    """Each event: one cross-account custom event; an SQS send (EventBridge's target), a batched
    receive and a batched delete; 1/batch_size of an invocation; its log bytes."""
    sqs_requests = PER_MILLION * (1 + 2 / SQS_RECEIVE_BATCH)
    return CostPerMillion(
        eventbridge=EVENTBRIDGE_USD_PER_MILLION_CUSTOM_EVENTS,
        sqs=sqs_requests / PER_MILLION * SQS_USD_PER_MILLION_REQUESTS,
        lambda_duration=gb_s * LAMBDA_ARM64_USD_PER_GB_S,
        lambda_requests=LAMBDA_USD_PER_MILLION_REQUESTS / batch_size,
        logs=log_bytes_per_event * PER_MILLION / BYTES_PER_GB * CLOUDWATCH_LOGS_USD_PER_GB_INGESTED,
    )
