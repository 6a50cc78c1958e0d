"""The Panther event as sent, and the rules that keep it acceptable to Panther.

Panther refuses a body over 4,096 bytes, reserved field names, and non-string extra fields
(PANTHER-API.md). Every message leaves through `PantherMessage.body()`, which is guaranteed to fit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Final

from handler.constants import PANTHER_MAX_BODY_BYTES

SUMMARY_MAX_CHARS: Final = 400
NODE_MAX_CHARS: Final = 255
FIELD_MAX_CHARS: Final = 512
ELLIPSIS: Final = "…"

# Panther stores or computes these itself and refuses them from a client.
RESERVED_FIELDS: Final = frozenset(
    {"agent", "group", "tally", "state_change", "last_occurrence", "first_occurrence"}
)
_RESERVED_ID = re.compile(r"^_*id$")
# The columns of the event object itself; extras must not collide with them either.
CORE_FIELDS: Final = frozenset({"node", "tag", "summary", "severity", "identifier"})
# Extra fields never shortened while fitting: without them an operator cannot find the event.
PROTECTED_FIELDS: Final = frozenset({"account_id", "region", "source", "detail_type", "event_id"})
# Field names come from the mappers and the configured tag keys: a few dozen distinct ones.
_FIELD_NAME_CACHE: Final = 1024
# One encoder for every body: json.dumps would build a new one per call for these options.
_BODY_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=_FIELD_NAME_CACHE)
def is_reserved_field(name: str) -> bool:
    return name in RESERVED_FIELDS or name in CORE_FIELDS or bool(_RESERVED_ID.match(name))


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def clean_line(text: str) -> str:
    """One line of printable text: Panther shows a summary on a single row."""
    if not text.isprintable():  # rare: only then is the character-by-character pass needed
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class PantherMessage:
    node: str
    summary: str
    severity: int
    tag: str
    identifier: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    # body() once computed: fitted() encodes the body to check its size, and the pipeline sends
    # that same body. Not a field of the message (not compared, not copied by replace()).
    _body: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_event(self) -> dict[str, Any]:
        """The inner object Panther receives as `{"event": ...}`."""
        event: dict[str, Any] = {
            "node": self.node,
            "tag": self.tag,
            "summary": self.summary,
            "severity": self.severity,
        }
        if self.identifier:
            event["identifier"] = self.identifier
        event.update(self.fields)
        return event

    def body(self) -> bytes:
        """The exact request body, UTF-8, never over Panther's limit."""
        if self._body is None:
            # The instance is frozen and its fields dict is never changed once composed: the
            # memo, derived from the fields alone, cannot go stale.
            object.__setattr__(self, "_body", encode_body(self.to_event()))
        assert self._body is not None
        return self._body

    def fitted(self) -> PantherMessage:
        """A copy that fits Panther's body limit, shortening the least useful text first."""
        message = PantherMessage(
            node=shorten(clean_line(self.node), NODE_MAX_CHARS) or "unknown",
            summary=shorten(clean_line(self.summary), SUMMARY_MAX_CHARS) or "(no summary)",
            severity=self.severity,
            tag=shorten(clean_line(self.tag), FIELD_MAX_CHARS),
            identifier=shorten(self.identifier, 1024) if self.identifier else None,
            fields={
                name: value if len(value) <= FIELD_MAX_CHARS else shorten(value, FIELD_MAX_CHARS)
                for name, value in self.fields.items()
                if value and not is_reserved_field(name)
            },
        )
        while len(message.body()) > PANTHER_MAX_BODY_BYTES:
            message = _shrink_once(message)
        return message


def encode_body(event: dict[str, Any]) -> bytes:
    return _BODY_ENCODER.encode({"event": event}).encode("utf-8")


def _shrink_once(message: PantherMessage) -> PantherMessage:
    """Halve the longest shrinkable text. Always makes progress, so the caller's loop ends."""
    shrinkable = {n: v for n, v in message.fields.items() if n not in PROTECTED_FIELDS and len(v) > 16}
    if shrinkable:
        name = max(shrinkable, key=lambda n: len(shrinkable[n].encode()))
        value = shrinkable[name]
        return replace(message, fields={**message.fields, name: shorten(value, len(value) // 2)})
    if len(message.summary) > 64:
        return replace(message, summary=shorten(message.summary, len(message.summary) // 2))
    if message.identifier and len(message.identifier) > 64:
        return replace(message, identifier=shorten(message.identifier, len(message.identifier) // 2))
    if len(message.node) > 64:
        return replace(message, node=shorten(message.node, len(message.node) // 2))
    # Only protected fields are left long: drop the longest extra field entirely.
    if message.fields:
        name = max(message.fields, key=lambda n: len(message.fields[n].encode()))
        return replace(message, fields={n: v for n, v in message.fields.items() if n != name})
    return replace(message, tag=shorten(message.tag, len(message.tag) // 2))
