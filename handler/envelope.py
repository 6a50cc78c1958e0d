"""A typed, read-only view of an EventBridge envelope, and its validation.

Mappers read `envelope.detail_type`, never `event["detail-type"]`: the raw keys are read here only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import orjson

from handler.exceptions import InvalidEnvelopeError

UNKNOWN = "unknown"


# What decoded JSON holds besides objects: known not to be mappings without asking Mapping.
_JSON_NON_OBJECTS: Final = frozenset({str, int, float, bool, list, type(None)})


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object. Decoded JSON gives dicts and the types above: exact-type checks answer them
    without the (much slower) abstract-class check, which stays for other mappings."""
    kind = type(value)
    if kind is dict:
        return True
    return kind not in _JSON_NON_OBJECTS and isinstance(value, Mapping)


@dataclass(frozen=True, slots=True)
class Envelope:
    source: str
    detail_type: str
    detail: Mapping[str, Any]
    id: str = UNKNOWN
    account: str = UNKNOWN
    region: str = UNKNOWN
    time: str = ""
    resources: tuple[str, ...] = field(default_factory=tuple)

    def text(self, *path: str, default: str = "") -> str:
        """The value at `path` inside `detail` as a string, or `default` when absent or not scalar."""
        value: Any = self.detail
        for key in path:
            if not is_mapping(value):
                return default
            value = value.get(key)
        if isinstance(value, str):
            return value
        if value is None or is_mapping(value) or isinstance(value, list):
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def section(self, *path: str) -> Mapping[str, Any]:
        """The object at `path` inside `detail`, or an empty mapping."""
        value: Any = self.detail
        for key in path:
            if not is_mapping(value):
                return {}
            value = value.get(key)
        return value if is_mapping(value) else {}


def _optional_text(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidEnvelopeError(f"'{key}' is {type(value).__name__}, not a string")
    return value or default


# A tuple, not `str | int`: that expression builds a new union object on every evaluation.
_RESOURCE_TYPES: Final = (str, int)


def envelope_from_object(raw: object) -> Envelope:
    """Validate a decoded envelope. Raises InvalidEnvelopeError naming what is wrong."""
    if not is_mapping(raw):
        raise InvalidEnvelopeError(f"envelope is a JSON {type(raw).__name__}, not an object")
    source = raw.get("source")
    detail_type = raw.get("detail-type")
    if not isinstance(source, str) or not source:
        raise InvalidEnvelopeError("missing 'source' (not an EventBridge envelope)")
    if not isinstance(detail_type, str) or not detail_type:
        raise InvalidEnvelopeError("missing 'detail-type' (not an EventBridge envelope)")
    if "detail" not in raw:
        raise InvalidEnvelopeError("missing 'detail'")
    detail = raw["detail"]
    if not is_mapping(detail):
        raise InvalidEnvelopeError(f"'detail' is a JSON {type(detail).__name__}, not an object")
    resources_raw = raw.get("resources") or []
    if not isinstance(resources_raw, list):
        raise InvalidEnvelopeError("'resources' is not a list")
    return Envelope(
        source=source,
        detail_type=detail_type,
        detail=detail,
        id=_optional_text(raw, "id", UNKNOWN),
        account=_optional_text(raw, "account", UNKNOWN),
        region=_optional_text(raw, "region", UNKNOWN),
        time=_optional_text(raw, "time", ""),
        # Most envelopes list no resource or one: skip the generator when there is none.
        resources=tuple(str(r) for r in resources_raw if isinstance(r, _RESOURCE_TYPES))
        if resources_raw
        else (),
    )


def decode_json(body: str | bytes) -> Any:
    """JSON text -> Python values, as `json.loads` decodes it, several times faster.

    orjson gives the same values as the standard library for what it accepts, except integers
    beyond 64 bits, which it reads as floats (AWS sends none: its numbers are Java longs and
    doubles). What it refuses and the standard library accepts (NaN and Infinity, lone surrogates
    such as a "\\ud800" escape, a UTF-8 byte-order mark or UTF-16 bytes) is decoded again by the
    standard library, so that no body accepted before is refused now and every error message is
    the standard library's. Raises ValueError (JSONDecodeError) or RecursionError.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def envelope_from_text(body: str | bytes) -> Envelope:
    """Decode an SQS message body (JSON text) into an Envelope."""
    try:
        raw = decode_json(body)
    except (ValueError, RecursionError) as exc:
        # RecursionError: pathologically nested JSON must be a result, not a crash.
        raise InvalidEnvelopeError(f"body is not valid JSON: {str(exc)[:120]}") from exc
    return envelope_from_object(raw)
