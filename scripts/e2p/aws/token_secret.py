"""Putting the Panther token into the central secret, without it ever reaching a log or an argv.

The token is read from a file, stdin, or a hidden prompt; it is checked with the handler's own
rule (printable ASCII, no spaces) so a token the function would refuse is never stored; and it is
written only when it is not the current version already (`put_token`), so a repeated deploy
changes nothing. The CLI never reads the value back: the secret's policy lets only the function.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Any, Final, TextIO

import click

from e2p.console.results import Outcome
from e2p.exceptions import SettingsError, TokenWriteError
from handler.exceptions import TokenUnavailableError
from handler.token import usable_token

CURRENT: Final = "AWSCURRENT"


def readable_by_others(path: Path) -> bool:
    """True when a POSIX file's mode lets its group or anyone else read or change it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.name == "posix" and bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _checked(raw: str, source: str) -> str:
    try:
        return usable_token(raw, source)
    except TokenUnavailableError as exc:
        raise SettingsError("token", str(exc)) from exc


def read_token(
    token_file: Path | None, from_stdin: bool, stdin: TextIO | None = None, prompt: bool = False
) -> str | None:
    """The token from the chosen source, or None when none was given (the secret is left as it is)."""
    if token_file is not None and from_stdin:
        raise SettingsError("token", "give --token-file or --token-stdin, not both")
    if token_file is not None:
        try:
            return _checked(token_file.read_text(encoding="utf-8"), f"--token-file {token_file}")
        except OSError as exc:
            raise SettingsError("token", f"cannot read {token_file}: {exc.strerror or exc}") from exc
    if from_stdin:
        return _checked((stdin or sys.stdin).read(), "--token-stdin")
    if prompt:
        entered = click.prompt(
            "Panther API token (input hidden; leave empty to keep the current one)",
            default="",
            hide_input=True,
            show_default=False,
            err=True,
        )
        return _checked(entered, "the prompt") if entered.strip() else None
    return None


def token_version_id(secret_arn: str, token: str) -> str:
    """The secret version id this token gets: derived from the token, so a repeated deploy finds it
    without reading the value (only the function may read it).

    A keyed SHA-256 (key: the secret's ARN) cut to a UUID's 122 bits: it reveals nothing usable about
    a Panther API token, which is a long random string, not a password one could guess."""
    digest = hmac.new(secret_arn.encode(), token.encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _current_version(secrets: Any, secret_id: str) -> str | None:
    stages = secrets.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
    return next((version for version, labels in stages.items() if CURRENT in labels), None)


def put_token(secrets: Any, secret_id: str, token: str) -> Outcome:
    """Make `token` the secret's current value; UNCHANGED when it already is.

    Reads versions (DescribeSecret), never the value: the secret's resource policy lets only the
    function read it. PutSecretValue with the derived ClientRequestToken is idempotent (Secrets
    Manager ignores a repeat with the same value), and when that version exists already but is not
    current (the token was rotated away and back) it is ignored too, so the current label is moved
    to it explicitly. Then the version is read back: anything but this version current is an error.
    """
    version = token_version_id(secret_id, token)
    if _current_version(secrets, secret_id) == version:
        return Outcome.UNCHANGED
    written = secrets.put_secret_value(SecretId=secret_id, SecretString=token, ClientRequestToken=version)
    current = _current_version(secrets, secret_id)
    if current != version:
        secrets.update_secret_version_stage(
            SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=version, RemoveFromVersionId=current
        )
        current = _current_version(secrets, secret_id)
    if current != version or written.get("VersionId") != version:
        raise TokenWriteError(
            f"{secret_id}: the token was written as version {written.get('VersionId')} but the current "
            f"version is {current}"
        )
    return Outcome.UPDATED
