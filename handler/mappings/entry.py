"""A compiled mapping entry: what one (source, detail-type[, pattern]) gives, evaluated per event.

Everything an entry needs is compiled when the file is loaded (handler.mappings.loader); per event
it only walks paths, looks words up in dicts and renders templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.stable_text import stable
from handler.mappings.expressions import Expression, Template, as_text, truthy
from handler.mappings.pattern import Predicate
from handler.severity import Severity

UNNAMED_SUMMARY = "unnamed event"


def event_data(envelope: Envelope) -> dict[str, Any]:
    """The event as the expressions read it: the envelope's keys, as EventBridge writes them."""
    return {
        "id": envelope.id,
        "source": envelope.source,
        "detail-type": envelope.detail_type,
        "account": envelope.account,
        "region": envelope.region,
        "time": envelope.time,
        "resources": list(envelope.resources),
        "detail": envelope.detail,
    }


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """Rules in order (the first true `if` wins), then the value's word looked up (case-insensitive:
    clear words give 0), then the default."""

    value: Expression | None = None
    levels: Mapping[str, Severity] | None = None
    rules: tuple[tuple[Expression, Severity], ...] = ()
    default: Severity = Severity.INDETERMINATE

    def level(self, data: Mapping[str, Any]) -> Severity:
        for test, level in self.rules:
            if truthy(test.search(data)):
                return level
        if self.value is not None and self.levels:
            word = as_text(self.value.search(data)).upper()
            found = self.levels.get(word)
            if found is not None:
                return found
        return self.default


@dataclass(frozen=True, slots=True)
class CompiledEntry:
    origin: str  # "<file> entry <n>": what logs and `e2p map` name
    source: str
    detail_type: str
    match: Predicate | None
    filtered: str = ""  # the reason, for an entry that sends nothing
    tag: str = ""
    summary: Template | None = None
    severity: SeverityRule = SeverityRule()
    resource: Expression | None = None
    resource_arn: Expression | None = None
    identifier: Expression | None = None
    fields: tuple[tuple[str, Expression], ...] = ()
    # The entry as a registry mapper (Envelope -> alerts), named by its origin: made once, here.
    run: Callable[[Envelope], Sequence[Alert] | Filtered] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def run(envelope: Envelope) -> Sequence[Alert] | Filtered:
            return self.apply(event_data(envelope))

        run.__name__ = self.origin
        object.__setattr__(self, "run", run)

    def matches(self, envelope: Envelope) -> bool:
        return self.match is None or self.match(envelope.detail)

    def apply(self, data: Mapping[str, Any]) -> list[Alert] | Filtered:
        if self.filtered:
            return Filtered(self.filtered)
        level = self.severity.level(data)
        resources = data["resources"]
        first_resource = jv.text(resources[0]) if resources else ""
        named = as_text(self.resource.search(data)) if self.resource is not None else first_resource
        full = as_text(self.resource_arn.search(data)) if self.resource_arn is not None else ""
        full = full or first_resource or named
        identifier = external_id = ""
        if self.identifier is not None:
            external_id = as_text(self.identifier.search(data))
            # As the finding families do: repeats aggregate on the id, a new severity is a new alert.
            identifier = f"{external_id}:{int(level)}" if external_id else ""
        summary = self.summary.render(data) if self.summary is not None else ""
        return [
            Alert(
                summary=stable(summary) or UNNAMED_SUMMARY,
                severity=level,
                tag=self.tag or self.detail_type,
                resource=short_name(named),
                resource_arn=full,
                identifier=identifier or None,
                external_id=external_id,
                fields=jv.present([(name, as_text(expr.search(data))) for name, expr in self.fields]),
            )
        ]
