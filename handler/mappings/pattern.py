"""EventBridge-style patterns on `detail`, to narrow a mapping entry to some events of its pair.

The subset of EventBridge's content filtering a mapping needs, with its semantics
(docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): a pattern is an
object whose keys must all match (AND); a key's value is a nested pattern or a list of matchers of
which one must match (OR); when the event's value is a list, one element matching is enough; a
missing key matches only `{"exists": false}`. Matchers: a literal (string, number, boolean, null),
`{"prefix": s}`, `{"suffix": s}`, `{"equals-ignore-case": s}`, `{"anything-but": literal, list,
{"prefix": s} or {"suffix": s}}`, `{"exists": bool}`, `{"numeric": [op, n, (op, n)]}`. Anything else
is refused when the file is loaded.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from handler.envelope import is_mapping

Matcher = Callable[[Any, bool], bool]  # (value, present) -> matches
Predicate = Callable[[Mapping[str, Any]], bool]
_MISSING: Final = object()
_NUMERIC_OPS: Final = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


class PatternError(ValueError):
    """A pattern that is not one this subset understands; the message names the key."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_literal(expected: Any, value: Any) -> bool:
    # JSON equality: true is not 1, and 1 is 1.0.
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(expected) is type(value) and expected == value
    if _is_number(expected):
        return _is_number(value) and float(expected) == float(value)
    return bool(expected == value)


def _any_element(test: Callable[[Any], bool]) -> Matcher:
    def match(value: Any, present: bool) -> bool:
        if not present:
            return False
        if type(value) is list:
            return any(test(item) for item in value)
        return test(value)

    return match


def _string_test(kind: str, argument: Any, where: str) -> Callable[[Any], bool]:
    if not isinstance(argument, str):
        raise PatternError(f"{where}: '{kind}' takes a string")
    if kind == "prefix":
        return lambda v: isinstance(v, str) and v.startswith(argument)
    if kind == "suffix":
        return lambda v: isinstance(v, str) and v.endswith(argument)
    folded = argument.casefold()
    return lambda v: isinstance(v, str) and v.casefold() == folded


def _numeric_test(argument: Any, where: str) -> Callable[[Any], bool]:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise PatternError(f"{where}: 'numeric' takes [op, number] or [op, number, op, number]")
    checks = []
    for op, bound in zip(argument[::2], argument[1::2], strict=True):
        if op not in _NUMERIC_OPS or not _is_number(bound):
            raise PatternError(f"{where}: 'numeric' comparisons are <, <=, =, >=, > with a number")
        checks.append((_NUMERIC_OPS[op], float(bound)))
    return lambda v: _is_number(v) and all(compare(float(v), bound) for compare, bound in checks)


def _anything_but(argument: Any, where: str) -> Matcher:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in ("prefix", "suffix"):
            raise PatternError(f"{where}: 'anything-but' takes a value, a list, or {{prefix|suffix: s}}")
        kind, text = next(iter(argument.items()))
        test = _string_test(kind, text, where)
        return lambda v, present: present and not (any(test(i) for i in v) if type(v) is list else test(v))
    values = argument if isinstance(argument, list) else [argument]
    for value in values:
        if isinstance(value, dict | list):
            raise PatternError(f"{where}: 'anything-but' values must be literals")

    def excluded(item: Any) -> bool:
        return any(_same_literal(v, item) for v in values)

    return lambda v, present: (
        present and not (any(excluded(i) for i in v) if type(v) is list else excluded(v))
    )


def _matcher(spec: Any, where: str) -> Matcher:
    if not isinstance(spec, dict):
        if isinstance(spec, list):
            raise PatternError(f"{where}: a list inside a list of matchers")
        return _any_element(lambda v: _same_literal(spec, v))
    if len(spec) != 1:
        raise PatternError(f"{where}: a matcher object has exactly one operator, not {sorted(spec)}")
    kind, argument = next(iter(spec.items()))
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        return _any_element(_string_test(kind, argument, where))
    if kind == "numeric":
        return _any_element(_numeric_test(argument, where))
    if kind == "exists":
        if not isinstance(argument, bool):
            raise PatternError(f"{where}: 'exists' takes true or false")
        return lambda v, present: present is argument
    if kind == "anything-but":
        return _anything_but(argument, where)
    raise PatternError(f"{where}: unknown operator {kind!r}")


def compile_pattern(pattern: Any, where: str = "match") -> Predicate:
    """A predicate over an object (the event's `detail`). Raises PatternError naming the key."""
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError(f"{where}: a pattern is a non-empty object of keys")
    checks: list[tuple[str, Predicate | None, tuple[Matcher, ...]]] = []
    for key, spec in pattern.items():
        at = f"{where}.{key}"
        if isinstance(spec, dict):
            checks.append((str(key), compile_pattern(spec, at), ()))
        elif isinstance(spec, list) and spec:
            checks.append((str(key), None, tuple(_matcher(item, at) for item in spec)))
        else:
            raise PatternError(f"{at}: expected a non-empty list of matchers or a nested pattern")

    def matches(obj: Mapping[str, Any]) -> bool:
        for key, nested, matchers in checks:
            value = obj.get(key, _MISSING) if is_mapping(obj) else _MISSING
            present = value is not _MISSING
            if nested is not None:
                if not (present and is_mapping(value) and nested(value)):
                    return False
            elif not any(m(value, present) for m in matchers):
                return False
        return True

    return matches
