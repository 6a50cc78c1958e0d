"""JMESPath expressions and summary templates, compiled once when a mappings file is loaded.

An expression reads the event as JSON (`source`, `detail-type`, `account`, `region`, `id`, `time`,
`resources`, `detail`): JMESPath can only read, has no assignment, no user functions and no
unbounded loops, so a mappings file cannot run code. A plain path (`detail."build-status"`,
`resources[0]`) -- nearly every expression of a mappings file -- is turned into a direct walk over
dicts and lists, which gives JMESPath's answer several times faster than its tree interpreter; any
other expression keeps JMESPath's compiled form.

A template is text with `{expression}` placeholders (`{{` and `}}` write braces); a value is shown
as text (a list of scalars joined with ", "; objects and null as nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import jmespath
from jmespath.exceptions import JMESPathError

from handler.envelope import is_mapping
from handler.mappers import json_values as jv

Getter = Callable[[Mapping[str, Any]], Any]
PathStep = str | int
LIST_SEPARATOR: Final = ", "


class ExpressionError(ValueError):
    """An expression or a template that does not compile; the message says where."""


@dataclass(frozen=True, slots=True)
class Expression:
    text: str
    search: Getter
    # The plain path when the expression is one (the fast walk), else None.
    path: tuple[PathStep, ...] | None


def _plain_path(node: Mapping[str, Any]) -> tuple[PathStep, ...] | None:
    """The steps of a field/sub-expression/index chain, or None for anything else."""
    kind = node.get("type")
    if kind == "field":
        return (str(node["value"]),)
    if kind == "subexpression":
        steps: list[PathStep] = []
        for child in node["children"]:
            part = _plain_path(child)
            if part is None:
                return None
            steps.extend(part)
        return tuple(steps)
    if kind == "index_expression":
        left, right = node["children"]
        head = _plain_path(left)
        if head is None or right.get("type") != "index":
            return None
        return (*head, int(right["value"]))
    return None


def _walker(path: tuple[PathStep, ...]) -> Getter:
    """A function giving what JMESPath gives for the plain path: null for a missing key, for a key
    of a non-object, for an index of a non-list or out of range (negative counts from the end)."""
    if len(path) == 2 and type(path[0]) is str and type(path[1]) is str:
        # `detail.<key>`: most expressions of a mappings file. Decoded JSON objects are dicts.
        first, second = str(path[0]), str(path[1])

        def walk_two(data: Mapping[str, Any]) -> Any:
            value = data.get(first)
            if type(value) is dict or is_mapping(value):
                return value.get(second)
            return None

        return walk_two

    def walk(data: Mapping[str, Any]) -> Any:
        value: Any = data
        for step in path:
            kind = type(value)
            if kind is list:
                if type(step) is not int or not -len(value) <= step < len(value):
                    return None
                value = value[step]
            elif type(step) is str and (kind is dict or is_mapping(value)):
                value = value.get(step)
            else:
                return None
            if value is None:
                return None
        return value

    return walk


# A plain path as this module reads it without JMESPath's parser (which costs ~0.1 ms an expression
# at cold start): dotted identifiers or "quoted identifiers" (no escapes), each with [n] indexes.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r'"[^"\\]*"'
_SEGMENT = re.compile(rf"({_IDENTIFIER}|{_QUOTED})((?:\[-?[0-9]+\])*)")
_INDEX = re.compile(r"\[(-?[0-9]+)\]")


def plain_path(text: str) -> tuple[PathStep, ...] | None:
    """The steps of `text` when it is a plain path (`detail."build-status"`, `resources[0]`), else None."""
    steps: list[PathStep] = []
    for part_number, part in enumerate(_split_dots(text.strip())):
        match = _SEGMENT.fullmatch(part)
        if match is None or (part_number == 0 and not part):
            return None
        name, indexes = match.groups()
        steps.append(name[1:-1] if name.startswith('"') else name)
        steps.extend(int(index) for index in _INDEX.findall(indexes))
    return tuple(steps) or None


def _split_dots(text: str) -> list[str]:
    """`a."b.c"[0].d` -> ['a', '"b.c"[0]', 'd']: dots outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def compile_expression(text: str) -> Expression:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    path = plain_path(text)
    if path is not None:
        return Expression(text, _walker(path), path)
    try:
        parsed = jmespath.compile(text)
    except JMESPathError as exc:
        raise ExpressionError(f"not a JMESPath expression: {text!r} ({_first_line(exc)})") from exc
    path = _plain_path(parsed.parsed)
    if path is not None:
        return Expression(text, _walker(path), path)
    return Expression(text, parsed.search, None)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def as_text(value: Any) -> str:
    """A value as one piece of text: scalars as jv.text, a list of scalars joined, else ""."""
    if type(value) is list:
        return LIST_SEPARATOR.join(jv.texts(value))
    return jv.text(value)


def truthy(value: Any) -> bool:
    """JMESPath's truth: false, null, and empty strings, lists and objects are false."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return bool(value)
    return True


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    # Literal text and expressions, in order.
    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(part for part in self.parts if isinstance(part, Expression))

    def render(self, data: Mapping[str, Any]) -> str:
        return "".join(
            part if type(part) is str else as_text(part.search(data))  # type: ignore[union-attr]
            for part in self.parts
        )


def compile_template(text: str) -> Template:
    """`"CodeBuild project {detail.\"project-name\"} build failed"` -> a Template."""
    if not isinstance(text, str):
        raise ExpressionError("a template must be a string")
    parts: list[str | Expression] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "{}" and text[index : index + 2] in ("{{", "}}"):
            literal.append(char)
            index += 2
            continue
        if char == "}":
            raise ExpressionError(
                f"unmatched '}}' at position {index} of {text!r} (write '}}}}' for a brace)"
            )
        if char == "{":
            end = text.find("}", index + 1)
            if end == -1:
                raise ExpressionError(f"unclosed '{{' at position {index} of {text!r}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(compile_expression(text[index + 1 : end]))
            index = end + 1
            continue
        literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def expression_texts(parts: Sequence[str | Expression]) -> list[str]:
    return [part.text.strip() for part in parts if isinstance(part, Expression)]
