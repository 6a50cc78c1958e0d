"""Reading loosely typed JSON values the way AWS really sends them.

AWS event details are not schema-checked: a field documented as an object can arrive as a JSON
string (flattened CloudTrail records), a list can be null, a number can be a string. Mappers read
through these functions so that a surprising shape gives an empty value instead of an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, Final

from handler.envelope import is_mapping

EMPTY: Mapping[str, Any] = {}
# A tuple, not `list | tuple`: that expression builds a new union object on every evaluation, and
# these functions run dozens of times per event.
SEQUENCES: Final = (list, tuple)
_VALUE: Final = itemgetter(1)


def text(value: Any) -> str:
    """A scalar as text ("" for None, objects and lists); booleans as "true"/"false"."""
    if isinstance(value, str):  # by far the most common case: skip the ABC check below
        return value.strip()
    if value is None or is_mapping(value) or isinstance(value, SEQUENCES):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def mapping(value: Any) -> Mapping[str, Any]:
    """An object, also when it arrives JSON-encoded in a string; otherwise an empty mapping."""
    if is_mapping(value):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return EMPTY
        return decoded if is_mapping(decoded) else EMPTY
    return EMPTY


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list (other items skipped); a single object counts as a list of one."""
    if is_mapping(value):
        return [value]
    if isinstance(value, SEQUENCES):
        return [item for item in value if is_mapping(item)]
    return []


def texts(value: Any) -> list[str]:
    """The non-empty scalar items of a list, or the value itself when it is one scalar."""
    if isinstance(value, SEQUENCES):
        return [t for t in (text(item) for item in value) if t]
    single = text(value)
    return [single] if single else []


def at(value: Any, *path: str) -> Any:
    """The value at `path` through nested objects (JSON-encoded objects included), or None."""
    current = value
    for key in path:
        current = mapping(current).get(key)
        if current is None:
            return None
    return current


def first_text(source: Mapping[str, Any], *keys: str) -> str:
    """The first non-empty scalar among `keys` of `source`."""
    for key in keys:
        found = text(source.get(key))
        if found:
            return found
    return ""


def number(value: Any) -> float | None:
    """A number from an int, float or numeric string; None otherwise (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def flag(value: Any) -> bool | None:
    """A boolean from true/false or "true"/"false" (any case); None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def present(values: Mapping[str, str] | Sequence[tuple[str, str]]) -> dict[str, str]:
    """Only the entries with a non-empty value: Panther extra fields must be non-empty strings."""
    # An exact type check first: the abstract-class check costs more than the rest of the function.
    items = values.items() if type(values) is dict or isinstance(values, Mapping) else values
    # filter() with itemgetter keeps the loop in C: several times cheaper than a comprehension.
    return dict(filter(_VALUE, items))
