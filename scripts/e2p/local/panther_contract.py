"""The Panther event API contract as pure functions: body decoding, token check, schema, replies.

Read from the real server (OpenAnswers/panther-core, `oa-event-monitors/lib/http`): an express app
with `body-parser.json({limit: 4096, strict: true})`, then the API-key check, then an ajv schema of
which only the first error is reported. The order matters and is kept here: an oversized or
unparsable body is refused before the token is even looked at.

Decisions where the contract text is silent:
- gzip/deflate bodies: body-parser inflates first and applies the 4,096-byte limit to the inflated
  bytes, so that is what happens here; a gzip body is never larger than what it inflates to by more
  than its ~20-byte header, so a client that fits the plain body fits either way.
- A Content-Type other than JSON is not parsed at all (body-parser skips it), so such a request
  reaches validation with an empty body and gets "no event".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

MAX_BODY_BYTES: Final = 4096
IDENTIFIER_MAX_CHARS: Final = 1024
DEFAULT_SEVERITY: Final = 1
MIN_SEVERITY: Final = 0
MAX_SEVERITY: Final = 5
CREATE_PATH: Final = "/api/event/create"
QUEUE_PATH: Final = "/api/event/queue"
EVENT_PATHS: Final = frozenset({CREATE_PATH, QUEUE_PATH})
# body-parser.json() parses only this media type; anything else leaves the body empty.
JSON_MEDIA_TYPE: Final = "application/json"
CORE_PROPERTIES: Final = ("node", "tag", "summary", "severity")
RESERVED_NAME: Final = re.compile(r"^(_*id|agent|group|tally|state_change|last_occurrence|first_occurrence)$")

# The server's oa-errors HttpError401 prefixes every detail with "Unauthorised ".
NO_KEY_HEADER_MESSAGE: Final = "Unauthorised No x-api-token header"
KEY_REFUSED_MESSAGE: Final = "Unauthorised API Key Authentication failed"
AUTH_SERVICE_MESSAGE: Final = "Unauthorised Auth service failed"
TOO_LARGE_MESSAGE: Final = "request entity too large"
NO_EVENT_MESSAGE: Final = "no event"
EVENT_TYPE_MESSAGE: Final = "event must be an object"
REQUIRED_MESSAGE: Final = "Fields required [node,summary]"
EXTRA_TYPE_MESSAGE: Final = "Must be of type string"
RESERVED_MESSAGE: Final = (
    "Fields not allowed [_id,id,agent,group,tally,state_change,last_occurrence,first_occurrence]"
)
SEVERITY_MESSAGE: Final = "Severity should be between 0 and 5"
DISCARDED_MESSAGE: Final = "Event discarded"
NEW_ALERT_MESSAGE: Final = "Saved new alert"
UPDATED_ALERT_MESSAGE: Final = "Existing alert updated"

_TEXT_RULES: Final = {
    # property: (message when not a string, message when empty or None if empty is allowed)
    "node": ("Node field should be a string", "Node field should have a value"),
    "tag": ("Tag field should be a string", None),
    "summary": ("Summary must be a string", "Summary field should have a value"),
}
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_IDENTITY: Final = "identity"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, JSON body, extra headers."""

    status: int
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the contract needs from one HTTP request (no other header is ever kept)."""

    path: str
    content_type: str | None
    content_encoding: str | None
    token: str | None = field(repr=False)
    body: bytes = field(repr=False)
    # The HTTP layer stopped reading a body far beyond the limit: refused without looking further.
    overflow: bool = False


class RefusedError(Exception):
    """The request is refused with `reply`; raised inside the pipeline, never out of the receiver."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def error_reply(
    message: str, *, name: str | None = None, error_type: str | None = None, status: int | None = None
) -> Mapping[str, Any]:
    """The body the server's final express error handler writes: only these four keys, when set."""
    error: dict[str, Any] = {"message": message}
    if name is not None:
        error["name"] = name
    if error_type is not None:
        error["type"] = error_type
    if status is not None:
        error["status"] = status
    return {"error": error}


