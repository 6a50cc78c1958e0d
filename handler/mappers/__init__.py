"""Mapping of EventBridge envelopes to alerts: one module per event family, plus the generic one.

Importing a family module registers its mappers; `FAMILY_MODULES` lists them so that adding a
family is one module plus one line here plus its golden test. The long tail is declarative
(handler.mappings): entries of the built-in file and of an organisation's file, compiled once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from handler.alert import MapResult
from handler.envelope import Envelope
from handler.mappers.registry import ANY_DETAIL_TYPE, ANY_SOURCE, Mapper, map_envelope, registered_keys

FAMILY_MODULES: tuple[str, ...] = (
    "cloudtrail",
    "signin",
    "organizations",
    "controltower",
    "ec2",
    "ebs",
    "guardduty",
    "securityhub",
    "config",
    "health",
    "inspector",
    "macie",
    "access_analyzer",
    "autoscaling",
    "ecs",
    "codepipeline",
    "rds",
    "kms",
    "backup",
    "cloudwatch",
    "stepfunctions",
    "coverage",
    "test_event",
)

for _name in FAMILY_MODULES:
    importlib.import_module(f"handler.mappers.{_name}")


# Imported here, once the families are: an import statement inside map_event would run the import
# machinery on every event.
from handler.mappers.generic import generic  # noqa: E402

if TYPE_CHECKING:
    from handler.mappings import MappingTable

EventMapper = Callable[[Envelope], MapResult]
_builtin: MappingTable | None = None


def builtin_mappings() -> MappingTable:
    """The built-in declarative table, compiled on first use (the runtime asks for it at cold start).

    Not at import: handler.mappings reads helpers of this package, so importing it from here would
    be circular."""
    global _builtin  # noqa: PLW0603 -- one compiled table per process is the point
    if _builtin is None:
        from handler.mappings import load_builtin

        _builtin = load_builtin()
    return _builtin


def _builtin_find(envelope: Envelope) -> Mapper | None:
    return builtin_mappings().find(envelope)


def map_event(envelope: Envelope) -> MapResult:
    """Hand-written mappers, then the built-in declarative entries, then the generic mapping."""
    return map_envelope(envelope, generic, _builtin_find)


def event_mapper(mappings: MappingTable) -> EventMapper:
    """map_event with `mappings` (the built-in table overridden by an organisation's file)."""
    find = mappings.find

    def map_with(envelope: Envelope) -> MapResult:
        return map_envelope(envelope, generic, find)

    return map_with


def handwritten_pairs(mappings: MappingTable) -> list[tuple[str, str]]:
    """The pairs of `mappings` a hand-written mapper already owns (their entries would never apply)."""
    owned = set(registered_keys())
    return [
        (source, detail_type)
        for source, detail_type in mappings.pairs()
        if (source, detail_type) in owned
        or (ANY_SOURCE, detail_type) in owned
        or (source, ANY_DETAIL_TYPE) in owned
    ]


def with_organisation(organisation: MappingTable, origin: str) -> MappingTable:
    """The built-in table overridden by an organisation's file. Refuses entries a hand-written
    mapper would shadow: they would never be used, silently."""
    from handler.mappings import MappingsError

    shadowed = handwritten_pairs(organisation)
    if shadowed:
        names = "; ".join(f"{source} / {detail_type}" for source, detail_type in shadowed)
        raise MappingsError(
            f"{origin}: {names}: mapped by a built-in Python mapper, which comes before any file's "
            "entries; these entries would never be used"
        )
    return builtin_mappings().overridden_by(organisation)
