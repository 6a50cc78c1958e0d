"""Lambda asynchronous invokes: queued for the function, as Lambda does, never "run" by moto.

`Invoke` with `InvocationType=Event` puts the request on the function's internal queue and answers
202 at once; Lambda runs the function later. moto 5.2.5 instead tries to run the function in
Docker inside the request (without Docker it logs an error and still answers 202), so the request
is lost. Restored: in faithful mode the request is appended to this process's queue of
asynchronous invocations (function name, payload), and moto runs nothing. The local mode hands
the queued requests to the function it hosts in-process (`take`, e.g. the scheduled function's
directory-refresh requests from the forwarder), between its phases.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from e2p.local.fidelity import patching

_lock = threading.Lock()
_queued: list[tuple[str, dict[str, Any]]] = []
EVENT = "Event"


def _invoke(original: Any, function: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
    kind = request_headers.get("x-amz-invocation-type") or request_headers.get("X-Amz-Invocation-Type")
    if kind != EVENT:
        return original(function, body, request_headers, response_headers)
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {"raw": str(body)}
    with _lock:
        _queued.append(
            (str(function.function_name), payload if isinstance(payload, dict) else {"raw": payload})
        )
    return b""  # the responses layer answers 202 with an empty body, as Lambda does


def take(function_name: str) -> list[dict[str, Any]]:
    """Remove and return the payloads queued for `function_name`, oldest first."""
    with _lock:
        mine = [payload for name, payload in _queued if name == function_name]
        _queued[:] = [(name, payload) for name, payload in _queued if name != function_name]
    return mine


def clear() -> None:
    with _lock:
        _queued.clear()


def install() -> None:
    """Install the asynchronous-invoke patch into this process (idempotent)."""
    from moto.awslambda.models import LambdaFunction

    patching.replace(LambdaFunction, "invoke", _invoke)
