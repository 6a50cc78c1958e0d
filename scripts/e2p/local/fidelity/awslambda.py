"""Lambda: moto must never run, or pretend to run, the function.

The local mode runs the real handler in-process itself (e2p.local.event_source) with the SQS
event source mapping's semantics. moto 5.2.5, on every SendMessage to a queue with a mapping,
receives a batch itself, "invokes" the function without Docker (it only echoes the input) and
deletes the messages: the events would vanish before the real handler saw them. Restored: a
queue never hands its messages to a mapping inside moto; CreateEventSourceMapping,
GetEventSourceMapping and ListEventSourceMappings keep working (the local runner reads
BatchSize, MaximumBatchingWindowInSeconds, ScalingConfig and FunctionResponseTypes from them).
Also restored: Lambda's batching-window and reserved-concurrency limits and GetAccountSettings
(see `install_limits`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from e2p.local.fidelity import patching, switch

_STORE = "_e2p_event_source_mappings"


def _get(queue: Any) -> dict[str, Any]:
    if not switch.active():
        store: dict[str, Any] = queue.__dict__.setdefault(_STORE, {})
        return store
    # A fresh dict each time: moto's send path iterates nothing and registrations vanish.
    return {}


def _set(queue: Any, value: dict[str, Any]) -> None:
    queue.__dict__[_STORE] = value


def install() -> None:
    """Install the Lambda patch into this process (idempotent)."""
    from moto.sqs.models import Queue

    if patching.is_patched(Queue, "lambda_event_source_mappings"):
        install_limits()
        return
    patching.claim(Queue, "lambda_event_source_mappings")
    Queue.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]
    install_limits()


# --- limits Lambda enforces and moto 5.2.5 does not ---------------------------------------------
#
# - CreateEventSourceMapping / UpdateEventSourceMapping for SQS: "when you set BatchSize to a value
#   greater than 10, you must set MaximumBatchingWindowInSeconds to at least 1" (Lambda API
#   Reference); moto accepts any batch size up to 10,000 without a window.
# - Reserved concurrency (CreateFunction's ReservedConcurrentExecutions, PutFunctionConcurrency):
#   "you can reserve concurrency ... as long as you leave at least 100 simultaneous executions
#   unreserved" (PutFunctionConcurrency); an account whose quota is below 100 (new accounts: 10)
#   cannot reserve at all (its minimum is its whole quota, as AWS's error "below its minimum value
#   of [N]" shows). The local quota is moto's own knob MOTO_LAMBDA_CONCURRENCY_QUOTA (default 1000,
#   AWS's default); moto enforces it only in PutFunctionConcurrency, with a fixed 100, and never on
#   CreateFunction (which is how CloudFormation reserves).
# - GetAccountSettings (moto has no such action): the quota and what is left unreserved.

SQS_BATCH_WITHOUT_WINDOW = 10
DEFAULT_CONCURRENCY_QUOTA = 1000
MINIMUM_UNRESERVED = 100
QUOTA_VARIABLE = "MOTO_LAMBDA_CONCURRENCY_QUOTA"
ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"


def concurrency_quota() -> int:
    return int(os.environ.get(QUOTA_VARIABLE) or DEFAULT_CONCURRENCY_QUOTA)


def minimum_unreserved(quota: int) -> int:
    return min(MINIMUM_UNRESERVED, quota)


def _invalid(message: str) -> Exception:
    from moto.awslambda.exceptions import InvalidParameterValueException

    return InvalidParameterValueException(message)


def _reserved_elsewhere(backend: Any, function_name: str) -> int:
    return sum(
        int(fn.reserved_concurrency)
        for fn in backend.list_functions()
        if fn.reserved_concurrency and fn.function_name != function_name
    )


def _check_reservation(backend: Any, function_name: str, reserved: Any) -> None:
    if reserved is None or reserved == "":
        return
    quota = concurrency_quota()
    floor = minimum_unreserved(quota)
    unreserved = quota - _reserved_elsewhere(backend, function_name) - int(reserved)
    if unreserved < floor:
        raise _invalid(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
        )


def _check_batching(backend: Any, spec: dict[str, Any], current: Any = None) -> None:
    source = str(spec.get("EventSourceArn") or getattr(current, "event_source_arn", "") or "")
    if ":sqs:" not in source:
        return
    size = spec.get("BatchSize", getattr(current, "batch_size", None))
    window = spec.get(
        "MaximumBatchingWindowInSeconds", getattr(current, "maximum_batching_window_in_seconds", None)
    )
    if size is not None and int(size) > SQS_BATCH_WITHOUT_WINDOW and not int(window or 0):
        raise _invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )


def _create_function(original: Any, backend: Any, spec: dict[str, Any]) -> Any:
    _check_reservation(backend, str(spec.get("FunctionName", "")), spec.get("ReservedConcurrentExecutions"))
    return original(backend, spec)


def _put_function_concurrency(original: Any, backend: Any, function_name: str, reserved: str) -> Any:
    name = backend.get_function(function_name).function_name
    _check_reservation(backend, name, reserved)
    # moto's own check (fixed minimum 100) would refuse what AWS accepts below a quota of 100.
    saved = os.environ.pop(QUOTA_VARIABLE, None)
    try:
        return original(backend, function_name, reserved)
    finally:
        if saved is not None:
            os.environ[QUOTA_VARIABLE] = saved


def _create_event_source_mapping(original: Any, backend: Any, spec: dict[str, Any]) -> Any:
    _check_batching(backend, spec)
    return original(backend, spec)


def _update_event_source_mapping(original: Any, backend: Any, uuid: str, spec: dict[str, Any]) -> Any:
    _check_batching(backend, spec, backend.get_event_source_mapping(uuid))
    return original(backend, uuid, spec)


def account_settings(backend: Any) -> dict[str, Any]:
    quota = concurrency_quota()
    reserved = _reserved_elsewhere(backend, "")
    return {
        "AccountLimit": {
            "ConcurrentExecutions": quota,
            "UnreservedConcurrentExecutions": quota - reserved,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "TotalCodeSize": 80530636800,
        },
        "AccountUsage": {"FunctionCount": len(backend.list_functions()), "TotalCodeSize": 0},
    }


def _get_account_settings(response: Any) -> Any:
    return 200, {}, json.dumps(account_settings(response.backend))


def install_limits() -> None:
    """Install Lambda's limits and GetAccountSettings into this process (idempotent)."""
    from moto.awslambda import models, responses, urls

    patching.replace(models.LambdaBackend, "create_function", _create_function)
    patching.replace(models.LambdaBackend, "put_function_concurrency", _put_function_concurrency)
    patching.replace(models.LambdaBackend, "create_event_source_mapping", _create_event_source_mapping)
    patching.replace(models.LambdaBackend, "update_event_source_mapping", _update_event_source_mapping)
    urls.url_paths.setdefault(ACCOUNT_SETTINGS_PATH, responses.LambdaResponse.dispatch)
    patching.add_method(responses.LambdaResponse, "get_account_settings", _get_account_settings)
