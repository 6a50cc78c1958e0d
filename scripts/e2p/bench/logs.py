"""The handler's log lines during a run: formatted exactly as in Lambda, then counted and dropped.

Lambda writes the function's stdout to CloudWatch Logs; the bench writes the same lines to a sink
that only counts their bytes, so the formatting cost stays in the figures, the terminal stays
readable, and the volume (which CloudWatch Logs bills by the GB) is known.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

# The loggers the entry point configures: the powertools service logger and the package's own.
HANDLER_LOGGER_PREFIX: Final = "handler"
SERVICE_LOGGER: Final = "events2panther"


class CountingSink(io.TextIOBase):
    """A text stream that keeps nothing but the number of characters written."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0
        self.lines = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        self.lines += text.count("\n")
        return len(text)

    def writable(self) -> bool:
        return True


def _handler_loggers() -> list[logging.Logger]:
    names = [
        name
        for name in logging.Logger.manager.loggerDict
        if name in (SERVICE_LOGGER, HANDLER_LOGGER_PREFIX) or name.startswith(HANDLER_LOGGER_PREFIX + ".")
    ]
    return [logging.getLogger(name) for name in names]


@contextmanager
def counted_handler_logs() -> Iterator[CountingSink]:
    """While open, the stream handlers of the handler's loggers write to one CountingSink."""
    import handler.app  # noqa: F401 -- its import is what configures the loggers, as in Lambda

    sink = CountingSink()
    swapped: list[tuple[logging.StreamHandler[io.TextIOBase], object]] = []
    for logger in _handler_loggers():
        for log_handler in logger.handlers:
            if isinstance(log_handler, logging.StreamHandler):
                swapped.append((log_handler, log_handler.setStream(sink)))
    try:
        yield sink
    finally:
        for log_handler, previous in swapped:
            log_handler.setStream(previous)  # type: ignore[arg-type]
