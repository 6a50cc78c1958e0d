"""Where log lines go: never stdout, which carries only the command's result (a table or JSON).

The handler logs through powertools, whose Logger writes to sys.stdout as Lambda expects; the local
commands run that handler in this process, so its lines would land in the middle of `--output json`.
`route_logs` moves every stream handler that writes to stdout onto stderr (or the `--log-file`), and
`guard_stdout` makes every handler added later (a Logger binds its stream when it is built, and the
handler's modules are imported while a command runs) start on the log target too.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Final

LOG_FILE_VARIABLE: Final = "E2P_LOG_FILE"

_target: list[IO[str]] = []
_STDERR_LAST_RESORT = logging.lastResort


def set_log_target(stream: IO[str]) -> None:
    """Where library and handler logs go for the rest of the process (default: stderr)."""
    _target[:] = [stream]
    route_logs()


def log_target() -> IO[str]:
    return _target[0] if _target else sys.stderr


def _all_loggers() -> list[logging.Logger]:
    loggers = [logging.getLogger()]
    loggers += [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    return loggers


def route_logs() -> int:
    """Point every stdout stream handler at the log target; returns how many were moved."""
    target = log_target()
    stdouts = {id(sys.stdout), id(sys.__stdout__)}
    moved = 0
    for logger in _all_loggers():
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in stdouts:
                handler.setStream(target)
                moved += 1
    # Warnings of loggers without a handler (the local AWS, the local Panther) follow the file.
    if target is sys.stderr:
        logging.lastResort = _STDERR_LAST_RESORT
    elif getattr(logging.lastResort, "stream", None) is not target:
        last_resort = logging.StreamHandler(target)
        last_resort.setLevel(logging.WARNING)
        logging.lastResort = last_resort
    return moved


def _writes_to_stdout(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return (
        isinstance(handler, logging.StreamHandler)
        and stream is not None
        and (stream is sys.stdout or stream is sys.__stdout__)
    )


def guard_stdout() -> None:
    """From now on, a stream handler added to any logger of this process never writes to stdout
    (idempotent). Only the CLI calls it: in Lambda, stdout is where logs belong."""
    if getattr(logging.Logger.addHandler, "_e2p_guard", False):
        return
    original = logging.Logger.addHandler

    def add_handler(self: logging.Logger, handler: logging.Handler) -> None:
        if _writes_to_stdout(handler):
            handler.setStream(log_target())  # type: ignore[attr-defined]
        original(self, handler)

    add_handler._e2p_guard = True  # type: ignore[attr-defined]
    logging.Logger.addHandler = add_handler  # type: ignore[method-assign]
