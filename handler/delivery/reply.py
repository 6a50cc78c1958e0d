"""Panther's answer, reduced to the short text an operator needs (PANTHER-API.md, "Responses")."""

from __future__ import annotations

import json
from typing import Any, Final

from handler.message import clean_line, shorten

REASON_MAX_CHARS: Final = 200
# Panther's answer when its console rules drop an event on purpose.
DISCARDED_MESSAGE: Final = "Event discarded"


def panther_message(body: bytes) -> str:
    """The message in Panther's reply, short and on one line ("" when there is none).

    Panther answers `{"error": {"name": ..., "message": ...}}`, `{"error": ..., "message": ...}` or
    `{"message": ...}`; anything else (a proxy's HTML page) is reduced to its first characters.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        document: Any = json.loads(text)
    except ValueError:
        return shorten(clean_line(text), REASON_MAX_CHARS)
    return shorten(clean_line(_message_of(document)), REASON_MAX_CHARS)


def _message_of(document: Any) -> str:
    if not isinstance(document, dict):
        return str(document)
    error = document.get("error")
    if isinstance(error, dict):
        name = error.get("name")
        message = error.get("message") or document.get("message") or ""
        return f"{name}: {message}" if isinstance(name, str) and name else str(message)
    if isinstance(error, str) and error:
        return error
    message = document.get("message")
    return message if isinstance(message, str) else ""


def is_discarded(body: bytes) -> bool:
    """True for Panther's `{"message": "Event discarded"}` (its rules dropped the event on purpose)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return False
    if not isinstance(document, dict) or "error" in document:
        return False
    message = document.get("message")
    return isinstance(message, str) and message.strip().lower() == DISCARDED_MESSAGE.lower()
