"""The Panther event as sent, and the rules that keep it acceptable to Panther.

Panther refuses a body over 4,096 bytes, reserved field names, and non-string extra fields
(PANTHER-API.md). Every message leaves through `PantherMessage.body()`, which is guaranteed to fit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final

import orjson

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
# Extra fields never shortened while fitting, dropped only after the summary and identifier gave way:
# without them an operator cannot find the event; external_id is also a column the console stores.
PROTECTED_FIELDS: Final = frozenset(
    {"account_id", "region", "source", "detail_type", "event_id", "external_id"}
)
# Below this many characters a summary, identifier or node is not halved further while fitting.
SHRINK_FLOOR_CHARS: Final = 64
# An extra field value this short is not worth halving: dropping the field makes more room.
FIELD_FLOOR_CHARS: Final = 16
IDENTIFIER_MAX_CHARS: Final = 1024
# Field names come from the mappers and the configured tag keys: a few dozen distinct ones.
_FIELD_NAME_CACHE: Final = 1024
_HAS_VALUE: Final = itemgetter(1)
# Extra-field names already found not reserved (at most _FIELD_NAME_CACHE of them).
_ACCEPTED_NAMES: Final[set[str]] = set()
# The rare bodies orjson cannot encode (see encode_body) go through the standard library.
# One encoder for them: json.dumps would build a new one per call for these options.
_BODY_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


def _line(text: str, limit: int) -> str:
    """shorten(clean_line(text), limit) in one call (three per message: calls are what costs here)."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


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
        return fitted_message(
            self.node,
            self.summary,
            self.severity,
            self.tag,
            identifier=self.identifier,
            fields=dict(self.fields),
        )


def fitted_message(
    node: str, summary: str, severity: int, tag: str, *, identifier: str | None, fields: dict[str, str]
) -> PantherMessage:
    """The message Panther accepts for these parts: node, summary and tag on one printable line,
    no empty or reserved extra field, every text within its limit, and the body within Panther's
    limit (the least useful text shortened first).

    `fields` becomes the message's own when it needs no change: the caller must not change it
    afterwards. Built once per message (compose calls this directly, without a first unfitted copy).
    """
    # Each check runs over the whole dict in C; the rebuilds are rare, except dropping the
    # empty context fields (an account without alias, an envelope without time).
    if not _names_accepted(fields):
        fields = {name: value for name, value in fields.items() if not is_reserved_field(name)}
    # Extra fields carry event values (a resource name, a user agent) to the console: the same line
    # cleaning as the summary, so no control or bidi character (U+202E...) reaches it. One C pass
    # over all values finds the rare message that needs it.
    if fields and not "".join(fields.values()).isprintable():
        fields = {name: value if value.isprintable() else clean_line(value) for name, value in fields.items()}
    if not all(fields.values()):
        fields = dict(filter(_HAS_VALUE, fields.items()))  # filter + itemgetter: a loop in C
    if fields and max(map(len, fields.values())) > FIELD_MAX_CHARS:
        fields = {name: shorten(value, FIELD_MAX_CHARS) for name, value in fields.items()}
    message = PantherMessage(
        node=_line(node, NODE_MAX_CHARS) or "unknown",
        summary=_line(summary, SUMMARY_MAX_CHARS) or "(no summary)",
        severity=severity,
        tag=_line(tag, FIELD_MAX_CHARS),
        identifier=shorten(identifier, IDENTIFIER_MAX_CHARS) if identifier else None,
        fields=fields,
    )
    while len(message.body()) > PANTHER_MAX_BODY_BYTES:
        message = _shrink_once(message)
    return message


def _names_accepted(names: Iterable[str]) -> bool:
    """No reserved name among `names`: one set operation once each name has been seen (a loop
    over the names in Python, calling is_reserved_field, would cost more than encoding the body)."""
    if _ACCEPTED_NAMES.issuperset(names):
        return True
    unseen = [name for name in names if name not in _ACCEPTED_NAMES]
    if any(is_reserved_field(name) for name in unseen):
        return False
    if len(_ACCEPTED_NAMES) + len(unseen) <= _FIELD_NAME_CACHE:
        _ACCEPTED_NAMES.update(unseen)
    return True


def encode_body(event: dict[str, Any]) -> bytes:
    """`{"event": event}` as compact UTF-8 JSON, non-ASCII characters unescaped.

    orjson writes byte for byte what `_BODY_ENCODER` writes, several times faster (a test compares
    them over every character). It refuses one thing a body can hold: a lone surrogate, which an
    event's JSON can carry as a "\\ud800" escape and which UTF-8 cannot encode. Such a body goes
    through the standard library with each lone surrogate replaced by U+FFFD, so that body() never
    raises and fitted() measures the bytes really sent.
    """
    try:
        # Copied once: orjson shrinks its growing buffer in place, and the allocator keeps the
        # slack behind each body the batch holds until its end (measured: +68 MB at the peak of
        # a 10,000-record batch, e2p bench's peak_rss_mb; 96 MB with the copy).
        return bytes(memoryview(orjson.dumps({"event": event})))
    except orjson.JSONEncodeError:
        text = _BODY_ENCODER.encode({"event": event})
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def _utf8_size(text: str) -> int:
    # surrogatepass: a lone surrogate (possible in an event's JSON) weighs what its U+FFFD does.
    return len(text.encode("utf-8", "surrogatepass"))


def _shrink_once(message: PantherMessage) -> PantherMessage:  # noqa: PLR0911 -- one return per step
    """One step of giving way, least needed first (README, "Size"): unprotected extra fields (only
    the console's rules see them; halved, then dropped), the summary, the identifier, the
    protected extra fields, and only then the node and the tag (never reached within the limits:
    a node, tag, summary and identifier at their floors fit). Always makes progress."""
    fields = message.fields
    unprotected = [n for n in fields if n not in PROTECTED_FIELDS]
    shrinkable = [n for n in unprotected if len(fields[n]) > FIELD_FLOOR_CHARS]
    if shrinkable:
        name = max(shrinkable, key=lambda n: _utf8_size(fields[n]))
        return replace(message, fields={**fields, name: shorten(fields[name], len(fields[name]) // 2)})
    if unprotected:
        # Many short fields (account tags under long keys): the heaviest name and value go first.
        name = max(unprotected, key=lambda n: _utf8_size(n) + _utf8_size(fields[n]))
        return replace(message, fields={n: v for n, v in fields.items() if n != name})
    if len(message.summary) > SHRINK_FLOOR_CHARS:
        return replace(message, summary=shorten(message.summary, len(message.summary) // 2))
    if message.identifier and len(message.identifier) > SHRINK_FLOOR_CHARS:
        return replace(message, identifier=shorten(message.identifier, len(message.identifier) // 2))
    if fields:
        name = max(fields, key=lambda n: _utf8_size(n) + _utf8_size(fields[n]))
        return replace(message, fields={n: v for n, v in fields.items() if n != name})
    if len(message.node) > SHRINK_FLOOR_CHARS:
        return replace(message, node=shorten(message.node, len(message.node) // 2))
    return replace(message, tag=shorten(message.tag, len(message.tag) // 2))
