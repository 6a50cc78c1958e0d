"""Validators for single config values: each returns the typed value or raises SettingsError(key).

Pure functions; the patterns are the ones the AWS APIs document for the identifiers concerned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from e2p.exceptions import SettingsError

ACCOUNT_ID: Final = re.compile(r"^\d{12}$")
ORGANIZATION_ID: Final = re.compile(r"^o-[a-z0-9]{10,32}$")
OU_ID: Final = re.compile(r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$")
ROOT_ID: Final = re.compile(r"^r-[a-z0-9]{4,32}$")
# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-4 ...
REGION: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
ROLE_ARN: Final = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_NAME: Final = re.compile(r"^[\w+=,.@-]{1,64}$")
STACK_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
STACK_SET_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
BUCKET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
EVENT_BUS_NAME: Final = re.compile(r"^[\w.-]{1,256}$")
# aws:PrincipalOrgPaths values: o-xxx/r-xxx/ou-xxx/... with a trailing slash or a wildcard.
ORG_PATH: Final = re.compile(
    r"^o-[a-z0-9]{10,32}/r-[a-z0-9]{4,32}(/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})*/(\*)?$"
)
TAG_KEY: Final = re.compile(r"^[\w.:/=+@ -]{1,128}$")
# The Panther event API paths (PANTHER-API.md); the central template's AllowedPattern says the same.
PANTHER_PATHS: Final = ("/api/event/create", "/api/event/queue")


def _type_name(value: Any) -> str:
    return type(value).__name__


def string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(key, f"expected a string, got {_type_name(value)}")
    if not value.strip():
        raise SettingsError(key, "must not be empty")
    return value


def matching(key: str, value: Any, pattern: re.Pattern[str], expected: str) -> str:
    text = string(key, value)
    if not pattern.fullmatch(text):
        raise SettingsError(key, f"expected {expected}, got {text!r}")
    return text


def account_id(key: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # A TOML integer loses leading zeros: refuse it rather than guess.
        raise SettingsError(key, "write the account id as a quoted string of 12 digits")
    return matching(key, value, ACCOUNT_ID, "a 12-digit AWS account id")


def organization_id(key: str, value: Any) -> str:
    return matching(key, value, ORGANIZATION_ID, "an organization id like o-abcd123456")


def organizational_unit_id(key: str, value: Any) -> str:
    text = string(key, value)
    if not (OU_ID.fullmatch(text) or ROOT_ID.fullmatch(text)):
        raise SettingsError(key, f"expected an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx), got {text!r}")
    return text


def region(key: str, value: Any) -> str:
    return matching(key, value, REGION, "an AWS region name like eu-west-1")


def role_arn(key: str, value: Any) -> str:
    return matching(key, value, ROLE_ARN, "an IAM role ARN like arn:aws:iam::123456789012:role/Name")


def role_name(key: str, value: Any) -> str:
    return matching(key, value, ROLE_NAME, "an IAM role name")


def stack_name(key: str, value: Any) -> str:
    return matching(key, value, STACK_NAME, "a CloudFormation stack name (letters, digits, hyphens)")


def stack_set_name(key: str, value: Any) -> str:
    return matching(key, value, STACK_SET_NAME, "a StackSet name (letters, digits, hyphens)")


def bucket_name(key: str, value: Any) -> str:
    return matching(
        key, value, BUCKET_NAME, "an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)"
    )


def event_bus_name(key: str, value: Any) -> str:
    return matching(key, value, EVENT_BUS_NAME, "an event bus name")


def org_path(key: str, value: Any) -> str:
    return matching(key, value, ORG_PATH, "an organization path like o-abcd123456/r-ab12/ou-ab12-abcd1234/")


def boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(key, f"expected true or false, got {value!r}")
    return value


def integer(key: str, value: Any, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(key, f"expected an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise SettingsError(key, f"expected an integer from {minimum} to {maximum}, got {value}")
    return value


def percentage(key: str, value: Any, minimum: int = 0) -> int:
    return integer(key, value, minimum, 100)


def one_of(key: str, value: Any, allowed: Sequence[str]) -> str:
    text = string(key, value)
    if text not in allowed:
        raise SettingsError(key, f"expected one of {', '.join(allowed)}, got {text!r}")
    return text


def string_list(key: str, value: Any, *, allow_empty: bool = True) -> list[Any]:
    if not isinstance(value, list):
        raise SettingsError(key, f"expected a list, got {_type_name(value)}")
    if not value and not allow_empty:
        raise SettingsError(key, "must list at least one value")
    if len(set(map(str, value))) != len(value):
        raise SettingsError(key, "lists a value more than once")
    return value


def panther_url(key: str, value: Any, allow_insecure_http: bool) -> str:
    """The Panther event endpoint: https (http only when explicitly allowed), the API path, no secrets."""
    text = string(key, value)
    parts = urlsplit(text)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        # Not quoted: a URL pasted with credentials or a token in it must not be printed.
        raise SettingsError(key, "expected a URL like https://panther.example.com/api/event/create")
    if parts.scheme == "http" and not allow_insecure_http:
        raise SettingsError(
            key,
            "uses http://, which would send the Panther token in clear text; use https:// "
            "(or set central.allow_insecure_http = true for a local test console only)",
        )
    if parts.path.rstrip("/") not in PANTHER_PATHS:
        # The path is not quoted either: an operator may have pasted the token into it.
        raise SettingsError(key, f"Panther takes events at {' or '.join(PANTHER_PATHS)} only")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(
            key, "must not carry a query, fragment or credentials (the token goes in a header)"
        )
    return text
