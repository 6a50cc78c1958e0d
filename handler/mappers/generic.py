"""The mapping for every envelope no family mapper claims (or whose mapper failed).

It must give a useful, stable message for ANY well-formed envelope and never raise: it is the last
resort of the registry. It reads only the envelope's own words: the service (from `source`), the
detail-type, salient state/status words of the detail, and the first resource (else a name the
detail gives, such as jobName), without the per-run ids (build, execution or job-run ids, UUIDs) that
would make every occurrence a new Panther alert.
Severity: INDETERMINATE; MINOR when the detail-type or a salient word says failure (FAILED, ERROR,
ABORTED, TIMED_OUT...); WARNING when a salient word says WARN/WARNING. Tag: the detail-type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.stable_text import looks_volatile, stable
from handler.severity import Severity

# Detail keys whose short values say what happened, in the order they are shown.
SALIENT_KEYS: Final = (
    "state",
    "status",
    "State",
    "Status",
    "lastStatus",
    "build-status",
    "jobStatus",
    "scan-status",
    "eventName",
    "event",
    "result",
    "outcome",
)
# When a salient key holds an object (CloudWatch's state: {value: ...}), the word is one of these.
NESTED_WORD_KEYS: Final = ("value", "status", "state", "code", "name")
MAX_WORDS: Final = 3
UNNAMED: Final = "unnamed event"
_WORD = re.compile(r"^[A-Za-z][\w .:/-]{0,47}$")
_FAILURE = re.compile(r"(?:^|_)(FAILED|FAILURE|FAILING|ERROR|ERRORED|ABORTED|TIMED_OUT|TIMEOUT)(?:_|$)")
_WARNING = re.compile(r"(?:^|_)(WARN|WARNING)(?:_|$)")


def _normalised(word: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", word.upper())


def says_failure(word: str) -> bool:
    """FAILED, Failed, TIMED_OUT, "EC2 Fleet Error"...: the event itself says something went wrong."""
    return bool(_FAILURE.search(_normalised(word)))


def says_warning(word: str) -> bool:
    return bool(_WARNING.search(_normalised(word)))


def _word(value: Any) -> str:
    if isinstance(value, Mapping):
        value = next((value[k] for k in NESTED_WORD_KEYS if jv.text(value.get(k))), None)
    word = jv.text(value)
    if not _WORD.match(word) or looks_volatile(word):
        return ""
    return word


def salient_words(detail: Mapping[str, Any]) -> list[str]:
    words: list[str] = []
    for key in SALIENT_KEYS:
        word = _word(detail.get(key))
        if word and word not in words:
            words.append(word)
        if len(words) == MAX_WORDS:
            break
    return words


def detail_name(detail: Mapping[str, Any]) -> str:
    """A name the detail gives its subject (jobName, crawlerName...) when `resources` is empty."""
    for key, value in detail.items():
        if key.endswith(("Name", "name")) and key not in SALIENT_KEYS:
            word = _word(value)
            if word:
                return word
    return ""


_ID_SEPARATORS = re.compile(r"([:/])")


def without_run_ids(name: str) -> str:
    """`name` without its trailing per-run parts: `my-project:8745a7a9-...` -> `my-project`,
    `jr_6aa5...` (a Glue job run id) -> "". A name that is only an id gives "" (the node is then
    the account and region), so repeats of the same condition aggregate."""
    parts = _ID_SEPARATORS.split(name)
    while parts and (looks_volatile(parts[-1]) or _RUN_ID.match(parts[-1]) or parts[-1] in (":", "/")):
        parts.pop()
    return "".join(parts)


# Run ids AWS writes without a UUID: Glue job runs (jr_<64 hex>), long hex digests.
_RUN_ID = re.compile(r"^(?:jr_)?[0-9a-fA-F]{24,}$")


def service_name(source: str) -> str:
    return source.removeprefix("aws.") or source


def generic(envelope: Envelope) -> Sequence[Alert] | Filtered:
    service = service_name(envelope.source)
    detail_type = envelope.detail_type
    head = detail_type
    if service.lower().replace("-", "") not in detail_type.lower().replace(" ", "").replace("-", ""):
        head = f"{service}: {detail_type}"
    words = salient_words(envelope.detail)
    summary = f"{head}: {' '.join(words)}" if words else head

    failed = says_failure(detail_type) or any(says_failure(word) for word in words)
    warned = any(says_warning(word) for word in words)
    severity = Severity.MINOR if failed else (Severity.WARNING if warned else Severity.INDETERMINATE)
    resource_full = envelope.resources[0] if envelope.resources else detail_name(envelope.detail)
    return [
        Alert(
            summary=stable(summary) or UNNAMED,
            severity=severity,
            tag=detail_type,
            resource=without_run_ids(short_name(resource_full)),
            resource_arn=resource_full,
            fields=jv.present({"state": words[0] if words else ""}),
        )
    ]