def token_digest(token: str) -> bytes:
    """What the receiver keeps instead of the token: comparing digests is constant-time and length-blind."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def check_token(presented: str | None, expected_digest: bytes, *, auth_service_down: bool = False) -> None:
    """Refuse as the server does: no header, key service unreachable, or unknown key."""
    if not presented:
        raise RefusedError(Reply(401, error_reply(NO_KEY_HEADER_MESSAGE, name="HttpError401", status=401)))
    if auth_service_down:
        raise RefusedError(Reply(401, error_reply(AUTH_SERVICE_MESSAGE, name="HttpError401", status=401)))
    if not hmac.compare_digest(token_digest(presented), expected_digest):
        raise RefusedError(Reply(401, error_reply(KEY_REFUSED_MESSAGE, name="HttpError401", status=401)))


def parse_body(facts: RequestFacts) -> Any:
    """The parsed JSON body, as body-parser would give it to the app (an empty object when skipped)."""
    if facts.overflow:
        raise too_large()
    if not _is_json(facts.content_type):
        return {}
    text = inflate(facts.body, facts.content_encoding).decode("utf-8", errors="replace")
    if not text:
        return {}
    stripped = text.lstrip(" \t\n\r")
    # strict mode: only an object or an array is accepted at the top level.
    if not stripped.startswith(("{", "[")):
        first = stripped[:1] or "end of input"
        raise _parse_failure(f"Unexpected token {first!r} in JSON at position {len(text) - len(stripped)}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, _ConstantError) as exc:
        raise _parse_failure(str(exc)) from exc


def inflate(body: bytes, content_encoding: str | None) -> bytes:
    """The body after Content-Encoding, refused past the limit (counted on the inflated bytes)."""
    encoding = (content_encoding or _IDENTITY).strip().lower()
    if encoding == _IDENTITY:
        plain = body
    elif encoding in {"gzip", "deflate"}:
        wbits = _GZIP_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        try:
            # Inflate one byte past the limit only: enough to refuse, and no zip bomb.
            plain = inflater.decompress(body, MAX_BODY_BYTES + 1)
        except zlib.error as exc:
            raise RefusedError(Reply(400, error_reply(str(exc), name="Error", status=400))) from exc
        if len(plain) <= MAX_BODY_BYTES and not inflater.eof:
            raise RefusedError(Reply(400, error_reply("unexpected end of file", name="Error", status=400)))
    else:
        raise RefusedError(
            Reply(
                400,
                error_reply(
                    f'unsupported content encoding "{encoding}"',
                    name="UnsupportedMediaTypeError",
                    error_type="encoding.unsupported",
                    status=415,
                ),
            )
        )
    if len(plain) > MAX_BODY_BYTES:
        raise too_large()
    return plain


def too_large() -> RefusedError:
    # body-parser's 413 passes through an error handler that sets the HTTP code to 400.
    return RefusedError(
        Reply(
            400,
            error_reply(
                TOO_LARGE_MESSAGE, name="PayloadTooLargeError", error_type="entity.too.large", status=413
            ),
        )
    )


def first_validation_error(body: Any) -> str | None:
    """The one message the server reports for an invalid body, or None when the event is valid.

    The order follows ajv with ajv-errors: no event at all, then a non-object event, then the
    messages of the declared properties (node, tag, summary, severity), then reserved names, then the
    event-level ones (required, non-string extras), which ajv-errors appends last.
    """
    event = body.get("event") if isinstance(body, dict) else None
    if _is_js_falsy(event):
        return NO_EVENT_MESSAGE
    if not isinstance(event, dict):
        return EVENT_TYPE_MESSAGE
    for check in _EVENT_CHECKS:
        problem = check(event)
        if problem is not None:
            return problem
    return None


def _text_problem(event: Mapping[str, Any]) -> str | None:
    for name, (type_message, empty_message) in _TEXT_RULES.items():
        if name not in event:
            continue
        value = event[name]
        if not isinstance(value, str):
            return type_message
        if empty_message is not None and not value:
            return empty_message
    return None


def _severity_problem(event: Mapping[str, Any]) -> str | None:
    if "severity" in event and _severity(event["severity"]) is None:
        return SEVERITY_MESSAGE
    return None


def _reserved_problem(event: Mapping[str, Any]) -> str | None:
    return RESERVED_MESSAGE if any(RESERVED_NAME.match(name) for name in event) else None


def _required_problem(event: Mapping[str, Any]) -> str | None:
    return None if "node" in event and "summary" in event else REQUIRED_MESSAGE


def _extra_type_problem(event: Mapping[str, Any]) -> str | None:
    extras = (value for name, value in event.items() if name not in CORE_PROPERTIES)
    return None if all(isinstance(value, str) for value in extras) else EXTRA_TYPE_MESSAGE


_EVENT_CHECKS: Final = (
    _text_problem,
    _severity_problem,
    _reserved_problem,
    _required_problem,
    _extra_type_problem,
)


def normalise(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as the console's rules see it: severity defaulted, node lower-cased, identifier set."""
    normal = dict(event)
    severity = _severity(event.get("severity", DEFAULT_SEVERITY))
    normal["severity"] = DEFAULT_SEVERITY if severity is None else severity
    normal["node"] = str(event["node"]).lower()
    normal["identifier"] = alert_identifier(normal)
    return normal


def alert_identifier(event: Mapping[str, Any]) -> str:
    """The client's identifier (truncated) or the console's default template `{node}:{severity}:{summary}`."""
    client = event.get("identifier")
    if isinstance(client, str) and client:
        return client[:IDENTIFIER_MAX_CHARS]
    return f"{event['node']}:{event['severity']}:{event['summary']}"


def created_reply(alert: Mapping[str, Any], *, is_new: bool) -> Reply:
    message = NEW_ALERT_MESSAGE if is_new else UPDATED_ALERT_MESSAGE
    return Reply(200, {"status": "Created", "message": message, "event": dict(alert)})


def queued_reply() -> Reply:
    return Reply(200, {"status": "Queued"})


def discarded_reply() -> Reply:
    return Reply(400, {"message": DISCARDED_MESSAGE})


def validation_reply(message: str) -> Reply:
    return Reply(400, error_reply(message, name="ValidationError"))


def not_found_reply(method: str, path: str) -> Reply:
    return Reply(404, error_reply(f"Cannot {method} {path}", name="NotFoundError", status=404))


class _ConstantError(ValueError):
    """JSON.parse in the server refuses NaN and Infinity; Python's json would accept them."""


def _refuse_constant(name: str) -> Any:
    raise _ConstantError(f"Unexpected token {name[:1]!r} in JSON")


def _parse_failure(message: str) -> RefusedError:
    return RefusedError(
        Reply(400, error_reply(message, name="SyntaxError", error_type="entity.parse.failed", status=400))
    )


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


def _is_js_falsy(value: Any) -> bool:
    """`!req.body.event` in the server: an empty object or array is truthy there, unlike in Python."""
    if value is None or value is False or value == "":
        return True
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return is_number and (value == 0 or math.isnan(value))


def _severity(value: Any) -> int | None:
    """The severity as an int when the schema accepts it (JSON 3.0 is an integer to ajv), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and MIN_SEVERITY <= value <= MAX_SEVERITY:
        return value
    return None
