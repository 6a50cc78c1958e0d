"""The Lambda entry point: parse the SQS batch, run the pipeline, return the partial batch response.

Configured as `handler.app.lambda_handler` with an SQS event source mapping that has
FunctionResponseTypes [ReportBatchItemFailures].
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from handler.config import load_settings
from handler.pipeline import BatchReport, Record
from handler.runtime import Runtime, build_runtime

# Leave time to write the response and the dead letters after the last delivery attempt.
SAFETY_MARGIN_S = 5.0
SAFETY_MARGIN_FRACTION = 0.1

logger = Logger(service="events2panther")
copy_config_to_registered_loggers(source_logger=logger, include={"handler"})
metrics = Metrics(namespace="Events2Panther")

_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """Settings are read and validated on the container's first invocation, then kept."""
    global _runtime  # noqa: PLW0603 -- one runtime per container is the point
    if _runtime is None:
        _runtime = build_runtime(load_settings())
    return _runtime


def records_of(event: Mapping[str, Any]) -> list[Record]:
    records = event.get("Records") or []
    return [
        Record(
            message_id=str(record.get("messageId", "")),
            body=str(record.get("body", "")),
            receive_count=str((record.get("attributes") or {}).get("ApproximateReceiveCount", "1")),
        )
        for record in records
        if isinstance(record, Mapping)
    ]


def deadline_of(context: Any) -> float | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    remaining_s = float(remaining_ms()) / 1000
    margin = max(SAFETY_MARGIN_S, remaining_s * SAFETY_MARGIN_FRACTION)
    return time.monotonic() + max(remaining_s - margin, 0.0)


def handle(event: Mapping[str, Any], context: Any, runtime: Runtime) -> BatchReport:
    """The whole invocation, without the Lambda-only concerns (metrics flush, the cached runtime)."""
    return runtime.pipeline.process(records_of(event), deadline_of(context))


@metrics.log_metrics
def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    report = handle(event, context, get_runtime())
    for name, value in report.counters.items():
        metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)
    logger.info(
        "batch done",
        extra={"records": len(report.decisions), "retry": len(report.failed_message_ids)},
    )
    return report.lambda_response()
