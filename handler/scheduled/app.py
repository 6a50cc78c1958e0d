"""Entry point of the scheduled function: run the task a schedule rule names.

Each schedule rule of the central stack targets this function with a constant input
`{"task": NAME, ...}`; NAME selects one module of this package, imported only when its task runs so
that one task's dependencies never slow another's cold start. A task module exposes
`run(event, context) -> dict` and returns a JSON-serialisable summary that is logged.

Why a second function rather than the forwarder with another event shape: the forwarder is driven
by its SQS event source mapping with a batch contract, and its role reads the Panther token; the
scheduled work needs neither, and its own role keeps each permission with the code that uses it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final, Protocol, cast

from aws_lambda_powertools import Logger

from handler.exceptions import ConfigurationError

logger = Logger(service="events2panther-scheduled")

# task name (the schedule rule's input) -> module of this package that runs it.
TASK_MODULES: Final[Mapping[str, str]] = {
    "directory-refresh": "handler.scheduled.directory_refresh",
    "watchdog": "handler.scheduled.watchdog",
}


class UnknownTaskError(ConfigurationError):
    """A schedule rule named a task this code does not have: a template/code mismatch."""


class TaskModule(Protocol):
    def run(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]: ...


def task_module(name: str) -> TaskModule:
    module_name = TASK_MODULES.get(name)
    if module_name is None:
        known = ", ".join(sorted(TASK_MODULES)) or "none"
        raise UnknownTaskError(f"unknown scheduled task {name!r} (known: {known})")
    return cast(TaskModule, importlib.import_module(module_name))


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    name = str(event.get("task", ""))
    summary = task_module(name).run(event, context)
    logger.info("scheduled task done", extra={"task": name, "summary": summary})
    return summary
