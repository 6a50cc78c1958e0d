"""From the measured time per event to what a million events cost.

Lambda bills wall time (GB-s = configured memory in GB x seconds), and gives a function CPU in
proportion to its memory: one vCPU at 1,769 MB (Lambda Developer Guide, "Configuring Lambda function
memory"), so about 0.14 vCPU at the default 256 MB. An event therefore takes, in Lambda, at least
the wall time measured here (waiting for Panther) and at least the CPU time measured here stretched
to that share of a vCPU; whichever is longer bounds it. When the CPU bound wins, GB-s per event no
longer depends on the memory size (twice the memory, twice the CPU, half the time), only the rate
per instance does. This machine's core is not a Graviton core: the CPU figure is this machine's.
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
MB_PER_VCPU: Final = 1769


def lambda_seconds_per_event(memory_mb: float, wall_s: float, cpu_s: float) -> float:
    """What one event takes in a function of `memory_mb`: the longer of the wall time and the CPU
    time at the memory's share of a vCPU (capped at one vCPU: the handler's work holds one
    interpreter lock)."""
    share = min(memory_mb / MB_PER_VCPU, 1.0)
    return max(wall_s, cpu_s / share)


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
