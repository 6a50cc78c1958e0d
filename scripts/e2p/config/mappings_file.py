"""An organisation's mappings file, read and validated before anything is deployed or mapped.

The operator writes YAML (or JSON); it is compiled exactly as the function compiles it (so every
malformed entry is refused here, with the file, entry and key named, before a deploy), checked
against the hand-written mappers (an entry they would shadow is refused), and stored for the
function as canonical JSON: the function parses JSON only (no PyYAML in the Lambda zip).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from handler.mappers import with_organisation
from handler.mappings import MappingsError, MappingTable, compile_document, parse_document

# What the function reads at cold start is bounded: a file this large is no longer "a few hundred
# entries" and would cost every cold start its parse.
MAX_FILE_BYTES: Final = 1024 * 1024
# EventBridge's limit on one event pattern (the member rule's EventPattern parameter says so too).
PATTERN_MAX_CHARS: Final = 2048


@dataclass(frozen=True, slots=True)
class MappingsFile:
    path: Path
    table: MappingTable  # the built-in table overridden by this file
    organisation_entries: int
    document_json: bytes  # what the function reads (canonical JSON of the operator's file)
    sources: tuple[str, ...] = ()  # the sources the file maps, sorted

    @property
    def custom_sources(self) -> tuple[str, ...]:
        """Sources that are not AWS's ("aws." is reserved to AWS services): the default member
        pattern does not forward them, the operator's pattern must (see admit_sources)."""
        return tuple(source for source in self.sources if not source.startswith("aws."))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document_json).hexdigest()


def read_mappings_file(path: Path) -> MappingsFile:
    """Raises MappingsError (file, entry and key named) for anything the function would refuse."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingsError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise MappingsError(f"{path}: {len(raw)} bytes; a mappings file is at most {MAX_FILE_BYTES} bytes")
    document = parse_document(raw, path.name)
    organisation = compile_document(document, path.name)
    table = with_organisation(organisation, path.name)
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=False, separators=(",", ":")).encode()
    sources = tuple(sorted({source for source, _ in organisation.pairs()}))
    return MappingsFile(path, table, len(organisation), canonical, sources)


def admit_sources(pattern_json: str, sources: tuple[str, ...]) -> str:
    """The member event pattern with one more `$or` branch forwarding `sources` (an organisation's
    own events). The documented way to admit custom sources: the member stacks forward only what
    their pattern matches, and the default one takes AWS sources only."""
    pattern = json.loads(pattern_json)
    if not sources:
        return pattern_json
    branches = pattern["$or"] if set(pattern) == {"$or"} else [pattern]
    extended = json.dumps({"$or": [*branches, {"source": list(sources)}]}, separators=(",", ":"))
    if len(extended) > PATTERN_MAX_CHARS:
        raise MappingsError(
            f"the member pattern with a branch for {', '.join(sources)} is {len(extended)} characters, "
            f"EventBridge allows {PATTERN_MAX_CHARS}: admit them with a prefix branch instead "
            '(e.g. {"source":[{"prefix":"com.example."}]}) in member.event_pattern_file'
        )
    return extended
