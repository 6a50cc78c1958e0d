"""`events_per_s`: the handler itself, fed SQS batches the way Lambda feeds it.

The runtime is the real one (`build_runtime` from `load_settings`): the real pipeline, account
directory (from an accounts file), PantherClient and Dispatcher. Only the AWS clients are stand-ins
that never leave the process: the token "secret" and the dead-letter "queue". Each Lambda event is
`handler.app.handle`d in turn, as one warm function instance would, and the run fails loudly when
a record is not finished: a rate of failures is not a delivery rate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from e2p.bench.logs import counted_handler_logs
from e2p.bench.target import Target
from e2p.bench.workload import Workload, sqs_events
from e2p.exceptions import E2PError
from handler import constants as env

BENCH_SECRET_ID: Final = "e2p-bench-token"  # noqa: S105 -- a secret name, no secret
BENCH_DLQ_URL: Final = "https://sqs.us-east-1.amazonaws.com/000000000000/e2p-bench-dlq"
BENCH_REGION: Final = "us-east-1"
# The template's FunctionTimeout default: what the context says is left of an invocation.
FUNCTION_TIMEOUT_MS: Final = 60_000


class HandlerRunError(E2PError):
    """Records were returned for retry: the receiver or the configuration is not healthy."""


class _TokenSecret:
    """The one Secrets Manager call the token provider makes, answered in memory."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        return {"SecretString": self._token, "Name": SecretId}


@dataclass
class _DeadLetters:
    """The dead-letter queue's SendMessage, kept in memory (invalid sample envelopes land here)."""

    sent: list[str] = field(default_factory=list)

    def send_message(self, **request: Any) -> dict[str, str]:
        self.sent.append(str(request.get("MessageBody", "")))
        return {"MessageId": f"dlq-{len(self.sent)}"}


class StubSession:
    """What `build_runtime` asks of a boto3 Session, with no AWS behind it."""

    region_name = BENCH_REGION

    def __init__(self, token: str) -> None:
        self.dead_letters = _DeadLetters()
        self._clients: dict[str, Any] = {"secretsmanager": _TokenSecret(token), "sqs": self.dead_letters}

    def client(self, service_name: str, **_options: Any) -> Any:
        return self._clients[service_name]


class LambdaContext:
    """The part of the Lambda context the handler reads."""

    def __init__(self, timeout_ms: int = FUNCTION_TIMEOUT_MS) -> None:
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def handler_environment(target: Target, accounts_file: Path, concurrency: int | None) -> dict[str, str]:
    """The function's environment for this target (the template's variables, bench values)."""
    environ = {
        env.PANTHER_URL: target.url,
        env.TOKEN_SECRET_ID: BENCH_SECRET_ID,
        env.DEAD_LETTER_QUEUE_URL: BENCH_DLQ_URL,
        env.ACCOUNTS_FILE: str(accounts_file),
        env.ACCOUNTS_FILE_MODE: "replace",
    }
    if target.ca_bundle:
        environ[env.CA_BUNDLE] = target.ca_bundle
    if not target.is_tls:
        environ[env.ALLOW_INSECURE_HTTP] = "true"
    if concurrency is not None:
        environ[env.DELIVERY_CONCURRENCY] = str(concurrency)
    return environ


def build_bench_runtime(environ: Mapping[str, str], token: str) -> Any:
    """handler.runtime.Runtime built exactly as the function builds it, on the stub session."""
    from handler.config import load_settings
    from handler.runtime import build_runtime

    return build_runtime(load_settings(environ), StubSession(token))


@dataclass(frozen=True, slots=True)
class HandlerRun:
    records: int
    messages: int
    seconds: float
    cpu_seconds: float  # every thread of this process: mapping, the pipeline, HTTP and TLS
    log_chars: int

    @property
    def events_per_s(self) -> float:
        return self.records / self.seconds

    @property
    def seconds_per_event(self) -> float:
        return self.seconds / self.records

    @property
    def cpu_seconds_per_event(self) -> float:
        return self.cpu_seconds / self.records


def handler_rate(runtime: Any, workload: Workload, batch_size: int) -> HandlerRun:
    """Every record of the workload through `handle`, batch after batch; one warm-up batch first."""
    from handler.app import handle
    from handler.counters import Count

    events = list(sqs_events(workload.bodies, batch_size))
    context = LambdaContext()
    delivered = 0
    with counted_handler_logs() as sink:
        # Warm-up: connections, the token read and the directory load belong to the first
        # invocation of a container, not to the steady state.
        handle(events[0], context, runtime)
        sink.chars = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        for event in events:
            report = handle(event, context, runtime)
            if report.failed_message_ids:
                reasons = {decision.reason for _, decision in report.decisions if decision.reason}
                raise HandlerRunError(
                    f"{len(report.failed_message_ids)} record(s) returned for retry: {sorted(reasons)[:3]}"
                )
            delivered += report.counters.get(Count.DELIVERED) + report.counters.get(Count.DISCARDED)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    if delivered != workload.message_count:
        raise HandlerRunError(f"{delivered} messages delivered, {workload.message_count} expected")
    return HandlerRun(workload.records, delivered, elapsed, cpu, sink.chars)
