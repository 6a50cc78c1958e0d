"""Narrow exceptions of the handler. Every one derives from Events2PantherError."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


def aws_error_code(exc: ClientError, default: str = "") -> str:
    """The error code of a failed AWS call (AccessDenied, NoSuchKey, 304...); `default` when none."""
    return str(exc.response.get("Error", {}).get("Code", default))


class Events2PantherError(Exception):
    """Base class of everything this package raises on purpose."""


class ConfigurationError(Events2PantherError):
    """The function's configuration is unusable; raised at cold start so it fails loudly."""


class InvalidEnvelopeError(Events2PantherError):
    """A record body is not a usable EventBridge envelope. The message says why."""


class MappingError(Events2PantherError):
    """A registered mapper could not read an envelope it claimed; the generic mapping takes over."""


class TokenUnavailableError(Events2PantherError):
    """The Panther API token could not be read from Secrets Manager or SSM."""


class AccountLookupError(Events2PantherError):
    """Account details could not be read (Organizations, the lookup role, or the accounts file)."""


class DeadLetterError(Events2PantherError):
    """A record could not be written to the dead-letter queue."""
