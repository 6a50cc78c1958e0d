"""The registry of mappers, keyed on (source, detail-type), and the one place that calls them.

A mapper is a pure function Envelope -> Sequence[Alert] | Filtered. Register it with
`@mapper("aws.guardduty", "GuardDuty Finding")`; `ANY_SOURCE` registers a detail-type for every
source (CloudTrail's "AWS API Call via CloudTrail" is emitted under each service's source).

Order: a hand-written mapper first (it holds logic an entry cannot express), then the declarative
entries of the pair (handler.mappings: built-in and organisation files), then the generic mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from handler.alert import Alert, Filtered, MapResult, MapStatus
from handler.envelope import Envelope

Mapper: TypeAlias = Callable[[Envelope], Sequence[Alert] | Filtered]

ANY_SOURCE = "*"
# Registers a mapper for every detail-type of one source; it wins over any other mapper of that source
# (a source whose events anyone may send, such as the product's test events, must not reach the generic
# mapping through an unexpected detail-type).
ANY_DETAIL_TYPE = "*"
GENERIC_NAME = "generic"

_REGISTRY: dict[tuple[str, str], Mapper] = {}


def mapper(source: str, *detail_types: str) -> Callable[[Mapper], Mapper]:
    """Register the decorated function for `source` and each of `detail_types`."""

    def register(func: Mapper) -> Mapper:
        for detail_type in detail_types:
            key = (source, detail_type)
            if key in _REGISTRY:
                raise ValueError(f"two mappers registered for {key}")
            _REGISTRY[key] = func
        return func

    return register


def registered_keys() -> list[tuple[str, str]]:
    return sorted(_REGISTRY)


def lookup(envelope: Envelope) -> Mapper | None:
    return (
        _REGISTRY.get((envelope.source, ANY_DETAIL_TYPE))
        or _REGISTRY.get((envelope.source, envelope.detail_type))
        or _REGISTRY.get((ANY_SOURCE, envelope.detail_type))
    )


def map_envelope(
    envelope: Envelope, generic: Mapper, declarative: Callable[[Envelope], Mapper | None] | None = None
) -> MapResult:
    """Run the registered mapper for the envelope, else its declarative entries (`declarative`
    gives them, or None), else `generic`."""
    func = lookup(envelope)
    if func is None and declarative is not None:
        func = declarative(envelope)
    if func is None:
        return _run_generic(envelope, generic, reason="no mapper registered")
    try:
        produced = func(envelope)
    except Exception as exc:  # noqa: BLE001
        # A mapper reads AWS's evolving schemas; when one trips on a shape it did not expect,
        # the event must still reach Panther, so the generic mapping takes over and the reason is
        # kept for the log. This is the only place a mapper's error is caught. The reason names the
        # mapper (the family) and the exception's type only: its message can quote event values.
        return _run_generic(envelope, generic, reason=f"{func.__name__} failed: {type(exc).__name__}")
    if isinstance(produced, Filtered):
        return MapResult(MapStatus.FILTERED, (), produced.reason, mapped_by=func.__name__)
    if not produced:
        return _run_generic(envelope, generic, reason=f"{func.__name__} returned no alert")
    return MapResult(MapStatus.MAPPED, tuple(produced), mapped_by=func.__name__)


def _run_generic(envelope: Envelope, generic: Mapper, reason: str) -> MapResult:
    produced = generic(envelope)
    if isinstance(produced, Filtered):
        return MapResult(MapStatus.FILTERED, (), produced.reason, mapped_by=GENERIC_NAME)
    return MapResult(MapStatus.GENERIC, tuple(produced), reason, mapped_by=GENERIC_NAME)
