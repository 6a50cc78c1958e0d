"""A progress line every few seconds while a long command works (stderr: stdout is the result)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final

DEFAULT_INTERVAL_S: Final = 5.0


class Ticker:
    """Calls `report()` every `interval_s` on a daemon thread until the block ends."""

    def __init__(self, report: Callable[[], None], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self._report = report
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2p-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._report()

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval_s + 1)
