"""Mappings documents -> compiled entries, with every malformed entry refused by name.

A document is `{"version": 1, "mappings": [entry, ...]}` (README "Declarative mappings" gives the
format). Each entry is checked key by key as it is compiled: an unknown key, a wrong type, an
expression that does not parse, a severity out of 0..5, a field name Panther reserves, an entry
that can never be reached, or a summary that would differ between an alert and its clear is refused
with the file, the entry (position, source and detail-type) and the key named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.mappings.entry import CompiledEntry, SeverityRule
from handler.mappings.exceptions import MappingsError
from handler.mappings.expressions import Expression, ExpressionError, compile_expression, compile_template
from handler.mappings.pattern import PatternError, compile_pattern
from handler.mappings.table import MappingTable
from handler.message import is_reserved_field
from handler.severity import Severity

FORMAT_VERSION: Final = 1
SEVERITY_NAMES: Final = {level.name.lower(): level for level in Severity}
ENTRY_KEYS: Final = frozenset(
    {
        "source",
        "detail-type",
        "description",
        "match",
        "filtered",
        "tag",
        "summary",
        "severity",
        "resource",
        "resource-arn",
        "identifier",
        "fields",
    }
)
# What an entry that only filters may carry besides its reason.
FILTER_KEYS: Final = frozenset({"source", "detail-type", "description", "match", "filtered"})
SEVERITY_KEYS: Final = frozenset({"value", "map", "clear", "rules", "default"})
RULE_KEYS: Final = frozenset({"if", "then"})
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Set from the envelope and the account for every message (handler.compose): an entry's field of
# the same name would hide the real value.
CONTEXT_FIELDS: Final = frozenset(
    {
        "account_id",
        "account_name",
        "account_alias",
        "ou_path",
        "region",
        "source",
        "detail_type",
        "resource",
        "event_id",
        "event_time",
        "external_id",
    }
)


class _Where:
    """The location prefix of an error message."""

    def __init__(self, origin: str, index: int, raw: Any) -> None:
        pair = ""
        if isinstance(raw, Mapping):
            pair = f" ({raw.get('source', '?')} / {raw.get('detail-type', '?')})"
        self.entry = f"{origin}: entry {index}{pair}"

    def error(self, key: str, problem: str) -> MappingsError:
        return MappingsError(f"{self.entry}: {key}: {problem}" if key else f"{self.entry}: {problem}")


def _text(raw: Mapping[str, Any], key: str, where: _Where, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise where.error(key, "required")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, "expected a non-empty string")
    return value


# `resource: null` says "no resource": the node is then the account and region (per-run names).
NO_RESOURCE: Final = compile_expression("''")


def _expression(raw: Mapping[str, Any], key: str, where: _Where) -> Expression | None:
    if key not in raw:
        return None
    if raw[key] is None and key == "resource":
        return NO_RESOURCE
    try:
        return compile_expression(raw[key])
    except ExpressionError as exc:
        raise where.error(key, str(exc)) from exc


def _level(value: Any, key: str, where: _Where) -> Severity:
    if isinstance(value, bool):
        raise where.error(
            key, "a severity is 0-5 or a name (clear, indeterminate, warning, minor, major, critical)"
        )
    if isinstance(value, int) and 0 <= value <= 5:
        return Severity(value)
    if isinstance(value, str) and value.strip().lower() in SEVERITY_NAMES:
        return SEVERITY_NAMES[value.strip().lower()]
    raise where.error(
        key, f"{value!r} is not a severity: 0-5 or clear, indeterminate, warning, minor, major, critical"
    )


def _word(value: Any, key: str, where: _Where) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(key, f"{value!r}: values are words or numbers")
    return str(value).strip().upper()


def _severity(raw: Any, where: _Where) -> SeverityRule:
    if raw is None:
        return SeverityRule()
    if not isinstance(raw, Mapping):
        return SeverityRule(default=_level(raw, "severity", where))
    unknown = set(raw) - SEVERITY_KEYS
    if unknown:
        raise where.error("severity", f"unknown keys {sorted(unknown)}; allowed: {sorted(SEVERITY_KEYS)}")
    value = _expression(raw, "value", _Sub(where, "severity"))
    levels = _levels(raw, where)
    if levels and value is None:
        raise where.error("severity", "map/clear need 'value': the expression whose word is looked up")
    rules: list[tuple[Expression, Severity]] = []
    raw_rules = raw.get("rules") or []
    if not isinstance(raw_rules, list):
        raise where.error("severity.rules", "expected a list of {if: expression, then: severity}")
    for number, rule in enumerate(raw_rules, start=1):
        key = f"severity.rules[{number}]"
        if not isinstance(rule, Mapping) or set(rule) != RULE_KEYS:
            raise where.error(key, "expected exactly {if: expression, then: severity}")
        try:
            test = compile_expression(rule["if"])
        except ExpressionError as exc:
            raise where.error(f"{key}.if", str(exc)) from exc
        rules.append((test, _level(rule["then"], f"{key}.then", where)))
    default = _level(raw.get("default", int(Severity.INDETERMINATE)), "severity.default", where)
    return SeverityRule(value, levels or None, tuple(rules), default)


def _levels(raw: Mapping[str, Any], where: _Where) -> dict[str, Severity]:
    """severity.map and severity.clear as one table of upper-cased words (clear words give 0)."""
    levels: dict[str, Severity] = {}
    mapped = raw.get("map") or {}
    if not isinstance(mapped, Mapping):
        raise where.error("severity.map", "expected an object of value: severity")
    for word, level in mapped.items():
        levels[_word(word, "severity.map", where)] = _level(level, f"severity.map.{word}", where)
    clear = raw.get("clear") or []
    if not isinstance(clear, list):
        raise where.error("severity.clear", "expected a list of the values that clear the alert")
    for word in clear:
        key = _word(word, "severity.clear", where)
        if key in levels and levels[key] is not Severity.CLEAR:
            raise where.error(
                "severity.clear", f"{word!r} is also mapped to {int(levels[key])} in severity.map"
            )
        levels[key] = Severity.CLEAR
    return levels


class _Sub(_Where):
    """A _Where whose keys are under a parent key."""

    def __init__(self, parent: _Where, prefix: str) -> None:
        self.entry = parent.entry
        self._prefix = prefix

    def error(self, key: str, problem: str) -> MappingsError:
        return MappingsError(f"{self.entry}: {self._prefix}.{key}: {problem}")


def _fields(raw: Any, where: _Where) -> tuple[tuple[str, Expression], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise where.error("fields", "expected an object of field name: expression")
    compiled = []
    for name, text in raw.items():
        key = f"fields.{name}"
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise where.error(
                key, "a field name is lower-case letters, digits and _ (starting with a letter)"
            )
        if is_reserved_field(name) or name in CONTEXT_FIELDS:
            raise where.error(key, f"{name!r} is reserved by Panther or set for every message")
        try:
            compiled.append((name, compile_expression(text)))
        except ExpressionError as exc:
            raise where.error(key, str(exc)) from exc
    return tuple(compiled)


def _check_clear_summary(entry: CompiledEntry, where: _Where) -> None:
    """A clear must carry the summary of the alert it clears: the summary cannot show the word
    that decides the severity, or an alert and its clear would differ (README "Clears")."""
    value = entry.severity.value
    if value is None or entry.summary is None or not entry.severity.levels:
        return
    if Severity.CLEAR not in entry.severity.levels.values():
        return
    shown = {part.text.strip() for part in entry.summary.expressions}
    if value.text.strip() in shown:
        raise where.error(
            "summary",
            f"shows {value.text.strip()!r}, the value whose words clear the alert: a clear must have the "
            "same summary as the alert it clears (name the problem; put the state in a field)",
        )


def compile_entry(raw: Any, origin: str, index: int) -> CompiledEntry:
    where = _Where(origin, index, raw)
    if not isinstance(raw, Mapping):
        raise where.error("", "an entry is an object")
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise where.error("", f"unknown keys {sorted(map(str, unknown))}; allowed: {sorted(ENTRY_KEYS)}")
    source = _text(raw, "source", where, required=True)
    detail_type = _text(raw, "detail-type", where, required=True)
    _text(raw, "description", where)
    match = None
    if "match" in raw:
        try:
            match = compile_pattern(raw["match"], "match")
        except PatternError as exc:
            raise where.error("", str(exc)) from exc
    if "filtered" in raw:
        reason = _text(raw, "filtered", where, required=True)
        extra = set(raw) - FILTER_KEYS
        if extra:
            raise where.error("filtered", f"an entry that filters sends nothing: remove {sorted(extra)}")
        return CompiledEntry(
            origin=f"{origin} entry {index}",
            source=source,
            detail_type=detail_type,
            match=match,
            filtered=reason,
        )
    summary_text = _text(raw, "summary", where, required=True)
    try:
        summary = compile_template(summary_text)
    except ExpressionError as exc:
        raise where.error("summary", str(exc)) from exc
    entry = CompiledEntry(
        origin=f"{origin} entry {index}",
        source=source,
        detail_type=detail_type,
        match=match,
        tag=_text(raw, "tag", where),
        summary=summary,
        severity=_severity(raw.get("severity"), where),
        resource=_expression(raw, "resource", where),
        resource_arn=_expression(raw, "resource-arn", where),
        identifier=_expression(raw, "identifier", where),
        fields=_fields(raw.get("fields"), where),
    )
    _check_clear_summary(entry, where)
    return entry


def compile_document(document: Any, origin: str) -> MappingTable:
    """A parsed mappings document (from YAML or JSON) -> its table. Raises MappingsError."""
    if not isinstance(document, Mapping):
        raise MappingsError(f"{origin}: expected an object with 'version' and 'mappings'")
    unknown = set(document) - {"version", "mappings"}
    if unknown:
        raise MappingsError(f"{origin}: unknown top-level keys {sorted(map(str, unknown))}")
    if document.get("version") != FORMAT_VERSION:
        raise MappingsError(
            f"{origin}: version: expected {FORMAT_VERSION}, found {document.get('version')!r}"
        )
    raw_entries = document.get("mappings")
    if not isinstance(raw_entries, list):
        raise MappingsError(f"{origin}: mappings: expected a list of entries")
    entries = [compile_entry(raw, origin, index) for index, raw in enumerate(raw_entries, start=1)]
    _check_reachable(entries, origin)
    return MappingTable.of(entries)


def _check_reachable(entries: Sequence[CompiledEntry], origin: str) -> None:
    """Entries of a pair are tried in order: one after an entry without `match` is never used."""
    catch_all: dict[tuple[str, str], CompiledEntry] = {}
    for entry in entries:
        pair = (entry.source, entry.detail_type)
        earlier = catch_all.get(pair)
        if earlier is not None:
            raise MappingsError(
                f"{entry.origin} ({pair[0]} / {pair[1]}): never used: {earlier.origin} has no 'match' "
                "and already maps every event of this pair (put narrower entries first)"
            )
        if entry.match is None:
            catch_all[pair] = entry
