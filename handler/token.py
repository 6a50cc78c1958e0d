"""The Panther API token, read from Secrets Manager or SSM and cached for a bounded time.

The cache has a TTL so that a rotated token is picked up without a cold start, and `invalidate()`
lets the delivery client drop it at once after Panther answers 401 (the token was rotated under us).
The token value never appears in an exception, a log line or a repr.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from handler.exceptions import TokenUnavailableError

# A JSON secret keeps the token under this key (the shape the Secrets Manager console writes).
JSON_TOKEN_KEY: Final = "token"  # noqa: S105 -- a key name, not a credential
# Printable ASCII without space: anything else cannot travel in an HTTP header unaltered, and
# an HTTP library's invalid-header error would echo the whole header value (the token).
_TOKEN_MIN_CHAR: Final = 0x21
_TOKEN_MAX_CHAR: Final = 0x7E
_AWS_ERROR_MAX_CHARS: Final = 300


class TokenProvider(Protocol):
    def get(self) -> str: ...

    def invalidate(self) -> None: ...


class SecretsManagerReader(Protocol):
    """The one Secrets Manager call used; a boto3 `secretsmanager` client satisfies it."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...


class ParameterReader(Protocol):
    """The one SSM call used; a boto3 `ssm` client satisfies it."""

    def get_parameter(self, *, Name: str, WithDecryption: bool) -> Mapping[str, Any]: ...


def aws_error_text(exc: ClientError | BotoCoreError) -> str:
    """The error code and message of a failed AWS call (they name the resource, never its value)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error.get('Code', 'unknown')}: {error.get('Message', '')}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:_AWS_ERROR_MAX_CHARS]


def usable_token(raw: str, source: str) -> str:
    """`raw` without surrounding whitespace, or TokenUnavailableError (which never quotes the value)."""
    token = raw.strip()
    if not token or not all(_TOKEN_MIN_CHAR <= ord(ch) <= _TOKEN_MAX_CHAR for ch in token):
        raise TokenUnavailableError(
            f"{source} holds no usable token: it must be non-empty printable ASCII without spaces"
        )
    return token


def token_from_secret_string(secret_string: str, source: str) -> str:
    """A plain token, or a JSON object whose "token" key holds it."""
    text = secret_string.strip()
    if not text.startswith("{"):
        return usable_token(text, source)
    try:
        document = json.loads(text)
    except ValueError:
        # Not chained on purpose: JSONDecodeError keeps the whole secret text in its `doc` attribute,
        # and a traceback formatter or structured logger could print it.
        raise TokenUnavailableError(f"{source} looks like JSON but does not parse") from None
    value = document.get(JSON_TOKEN_KEY) if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise TokenUnavailableError(f"{source} is a JSON object without a string '{JSON_TOKEN_KEY}' key")
    return usable_token(value, source)


class CachedToken(ABC):
    """The TTL cache shared by the providers; subclasses say how to fetch and what to call the source."""

    def __init__(self, max_age_s: float, clock: Callable[[], float]) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        # Delivery workers call get() concurrently: one fetch at a time, the others wait for its result.
        self._lock = threading.Lock()
        self._value: str | None = None
        self._fetched_at = 0.0

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if self._value is None or now - self._fetched_at >= self._max_age_s:
                self._value = self._fetch()
                self._fetched_at = now
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None

    @abstractmethod
    def _fetch(self) -> str: ...

    @abstractmethod
    def _describe(self) -> str: ...

    def __repr__(self) -> str:
        # Deliberately not the value: a repr ends up in logs, tracebacks and debugger output.
        cached = self._value is not None
        return f"{type(self).__name__}({self._describe()}, max_age_s={self._max_age_s}, cached={cached})"


class SecretsManagerToken(CachedToken):
    """The token in a Secrets Manager secret's SecretString (plain, or JSON {"token": ...})."""

    def __init__(
        self,
        client: SecretsManagerReader,
        secret_id: str,
        max_age_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_age_s, clock)
        self._client = client
        self._secret_id = secret_id

    def _describe(self) -> str:
        return f"secret_id={self._secret_id!r}"

    def _fetch(self) -> str:
        source = f"secret {self._secret_id!r}"
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id)
        except (ClientError, BotoCoreError) as exc:
            raise TokenUnavailableError(f"cannot read {source}: {aws_error_text(exc)}") from exc
        secret_string = response.get("SecretString")
        if not isinstance(secret_string, str):
            raise TokenUnavailableError(f"{source} has no SecretString (binary secrets are not supported)")
        return token_from_secret_string(secret_string, source)


class SsmParameterToken(CachedToken):
    """The token in an SSM parameter, normally a SecureString (read with decryption)."""

    def __init__(
        self,
        client: ParameterReader,
        name: str,
        max_age_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_age_s, clock)
        self._client = client
        self._name = name

    def _describe(self) -> str:
        return f"name={self._name!r}"

    def _fetch(self) -> str:
        source = f"parameter {self._name!r}"
        try:
            response = self._client.get_parameter(Name=self._name, WithDecryption=True)
        except (ClientError, BotoCoreError) as exc:
            raise TokenUnavailableError(f"cannot read {source}: {aws_error_text(exc)}") from exc
        parameter = response.get("Parameter")
        value = parameter.get("Value") if isinstance(parameter, Mapping) else None
        if not isinstance(value, str):
            raise TokenUnavailableError(f"{source} has no value")
        return usable_token(value, source)
