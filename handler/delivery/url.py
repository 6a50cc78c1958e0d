"""The Panther URL, checked once at cold start so that a wrong value fails loudly and early."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from handler.exceptions import ConfigurationError

EVENT_PATHS: Final = ("/api/event/create", "/api/event/queue")
_EXAMPLE: Final = "https://<name>.app.panther.support/api/event/create"


def validate_panther_url(url: str, allow_insecure_http: bool) -> str:
    """The URL, stripped, or ConfigurationError saying what to fix.

    Error messages quote only the scheme, host and path: a URL with credentials or a query string
    may carry a secret.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise ConfigurationError(
            f"the Panther URL cannot be parsed ({exc}); expected e.g. {_EXAMPLE}"
        ) from exc
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"}:
        raise ConfigurationError(f"the Panther URL must start with https:// (e.g. {_EXAMPLE})")
    if scheme == "http" and not allow_insecure_http:
        raise ConfigurationError(
            "the Panther URL uses http://, which would send the API token in clear text: use https://, "
            "or allow insecure HTTP explicitly (local testing only)"
        )
    if not parts.hostname:
        raise ConfigurationError(f"the Panther URL has no host (e.g. {_EXAMPLE})")
    where = f"{scheme}://{parts.hostname}" + (f":{port}" if port else "")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"the Panther URL for {where} embeds credentials: remove them, the token is read from its secret"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"the Panther URL for {where} has a query string or fragment: remove it, Panther reads the "
            "token only from the X-Api-Token header"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(EVENT_PATHS):
        # The path is not quoted: an operator who pasted the token into it must not see it logged.
        raise ConfigurationError(
            f"the Panther URL for {where} must end with {EVENT_PATHS[0]} (or {EVENT_PATHS[1]}): "
            f"e.g. {where}{EVENT_PATHS[0]}"
        )
    return text
