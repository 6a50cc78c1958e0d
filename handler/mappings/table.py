"""Compiled entries by (source, detail-type), and how an organisation's file overrides the built-in one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappings.entry import CompiledEntry

Mapper = Callable[[Envelope], Sequence[Alert] | Filtered]


@dataclass(frozen=True, slots=True)
class MappingTable:
    entries: Mapping[tuple[str, str], tuple[CompiledEntry, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[CompiledEntry]) -> MappingTable:
        grouped: dict[tuple[str, str], list[CompiledEntry]] = {}
        for entry in entries:
            grouped.setdefault((entry.source, entry.detail_type), []).append(entry)
        return cls({pair: tuple(group) for pair, group in grouped.items()})

    def get(self, source: str, detail_type: str) -> tuple[CompiledEntry, ...]:
        return self.entries.get((source, detail_type), ())

    def find(self, envelope: Envelope) -> Mapper | None:
        """The first entry of the envelope's pair whose pattern matches it, as a mapper; else None."""
        group = self.entries.get((envelope.source, envelope.detail_type))
        if group is None:
            return None
        for entry in group:
            if entry.match is None or entry.match(envelope.detail):
                return entry.run
        return None

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self.entries)

    def __len__(self) -> int:
        return sum(len(group) for group in self.entries.values())

    def overridden_by(self, organisation: MappingTable) -> MappingTable:
        """This table with every pair the organisation's file maps taken from that file alone: an
        organisation entry replaces the built-in entries of its pair (all of them, so what the
        file says for a pair is the whole truth for it)."""
        merged = dict(self.entries)
        merged.update(organisation.entries)
        return MappingTable(merged)
