"""Which requests see the fidelity patches.

Every moto backend lives in process-global state, and a faithful server and a plain one
(`LocalAws(fidelity=False)`, used to prove that moto still shows a gap) can run in the same
process. Each patched function therefore asks `active()` before doing anything different from
moto: the server's WSGI middleware sets the mode for the thread that handles a request. Anything
else in the process (another test's in-process `mock_aws`, say) keeps plain moto, so installing
the patches never changes code that did not ask for them; `emit_aws_event` and callers that drive
moto's backends directly use `mode(True)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_state = threading.local()


def active() -> bool:
    """True when the current thread should see AWS behaviour rather than plain moto's."""
    return bool(getattr(_state, "active", False))


@contextmanager
def mode(faithful: bool) -> Iterator[None]:
    """Run the enclosed code with the patches switched on or off for this thread only."""
    previous = getattr(_state, "active", None)
    _state.active = faithful
    try:
        yield
    finally:
        if previous is None:
            del _state.active
        else:
            _state.active = previous


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ModeMiddleware:
    """WSGI middleware that runs every request of one server in the given mode.

    moto's Flask apps build the whole response inside the call, so the body is materialised
    while the mode is still set.
    """

    def __init__(self, app: WsgiApp, faithful: bool) -> None:
        self._app = app
        self._faithful = faithful

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with mode(self._faithful):
            return list(self._app(environ, start_response))
