"""Summaries that stay the same for the same condition.

Panther aggregates alerts on `node:severity:summary`: a summary that carries a timestamp, a request
id or any other per-occurrence value creates a new alert every time instead of raising a tally.
Every family builds its summary from stable parts and passes it through `stable()` as a last guard.
"""

from __future__ import annotations

import re
from typing import Final

SUMMARY_LIMIT: Final = 300
ID_PLACEHOLDER: Final = "<id>"
ELLIPSIS: Final = "…"

# UUID-shaped ids; letters beyond hex too, as in documented placeholders ("xxxxxxxx-xxxx-...").
_UUID = re.compile(r"\b[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}\b")
_ISO_TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b|"
    r"\b\d{4}-\d{2}-\d{2}\b"
)
_VOLATILE = re.compile(f"{_UUID.pattern}|{_ISO_TIME.pattern}")
# A bare measurement ("2%", "9.72 GB", "3 out of 5"), not part of a name such as "db-2" or "RDS-EVENT-0049".
_NUMBER = re.compile(r"(?<![\w.-])\d+(?:[.,]\d+)*(?![\w-])")


def one_line(text: str) -> str:
    if not text.isprintable():  # rare: only then is the character-by-character pass needed
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    # str.split() splits on exactly the characters a regex `\s+` matches, and strips the ends.
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def looks_volatile(token: str) -> bool:
    """A UUID, a timestamp or a long run of digits: a value that differs on every occurrence."""
    return bool(_UUID.search(token) or _ISO_TIME.search(token) or re.search(r"\d{6,}", token))


def mask_ids(text: str) -> str:
    """UUIDs replaced by a placeholder: a UUID in a summary is either volatile or already in the node."""
    return _UUID.sub(ID_PLACEHOLDER, text)


def mask_numbers(text: str) -> str:
    """Measurements replaced by '#', for service messages that embed the current value (free storage...)."""
    return _NUMBER.sub("#", text)


def stable(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line, no UUIDs, no ISO timestamps, at most `limit` characters."""
    cleaned = one_line(text)
    # UUIDs and ISO dates both have a "-": most summaries skip the scan, and most of the others
    # hold neither (a resource name has a "-"): one search then spares the two substitutions.
    if "-" in cleaned and _VOLATILE.search(cleaned):
        cleaned = " ".join(_ISO_TIME.sub("", mask_ids(cleaned)).split())
    return shorten(cleaned.rstrip(":,;").strip(), limit)


def has_uuid(text: str) -> bool:
    return bool(_UUID.search(text))
