"""A small, pure evaluator of IAM policy documents, enough for the decisions the local AWS makes.

AWS facts it rests on (IAM User Guide, policy evaluation logic and condition operators):
- an explicit Deny in any applicable statement wins; otherwise access needs an Allow
  (there is no implicit allow);
- Principal `"*"` / `{"AWS": "*"}` matches everyone; an account id or `arn:aws:iam::<id>:root`
  matches every principal of that account; a role ARN matches that role; `{"Service": ...}`
  matches an AWS service principal;
- Action and Resource values may use `*` and `?` wildcards, actions case-insensitively;
- conditions: every operator block must match (AND), within one key any value may match (OR);
  `ForAnyValue:` / `ForAllValues:` qualify multivalued keys such as `aws:PrincipalOrgPaths`;
  the `IfExists` suffix makes a missing key match; a missing key otherwise fails the condition
  (except under `ForAllValues:`).
Operators not listed in `_OPERATORS` never match, so an unknown condition denies rather than
grants (a local run must not be more permissive than AWS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True, slots=True)
class Request:
    """Who asks for what. `context` holds condition keys (lower-cased names)."""

    action: str
    resource: str
    principal_account: str | None = None
    principal_arn: str | None = None
    service: str | None = None
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


def load(document: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if document is None or document == "":
        return {}
    if isinstance(document, str):
        loaded = json.loads(document)
        return loaded if isinstance(loaded, dict) else {}
    return dict(document)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _account_of_principal(value: str) -> str | None:
    if re.fullmatch(r"\d{12}", value):
        return value
    match = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):root", value)
    return match.group(1) if match else None


def _aws_principal_matches(value: str, request: Request) -> bool:
    if value == "*":
        return True
    account = _account_of_principal(value)
    if account is not None and account == request.principal_account:
        return True
    return request.principal_arn is not None and value == request.principal_arn


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for kind, values in principal.items():
        for value in _as_list(values):
            if kind == "AWS" and _aws_principal_matches(str(value), request):
                return True
            if kind == "Service" and request.service is not None and value == request.service:
                return True
    return False


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_wildcard(str(a), action, True) for a in _as_list(statement["NotAction"]))
    return any(_wildcard(str(a), action, True) for a in _as_list(statement.get("Action")))


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_wildcard(str(r), resource) for r in _as_list(statement["NotResource"]))
    if "Resource" not in statement:
        # Resource policies may omit Resource: they apply to the resource they are attached to.
        return True
    return any(_wildcard(str(r), resource) for r in _as_list(statement["Resource"]))


Comparator = Callable[[str, str], bool]

_OPERATORS: dict[str, tuple[Comparator, bool]] = {
    # name: (comparison of one request value with one policy value, negated)
    "StringEquals": (lambda have, want: have == want, False),
    "StringNotEquals": (lambda have, want: have == want, True),
    "StringEqualsIgnoreCase": (lambda have, want: have.lower() == want.lower(), False),
    "StringLike": (lambda have, want: _wildcard(want, have), False),
    "StringNotLike": (lambda have, want: _wildcard(want, have), True),
    "ArnEquals": (lambda have, want: have == want, False),
    "ArnLike": (lambda have, want: _wildcard(want, have), False),
    "ArnNotEquals": (lambda have, want: have == want, True),
    "ArnNotLike": (lambda have, want: _wildcard(want, have), True),
}


def _condition_block_matches(operator: str, block: Mapping[str, Any], request: Request) -> bool:
    qualifier = ""
    name = operator
    if ":" in operator:
        qualifier, name = operator.split(":", 1)
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]
    if name not in _OPERATORS:
        return False
    compare, negated = _OPERATORS[name]
    for key, wanted in block.items():
        wanted_values = [str(w) for w in _as_list(wanted)]
        present = request.context.get(key.lower())
        if present is None:
            if if_exists or qualifier == "ForAllValues":
                continue
            # A negated operator on a missing key matches in IAM; the others fail.
            if negated:
                continue
            return False
        results = [_value_matches(compare, negated, str(have), wanted_values) for have in _as_list(present)]
        # Single-valued keys and ForAnyValue: any request value may satisfy the block.
        ok = all(results) if qualifier == "ForAllValues" else any(results)
        if not ok:
            return False
    return True


def _value_matches(compare: Comparator, negated: bool, have: str, wanted: list[str]) -> bool:
    hit = any(compare(have, w) for w in wanted)
    return not hit if negated else hit


def _conditions_match(statement: Mapping[str, Any], request: Request) -> bool:
    conditions = statement.get("Condition") or {}
    return all(_condition_block_matches(op, block, request) for op, block in conditions.items())


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request, *, check_principal: bool) -> Decision:
    """Evaluate resource policies (`check_principal=True`) or identity policies (False)."""
    allowed = False
    for document in documents:
        for statement in statements(document):
            if check_principal and not _principal_matches(statement.get("Principal"), request):
                continue
            if not _action_matches(statement, request.action):
                continue
            if not _resource_matches(statement, request.resource):
                continue
            if not _conditions_match(statement, request):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
