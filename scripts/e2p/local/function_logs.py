"""What Lambda does with a function's log output: every line lands in `/aws/lambda/<name>`.

The local mode runs the deployed function in this process (function_host.py), so its log lines would
otherwise only reach the terminal; commands that read the log group (`e2p verify`,
`e2p send-test-event`) would then find nothing. LogGroupShipper is attached to the handler's loggers
for the life of a LocalFunction and puts each invocation's lines into the function's log group in
the local AWS, formatted as the function formats them (powertools JSON).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

# The handler's loggers: powertools' service logger and the `handler.*` module loggers it configures
# (each with propagate off, so a handler on a parent would not see their records).
SERVICE_LOGGER: Final = "events2panther"
HANDLER_PREFIX: Final = "handler"


def function_loggers() -> list[logging.Logger]:
    names = [
        name
        for name, item in logging.Logger.manager.loggerDict.items()
        if isinstance(item, logging.Logger)
        and (name in {SERVICE_LOGGER, HANDLER_PREFIX} or name.startswith(f"{HANDLER_PREFIX}."))
    ]
    return [logging.getLogger(name) for name in sorted(names)]


def service_formatter() -> logging.Formatter:
    """The formatter the function's own output uses: its Logger's when it is built, else the same
    powertools JSON formatter (one JSON object per line, extra keys included)."""
    for handler in logging.getLogger(SERVICE_LOGGER).handlers:
        if handler.formatter is not None:
            return handler.formatter
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    return LambdaPowertoolsFormatter(service=SERVICE_LOGGER)


class LogGroupShipper(logging.Handler):
    def __init__(self, logs: Any, group: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._logs = logs
        self._group = group
        self._stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._pending: list[dict[str, Any]] = []
        self._pending_lock = threading.Lock()
        self._created = False
        self._attached: list[logging.Logger] = []
        self.setFormatter(service_formatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 -- a log line must never break the function
            return
        with self._pending_lock:
            self._pending.append({"timestamp": int(record.created * 1000), "message": line})

    def attach(self) -> LogGroupShipper:
        self._attached = function_loggers()
        for logger in self._attached:
            logger.addHandler(self)
        return self

    def detach(self) -> None:
        for logger in self._attached:
            logger.removeHandler(self)
        self._attached = []

    def ship(self) -> int:
        """Put the lines logged so far into the log group; returns how many."""
        with self._pending_lock:
            batch, self._pending = sorted(self._pending, key=lambda e: e["timestamp"]), []
        if not batch:
            return 0
        try:
            if not self._created:
                self._create()
            self._logs.put_log_events(logGroupName=self._group, logStreamName=self._stream, logEvents=batch)
        except (ClientError, BotoCoreError):
            # Lambda does not fail an invocation over its logs either; the lines are lost as they
            # would be there (the terminal still has them).
            return 0
        return len(batch)

    def _create(self) -> None:
        for create, kwargs in (
            (self._logs.create_log_group, {"logGroupName": self._group}),
            (self._logs.create_log_stream, {"logGroupName": self._group, "logStreamName": self._stream}),
        ):
            try:
                create(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
        self._created = True
